package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/callbrief/callbrief/store"
)

var _ store.PubSub = (*Store)(nil)

// scriptPublish numbers a message and publishes it in one step, so that
// the numbers arrive in order on every subscriber: "<number> <message>".
var scriptPublish = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], n .. ' ' .. ARGV[2])
return n`)

func seqKey(ch string) string { return ch + ":seq" }

// Publish implements store.PubSub.
func (s *Store) Publish(ctx context.Context, channel, msg string) error {
	ch, err := s.key(channel)
	if err != nil {
		return err
	}
	return s.wrap("publish", scriptPublish.Run(ctx, s.c, []string{seqKey(ch)}, ch, msg).Err())
}

// Subscribe implements store.PubSub on one dedicated connection. go-redis
// reconnects and subscribes again after a lost connection; each
// (re)subscription, each gap in the numbers and a channel number ahead of
// the last received (checked every store.SubscribeCheck) is passed on as a
// Resync.
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
	// Numbers from here on; read after subscribing, so none is missed
	// between the two.
	last, err := s.seq(ctx, ch)
	if err != nil {
		ps.Close()
		return nil, err
	}
	out := make(chan store.Message, 64)
	out <- store.Message{Resync: true}
	in := ps.ChannelWithSubscriptions(goredis.WithChannelSize(1024))
	go func() {
		defer close(out)
		defer ps.Close()
		check := time.NewTicker(store.SubscribeCheck)
		defer check.Stop()
		for {
			var msg store.Message
			select {
			case <-ctx.Done():
				return
			case <-check.C:
				n, err := s.seq(ctx, ch)
				if err != nil || n <= last {
					continue
				}
				// Published, and not received since the last check.
				last, msg.Resync = n, true
			case m, ok := <-in:
				if !ok {
					return
				}
				switch m := m.(type) {
				case *goredis.Subscription:
					if m.Kind != "subscribe" {
						continue
					}
					msg.Resync = true // subscribed again: whatever came meanwhile is lost
				case *goredis.Message:
					num, payload, _ := strings.Cut(m.Payload, " ")
					n, err := strconv.ParseInt(num, 10, 64)
					if err != nil {
						continue // not ours
					}
					msg.Payload = payload
					if n != last+1 {
						// A gap: some were lost. This one is still good.
						select {
						case out <- store.Message{Resync: true}:
						case <-ctx.Done():
							return
						}
					}
					last = n
				default:
					continue
				}
			}
			select {
			case out <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// seq is the channel's last number.
func (s *Store) seq(ctx context.Context, ch string) (int64, error) {
	n, err := s.c.Get(ctx, seqKey(ch)).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrap("subscribe", err)
	}
	return n, nil
}
