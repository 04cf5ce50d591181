package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	"github.com/callbrief/callbrief/store"
)

var _ store.PubSub = (*Store)(nil)

// Publish implements store.PubSub: PUBLISH on the prefixed channel.
func (s *Store) Publish(ctx context.Context, channel, msg string) error {
	ch, err := s.key(channel)
	if err != nil {
		return err
	}
	return s.wrap("publish", s.c.Publish(ctx, ch, msg).Err())
}

// Subscribe implements store.PubSub on one dedicated connection. go-redis
// reconnects and subscribes again after a lost connection; each
// (re)subscription is passed on as a Resync, since whatever was published
// meanwhile is lost.
func (s *Store) Subscribe(ctx context.Context, channel string) (<-chan store.Message, error) {
	ch, err := s.key(channel)
	if err != nil {
		return nil, err
	}
	ps := s.c.Subscribe(ctx, ch)
	// The first confirmation: the subscription is in place on the server.
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, s.wrap("subscribe", err)
	}
	out := make(chan store.Message, 64)
	out <- store.Message{Resync: true}
	in := ps.ChannelWithSubscriptions(goredis.WithChannelSize(1024))
	go func() {
		defer close(out)
		defer ps.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-in:
				if !ok {
					return
				}
				var msg store.Message
				switch m := m.(type) {
				case *goredis.Subscription:
					if m.Kind != "subscribe" {
						continue
					}
					msg.Resync = true
				case *goredis.Message:
					msg.Payload = m.Payload
				default:
					continue
				}
				select {
				case out <- msg:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
