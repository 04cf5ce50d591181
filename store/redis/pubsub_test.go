package redis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/redistest"
)

// next returns the next message, failing past the deadline.
func next(t *testing.T, ctx context.Context, ch <-chan store.Message, what string) store.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatalf("%s: subscription closed", what)
		}
		return m
	case <-ctx.Done():
		t.Fatalf("%s: nothing within the deadline", what)
	}
	return store.Message{}
}

// TestPubSubTellsOfLosses: a subscriber is told to resync when a message
// was lost (a gap in the numbers) and when its connection was cut and
// restored (whatever was published meanwhile is gone), and keeps
// receiving afterwards.
func TestPubSubTellsOfLosses(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.Addr, "ps:")
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := s.Subscribe(sctx, "changes")
	if err != nil {
		t.Fatal(err)
	}
	if m := next(t, ctx, ch, "subscribed"); !m.Resync {
		t.Fatalf("first %+v", m)
	}
	if err := s.Publish(ctx, "changes", "one"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, ctx, ch, "one"); m.Payload != "one" || m.Resync {
		t.Fatalf("got %+v", m)
	}
	// A message numbered but never received (as if lost on the way).
	if err := rc.Incr(ctx, "ps:changes:seq").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, "changes", "three"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, ctx, ch, "gap"); !m.Resync {
		t.Fatalf("after a gap: %+v, want a resync", m)
	}
	if m := next(t, ctx, ch, "three"); m.Payload != "three" {
		t.Fatalf("after the resync: %+v", m)
	}
	// The subscriber's connection cut: it subscribes again and says so.
	if err := rc.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	if m := next(t, ctx, ch, "reconnected"); !m.Resync {
		t.Fatalf("after the connection was cut: %+v, want a resync", m)
	}
	// Messages flow again once it is back (published until one arrives:
	// the resubscription may land after the resync was signalled).
	for {
		if err := s.Publish(ctx, "changes", "again"); err != nil {
			t.Fatal(err)
		}
		m := next(t, ctx, ch, "again")
		if m.Payload == "again" {
			break
		}
	}
	stop()
	for range ch {
	}
}
