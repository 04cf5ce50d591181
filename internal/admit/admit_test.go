package admit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestAdmitsMaxThenQueuesThenRefuses(t *testing.T) {
	l := New(2, 1)
	ctx := context.Background()
	r1, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The third waits for a place.
	got := make(chan error, 1)
	go func() {
		r, err := l.Acquire(ctx)
		if err == nil {
			r() // before saying so: a deferred release raced the check below
		}
		got <- err
	}()
	waitFor(t, func() bool { return l.Stats().Waiting == 1 })
	// The fourth finds the queue full and is refused at once.
	_, err = l.Acquire(ctx)
	var o *Overloaded
	if !errors.As(err, &o) || !errors.Is(err, ErrOverloaded) || o.RetryAfter < time.Second {
		t.Fatalf("fourth: %v, want Overloaded with a retry time", err)
	}
	r1()
	r1() // a second release is harmless
	if err := <-got; err != nil {
		t.Fatalf("the waiting one: %v", err)
	}
	r2()
	if s := l.Stats(); s.Running != 0 || s.Waiting != 0 {
		t.Fatalf("after all released: %+v", s)
	}
}

func TestWaitHonoursDeadlineAndCancel(t *testing.T) {
	l := New(1, 5)
	r, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer r()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("deadline: %v, want ErrOverloaded", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	// A place may still be free for a cancelled caller; here none is.
	if _, err := l.Acquire(ctx2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want context.Canceled", err)
	}
}

func TestConcurrentNeverExceedsMax(t *testing.T) {
	l := New(3, 100)
	var mu sync.Mutex
	running, peak := 0, 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := l.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			mu.Lock()
			running--
			mu.Unlock()
			r()
		}()
	}
	wg.Wait()
	if peak > 3 {
		t.Fatalf("%d ran at once, max 3", peak)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
