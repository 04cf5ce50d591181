package inbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media"
)

// TestNextOrder: keys come before queued audio, the call's end before
// both, and a full key buffer drops and counts rather than blocking.
func TestNextOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, end := context.WithCancelCause(context.Background())
	b := New(4, nil)
	b.PushFrame(media.Frame{Offset: 0})
	b.PushFrame(media.Frame{Offset: 20 * time.Millisecond})
	b.PushKey('5')
	e, err := b.Next(ctx, call)
	if err != nil || e.Kind != Key || e.Digit != '5' {
		t.Fatalf("first: %+v %v, want the key", e, err)
	}
	for i, want := range []time.Duration{0, 20 * time.Millisecond} {
		e, err = b.Next(ctx, call)
		if err != nil || e.Kind != Audio || e.Frame.Offset != want {
			t.Fatalf("frame %d: %+v %v", i, e, err)
		}
	}
	// Waiting: a frame pushed later wakes Next.
	go b.PushFrame(media.Frame{Offset: 40 * time.Millisecond})
	if e, err = b.Next(ctx, call); err != nil || e.Frame.Offset != 40*time.Millisecond {
		t.Fatalf("pushed while waiting: %+v %v", e, err)
	}
	for range keyRoom + 3 {
		b.PushKey('1')
	}
	if taken, dropped := b.KeyCounts(); taken != 1+keyRoom || dropped != 3 {
		t.Fatalf("keys taken %d dropped %d", taken, dropped)
	}
	b.PushFrame(media.Frame{})
	hangup := errors.New("hung up")
	end(hangup)
	if _, err = b.Next(ctx, call); !errors.Is(err, hangup) {
		t.Fatalf("after the end: %v, want the cause", err)
	}
	b.Close()
	if _, ok := <-b.Keys(); !ok {
		t.Fatal("keys still queued are readable after Close")
	}
}
