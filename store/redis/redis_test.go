package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/internal/leakcheck"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
	"github.com/callbrief/callbrief/store/storetest"
)

func TestMain(m *testing.M) { leakcheck.Main(m, "go-redis", "callbrief/store") }

func newStore(t *testing.T, addr, prefix string) *redis.Store {
	t.Helper()
	s, err := redis.New(redis.Config{Addr: addr, Prefix: prefix, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSuite(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, storetest.Harness{
		// Each test gets its own key prefix on the one server.
		New: func(t *testing.T) store.Store { return newStore(t, srv.Addr, t.Name()+":") },
		Advance: func(t *testing.T, d time.Duration) {
			time.Sleep(d)
		},
	})
}

// TestAcknowledgedWritesSurviveKill is the property lockouts depend on:
// with appendonly yes and appendfsync always, a write Redis acknowledged
// is on disk, so even SIGKILL of the server loses none of them.
func TestAcknowledgedWritesSurviveKill(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.Addr, "dur:")
	ctx := t.Context()
	const n = 200
	for i := range n {
		if err := s.Set(ctx, fmt.Sprint("lock:", i), "locked", time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Incr(ctx, "failures", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, "audit", map[string]string{"event": "locked"}); err != nil {
		t.Fatal(err)
	}
	srv.Restart(t)
	for i := range n {
		if v, err := s.Get(ctx, fmt.Sprint("lock:", i)); err != nil || v != "locked" {
			t.Fatalf("lock %d after restart = %q, %v", i, v, err)
		}
	}
	if d, err := s.TTL(ctx, "lock:0"); err != nil || d <= 0 || d > time.Hour {
		t.Fatalf("lock TTL after restart = %v, %v; the expiry must survive too", d, err)
	}
	if c, err := s.Count(ctx, "failures"); err != nil || c != n {
		t.Fatalf("counter after restart = %d, %v; want %d", c, err, n)
	}
	if l, err := s.Tail(ctx, "audit", 0); err != nil || len(l) != 1 {
		t.Fatalf("audit after restart = %v, %v", l, err)
	}
}

func TestUnreachable(t *testing.T) {
	// A port nothing listens on: bind one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := newStore(t, addr, "x:")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	checks := map[string]error{
		"Ping":   s.Ping(ctx),
		"Set":    s.Set(ctx, "k", "v", time.Minute),
		"Get":    func() error { _, err := s.Get(ctx, "k"); return err }(),
		"Incr":   func() error { _, err := s.Incr(ctx, "k", time.Minute); return err }(),
		"Append": func() error { _, err := s.Append(ctx, "l", map[string]string{"a": "b"}); return err }(),
	}
	for op, err := range checks {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s on a dead server: want ErrUnavailable, got %v", op, err)
		}
		if err != nil && !strings.Contains(err.Error(), "redis") {
			t.Errorf("%s: error %q should name redis", op, err)
		}
	}
}

func TestNewRejectsEmptyAddr(t *testing.T) {
	if _, err := redis.New(redis.Config{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
}

func TestPrefixIsolates(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newStore(t, srv.Addr, "a:"), newStore(t, srv.Addr, "b:")
	ctx := t.Context()
	if err := a.Set(ctx, "k", "from a", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("b sees a's key: %v", err)
	}
}

// TestUnreplicatedWrite: with replica acknowledgements asked for and no
// replica, a write is applied but not confirmed: the error says both
// unavailable (callers needing durability fail closed) and not replicated,
// and a counter still returns its new count.
func TestUnreplicatedWrite(t *testing.T) {
	srv := redistest.Start(t)
	s, err := redis.New(redis.Config{Addr: srv.Addr, Prefix: "u:", Timeout: time.Second, ReplicaAcks: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for want := int64(1); want <= 3; want++ {
		n, err := s.Incr(ctx, "c", time.Minute)
		if !errors.Is(err, store.ErrNotReplicated) || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("incr %d: %v; want not replicated and unavailable", want, err)
		}
		if n != want {
			t.Fatalf("incr %d returned %d", want, n)
		}
	}
	if err := s.Set(ctx, "k", "v", 0); !errors.Is(err, store.ErrNotReplicated) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("set: %v", err)
	}
	if v, err := s.Get(ctx, "k"); err != nil || v != "v" {
		t.Fatalf("the unconfirmed write was applied: %q %v", v, err)
	}
}
