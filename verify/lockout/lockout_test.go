package lockout

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/verify/policy"
)

func TestEscalation(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cfg := policy.Lockout{
		Caller:   policy.Limit{Failures: 3, Window: 15 * time.Minute},
		Account:  policy.Limit{Failures: 5, Window: time.Hour},
		Duration: 30 * time.Minute, MaxDuration: 2 * time.Hour, StrikesWindow: 24 * time.Hour,
	}
	l := New(memory.New(memory.WithClock(clock)), cfg, []byte("0123456789abcdef"))
	ctx := context.Background()
	for i, want := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 2 * time.Hour} {
		for n := 1; n <= 3; n++ {
			locked, d, err := l.Fail(ctx, Caller, "+8613812345678")
			if err != nil {
				t.Fatal(err)
			}
			if locked != (n == 3) || (locked && d != want) {
				t.Fatalf("lockout %d, failure %d: locked %v for %s; want lock on the 3rd for %s", i, n, locked, d, want)
			}
		}
		if locked, _, _ := l.Locked(ctx, Caller, "+8613812345678"); !locked {
			t.Fatalf("lockout %d not in force", i)
		}
		if locked, _, _ := l.Locked(ctx, Caller, "+8613812345679"); locked {
			t.Fatal("another number is locked")
		}
		advance(want + time.Second)
		if locked, _, _ := l.Locked(ctx, Caller, "+8613812345678"); locked {
			t.Fatalf("lockout %d did not expire after %s", i, want)
		}
	}
}
