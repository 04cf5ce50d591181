package memory_test

import (
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/store/storetest"
)

// fakeClock lets expiry tests run without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestSuite(t *testing.T) {
	clocks := map[*testing.T]*fakeClock{}
	var mu sync.Mutex
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Store {
			c := &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
			mu.Lock()
			clocks[t] = c
			mu.Unlock()
			return memory.New(memory.WithClock(c.now))
		},
		Advance: func(t *testing.T, d time.Duration) {
			mu.Lock()
			c := clocks[t]
			mu.Unlock()
			c.add(d)
		},
	})
}

func TestClosed(t *testing.T) {
	s := memory.New()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != store.ErrClosed {
		t.Fatalf("Ping after Close = %v; want ErrClosed", err)
	}
}
