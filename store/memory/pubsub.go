package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/callbrief/callbrief/store"
)

// PubSub is store.PubSub within one process.
type PubSub struct {
	mu   sync.Mutex
	subs map[string]map[*sub]struct{}
}

// subBuffer bounds the messages waiting for a slow subscriber; past it
// they are dropped and the subscriber told to resync, as Redis does with
// a client over its output buffer limit.
const subBuffer = 1024

type sub struct {
	ch     chan store.Message
	missed bool // a message was dropped: a Resync is owed
}

// NewPubSub returns an empty PubSub.
func NewPubSub() *PubSub { return &PubSub{subs: map[string]map[*sub]struct{}{}} }

var _ store.PubSub = (*PubSub)(nil)

// Publish implements store.PubSub. It never blocks on a subscriber.
func (p *PubSub) Publish(ctx context.Context, channel, msg string) error {
	if channel == "" {
		return fmt.Errorf("%w: empty channel", store.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for s := range p.subs[channel] {
		if s.missed {
			select {
			case s.ch <- store.Message{Resync: true}:
				s.missed = false
			default:
				continue
			}
		}
		select {
		case s.ch <- store.Message{Payload: msg}:
		default:
			s.missed = true
		}
	}
	return nil
}

// Subscribe implements store.PubSub.
func (p *PubSub) Subscribe(ctx context.Context, channel string) (<-chan store.Message, error) {
	if channel == "" {
		return nil, fmt.Errorf("%w: empty channel", store.ErrInvalid)
	}
	s := &sub{ch: make(chan store.Message, subBuffer)}
	s.ch <- store.Message{Resync: true}
	p.mu.Lock()
	if p.subs[channel] == nil {
		p.subs[channel] = map[*sub]struct{}{}
	}
	p.subs[channel][s] = struct{}{}
	p.mu.Unlock()
	out := make(chan store.Message)
	go func() {
		defer close(out)
		defer func() {
			p.mu.Lock()
			delete(p.subs[channel], s)
			p.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-s.ch:
				select {
				case out <- m:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
