// Package storetest is the one test suite every store.Store implementation
// must pass, so that the in-process default and Redis behave the same.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/store"
)

// Harness tells the suite how to make a fresh, empty store and how to let
// time pass (a fake clock for memory, a real sleep for Redis).
type Harness struct {
	New     func(t *testing.T) store.Store
	Advance func(t *testing.T, d time.Duration)
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, h Harness)
	}{
		{"KV", testKV},
		{"Expiry", testExpiry},
		{"GetDelSingleUse", testGetDelSingleUse},
		{"CounterAtomic", testCounterAtomic},
		{"CounterWindow", testCounterWindow},
		{"Sets", testSets},
		{"LogAppendOnly", testLog},
		{"InvalidArguments", testInvalid},
		{"WrongType", testWrongType},
		{"CanceledContext", testCanceled},
		{"PubSub", testPubSub},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.New(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s, h)
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testKV(t *testing.T, s store.Store, _ Harness) {
	ctx := ctxT(t)
	if _, err := s.Get(ctx, "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get absent: want ErrNotFound, got %v", err)
	}
	if err := s.Set(ctx, "k", "v1", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "k", "v2", 0); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "k"); err != nil || v != "v2" {
		t.Fatalf("Get = %q, %v; want v2", v, err)
	}
	if d, err := s.TTL(ctx, "k"); err != nil || d != 0 {
		t.Fatalf("TTL of key without expiry = %v, %v; want 0", d, err)
	}
	if _, err := s.TTL(ctx, "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TTL absent: want ErrNotFound, got %v", err)
	}
	if err := s.Delete(ctx, "k", "absent"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete: want ErrNotFound, got %v", err)
	}
	// Unicode values must round-trip: account names are Chinese.
	if err := s.Set(ctx, "name", "王小明", 0); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get(ctx, "name"); v != "王小明" {
		t.Fatalf("unicode value = %q", v)
	}
}

func testExpiry(t *testing.T, s store.Store, h Harness) {
	ctx := ctxT(t)
	if err := s.Set(ctx, "short", "x", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	d, err := s.TTL(ctx, "short")
	if err != nil || d <= 0 || d > 300*time.Millisecond {
		t.Fatalf("TTL = %v, %v; want in (0, 300ms]", d, err)
	}
	h.Advance(t, 450*time.Millisecond)
	if _, err := s.Get(ctx, "short"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after expiry: want ErrNotFound, got %v", err)
	}
	if _, err := s.GetDel(ctx, "short"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetDel after expiry: want ErrNotFound, got %v", err)
	}
}

func testGetDelSingleUse(t *testing.T, s store.Store, _ Harness) {
	ctx := ctxT(t)
	if err := s.Set(ctx, "code", "secret", time.Minute); err != nil {
		t.Fatal(err)
	}
	const n = 32
	var wg sync.WaitGroup
	got := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			v, err := s.GetDel(ctx, "code")
			switch {
			case err == nil:
				got <- v
			case !errors.Is(err, store.ErrNotFound):
				errs <- err
			}
		})
	}
	wg.Wait()
	close(got)
	close(errs)
	for err := range errs {
		t.Fatalf("GetDel: %v", err)
	}
	var wins []string
	for v := range got {
		wins = append(wins, v)
	}
	if len(wins) != 1 || wins[0] != "secret" {
		t.Fatalf("%d concurrent GetDel: winners %q; want exactly one \"secret\"", n, wins)
	}
}

func testCounterAtomic(t *testing.T, s store.Store, _ Harness) {
	ctx := ctxT(t)
	if n, err := s.Count(ctx, "c"); err != nil || n != 0 {
		t.Fatalf("Count absent = %d, %v; want 0", n, err)
	}
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := s.Incr(ctx, "c", time.Minute); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, err := s.Count(ctx, "c"); err != nil || n != workers*each {
		t.Fatalf("Count = %d, %v; want %d", n, err, workers*each)
	}
	if d, err := s.TTL(ctx, "c"); err != nil || d <= 0 {
		t.Fatalf("counter must carry its window as expiry: TTL %v, %v", d, err)
	}
}

func testCounterWindow(t *testing.T, s store.Store, h Harness) {
	ctx := ctxT(t)
	for want := int64(1); want <= 3; want++ {
		n, err := s.Incr(ctx, "w", 300*time.Millisecond)
		if err != nil || n != want {
			t.Fatalf("Incr = %d, %v; want %d", n, err, want)
		}
	}
	// Later increments must not push the window out, or a patient
	// attacker spacing guesses would never see the counter reset... and a
	// genuine caller would never be forgiven.
	h.Advance(t, 200*time.Millisecond)
	if _, err := s.Incr(ctx, "w", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	h.Advance(t, 250*time.Millisecond)
	if n, err := s.Count(ctx, "w"); err != nil || n != 0 {
		t.Fatalf("Count after window = %d, %v; want 0", n, err)
	}
	if n, err := s.Incr(ctx, "w", time.Minute); err != nil || n != 1 {
		t.Fatalf("Incr after window = %d, %v; want 1", n, err)
	}
}

func testSets(t *testing.T, s store.Store, h Harness) {
	ctx := ctxT(t)
	for i, m := range []string{"a", "b", "a", "c"} {
		want := []int64{1, 2, 2, 3}[i]
		n, err := s.AddMember(ctx, "set", m, 300*time.Millisecond)
		if err != nil || n != want {
			t.Fatalf("AddMember(%q) = %d, %v; want %d", m, n, err, want)
		}
	}
	h.Advance(t, 450*time.Millisecond)
	if n, err := s.AddMember(ctx, "set", "d", time.Minute); err != nil || n != 1 {
		t.Fatalf("AddMember after expiry = %d, %v; want 1", n, err)
	}
}

func testLog(t *testing.T, s store.Store, _ Harness) {
	ctx := ctxT(t)
	var ids []string
	for i := range 5 {
		f := map[string]string{"event": "answer", "n": fmt.Sprint(i)}
		id, err := s.Append(ctx, "audit", f)
		if err != nil {
			t.Fatal(err)
		}
		f["n"] = "changed" // the store must have copied the record
		ids = append(ids, id)
	}
	all, err := s.Tail(ctx, "audit", 0)
	if err != nil || len(all) != 5 {
		t.Fatalf("Tail all = %d records, %v; want 5", len(all), err)
	}
	for i, e := range all {
		if e.ID != ids[i] || e.Fields["n"] != fmt.Sprint(i) || e.Fields["event"] != "answer" {
			t.Fatalf("record %d = %+v; want id %s n %d", i, e, ids[i], i)
		}
	}
	last, err := s.Tail(ctx, "audit", 2)
	if err != nil || len(last) != 2 || last[0].Fields["n"] != "3" || last[1].Fields["n"] != "4" {
		t.Fatalf("Tail 2 = %+v, %v; want records 3 and 4, oldest first", last, err)
	}
	if empty, err := s.Tail(ctx, "nothing", 10); err != nil || len(empty) != 0 {
		t.Fatalf("Tail of absent log = %v, %v", empty, err)
	}
}

func testInvalid(t *testing.T, s store.Store, _ Harness) {
	ctx := ctxT(t)
	cases := []struct {
		name string
		err  error
	}{
		{"Get empty key", func() error { _, err := s.Get(ctx, ""); return err }()},
		{"Set negative ttl", s.Set(ctx, "k", "v", -time.Second)},
		{"Incr zero window", func() error { _, err := s.Incr(ctx, "c", 0); return err }()},
		{"AddMember zero ttl", func() error { _, err := s.AddMember(ctx, "s", "m", 0); return err }()},
		{"Append empty", func() error { _, err := s.Append(ctx, "l", nil); return err }()},
	}
	for _, c := range cases {
		if !errors.Is(c.err, store.ErrInvalid) {
			t.Errorf("%s: want ErrInvalid, got %v", c.name, c.err)
		}
	}
}

func testWrongType(t *testing.T, s store.Store, _ Harness) {
	ctx := ctxT(t)
	if _, err := s.AddMember(ctx, "set", "m", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "set", time.Minute); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Incr on a set: want ErrInvalid, got %v", err)
	}
}

func testCanceled(t *testing.T, s store.Store, _ Harness) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Set(ctx, "k", "v", 0); err == nil {
		t.Fatal("Set with a canceled context succeeded")
	}
}

// testPubSub: two subscribers (two nodes) each get the Resync that says
// they are subscribed, then every message published after it, in order;
// a subscription ends with its context.
func testPubSub(t *testing.T, s store.Store, _ Harness) {
	ps, ok := s.(store.PubSub)
	if !ok {
		t.Fatalf("%s does not implement store.PubSub", s.Name())
	}
	ctx := ctxT(t)
	sctx, stop := context.WithCancel(ctx)
	var subs []<-chan store.Message
	for range 2 {
		ch, err := ps.Subscribe(sctx, "changes")
		if err != nil {
			t.Fatal(err)
		}
		if m := <-ch; !m.Resync {
			t.Fatalf("first message %+v, want a resync", m)
		}
		subs = append(subs, ch)
	}
	other, err := ps.Subscribe(sctx, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	<-other
	for i := range 50 {
		if err := ps.Publish(ctx, "changes", fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range subs {
		for i := range 50 {
			select {
			case m := <-ch:
				if m.Payload != fmt.Sprint("m", i) {
					t.Fatalf("message %d: %+v", i, m)
				}
			case <-ctx.Done():
				t.Fatalf("message %d not delivered", i)
			}
		}
	}
	select {
	case m := <-other:
		t.Fatalf("a subscriber of another channel got %+v", m)
	default:
	}
	if err := ps.Publish(ctx, "", "x"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("empty channel: %v", err)
	}
	stop()
	for _, ch := range append(subs, other) {
		for range ch { // closes once the context ends
		}
	}
}
