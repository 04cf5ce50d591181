// Package inbox is what a caller sends in, as every ingress (WebRTC, SIP)
// hands it to the pipeline: 20 ms audio frames in a bounded queue and key
// presses, merged by Next with the call's end first, then keys, then
// audio, so that a hang-up or a key is never stuck behind queued audio.
//
// The network side pushes and never blocks; the pipeline reads.
package inbox

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/callbrief/callbrief/media"
)

// Kind tells the events of Next apart.
type Kind int

const (
	Audio Kind = iota + 1
	Key
)

// Event is one item from Next.
type Event struct {
	Kind  Kind
	Digit rune        // Key
	Frame media.Frame // Audio
}

// keyRoom is how many keys wait for the consumer: a person presses a few
// a second, so a consumer this far behind is stuck, not slow.
const keyRoom = 64

// Inbox holds one call's frames and keys until the pipeline takes them.
type Inbox struct {
	frames *media.FrameQueue
	ready  chan struct{} // a token after each frame pushed, for Next
	keys   chan rune
	log    *slog.Logger

	taken, dropped atomic.Uint64
}

// New makes an inbox holding up to frames frames (the oldest dropped past
// that, counted by the queue); log is the call's logger.
func New(frames int, log *slog.Logger) *Inbox {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Inbox{frames: media.NewFrameQueue(frames), ready: make(chan struct{}, 1), keys: make(chan rune, keyRoom), log: log}
}

// Frames is the audio queue, for consumers that read it directly.
func (b *Inbox) Frames() *media.FrameQueue { return b.frames }

// Keys delivers each key once, in order; closed by Close.
func (b *Inbox) Keys() <-chan rune { return b.keys }

// KeyCounts are the keys passed on and those dropped because the
// consumer had no room.
func (b *Inbox) KeyCounts() (taken, dropped uint64) { return b.taken.Load(), b.dropped.Load() }

// PushFrame queues a frame; it never blocks.
func (b *Inbox) PushFrame(f media.Frame) {
	b.frames.Push(f)
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// PushKey queues a key; it never blocks: a key the consumer has no room
// for is counted as dropped rather than stalling the audio.
func (b *Inbox) PushKey(k rune) {
	// The key itself is never logged, at any level: keys are answers to
	// verification questions and one-time codes.
	b.log.Debug("dtmf key received")
	select {
	case b.keys <- k:
		b.taken.Add(1)
	default:
		b.dropped.Add(1)
		b.log.Warn("dtmf key dropped: consumer not reading")
	}
}

// Next returns the next event: the end of the call (context.Cause of
// call, once it is done), then a key, then audio. It waits until one is
// there or ctx is done. Only the pushing side may call Close, after the
// call has ended.
func (b *Inbox) Next(ctx, call context.Context) (Event, error) {
	for {
		if call.Err() != nil {
			return Event{}, context.Cause(call)
		}
		if err := ctx.Err(); err != nil {
			return Event{}, err
		}
		select {
		case k, ok := <-b.keys:
			if ok {
				return Event{Kind: Key, Digit: k}, nil
			}
			continue // closed: the call ended, reported above
		default:
		}
		if b.frames.Len() > 0 {
			if f, err := b.frames.Pop(ctx); err == nil {
				return Event{Kind: Audio, Frame: f}, nil
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-call.Done():
		case k, ok := <-b.keys:
			if ok {
				return Event{Kind: Key, Digit: k}, nil
			}
		case <-b.ready:
		}
	}
}

// Close ends the queue and the keys once the call has ended and nothing
// pushes any more.
func (b *Inbox) Close() {
	b.frames.Close()
	close(b.keys)
}
