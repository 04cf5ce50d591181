package media

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// frameN is a frame tagged with n in its Offset.
func frameN(n int) Frame {
	return Frame{Samples: []int16{int16(n)}, Rate: Rate16k, Offset: time.Duration(n)}
}

func TestFrameQueueOrderAndDropOldest(t *testing.T) {
	q := NewFrameQueue(3)
	if q.Cap() != 3 {
		t.Fatalf("Cap %d", q.Cap())
	}
	for i := range 5 {
		q.Push(frameN(i))
	}
	if q.Len() != 3 || q.Dropped() != 2 {
		t.Fatalf("Len %d Dropped %d, want 3 and 2", q.Len(), q.Dropped())
	}
	ctx := context.Background()
	for want := 2; want < 5; want++ { // 0 and 1 were the oldest: dropped
		f, err := q.Pop(ctx)
		if err != nil || f.Offset != time.Duration(want) {
			t.Fatalf("Pop = %v, %v; want frame %d", f.Offset, err, want)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("Len %d after draining", q.Len())
	}
}

// TestFrameQueueDiscard: the queue empties, the frames are not counted as
// dropped, and frames pushed afterwards come out in order.
func TestFrameQueueDiscard(t *testing.T) {
	q := NewFrameQueue(3)
	for i := range 5 {
		q.Push(frameN(i))
	}
	if n := q.Discard(); n != 3 || q.Len() != 0 || q.Dropped() != 2 {
		t.Fatalf("Discard %d, Len %d, Dropped %d; want 3, 0, 2", n, q.Len(), q.Dropped())
	}
	q.Push(frameN(7))
	q.Push(frameN(8))
	for _, want := range []int{7, 8} {
		if f, err := q.Pop(context.Background()); err != nil || f.Offset != time.Duration(want) {
			t.Fatalf("Pop = %v, %v; want frame %d", f.Offset, err, want)
		}
	}
}

func TestFrameQueuePopWaitsForPush(t *testing.T) {
	defer checkNoGoroutineLeak(t)()
	q := NewFrameQueue(4)
	got := make(chan Frame)
	go func() {
		f, err := q.Pop(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- f
	}()
	time.Sleep(20 * time.Millisecond) // let Pop block
	q.Push(frameN(7))
	select {
	case f := <-got:
		if f.Offset != 7 {
			t.Fatalf("got frame %d", f.Offset)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Pop did not wake on Push")
	}
}

func TestFrameQueueContext(t *testing.T) {
	defer checkNoGoroutineLeak(t)()
	q := NewFrameQueue(4)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.Pop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pop past deadline: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := q.Pop(ctx)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Pop after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not wake Pop")
	}

	// A cancelled consumer stops even with frames queued.
	q.Push(frameN(1))
	if _, err := q.Pop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pop with cancelled ctx and a queued frame: %v", err)
	}
	if q.Len() != 1 {
		t.Fatal("cancelled Pop consumed a frame")
	}
}

func TestFrameQueueClose(t *testing.T) {
	defer checkNoGoroutineLeak(t)()
	q := NewFrameQueue(4)
	q.Push(frameN(1))
	q.Push(frameN(2))

	// Close wakes a waiting consumer on another queue...
	empty := NewFrameQueue(1)
	errc := make(chan error)
	go func() {
		_, err := empty.Pop(context.Background())
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	empty.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Pop on closed empty queue: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Pop")
	}

	// ...and the frames queued before Close are still delivered.
	q.Close()
	q.Close() // idempotent
	q.Push(frameN(3))
	if q.Dropped() != 1 {
		t.Fatalf("Push after Close: Dropped %d, want 1", q.Dropped())
	}
	ctx := context.Background()
	for want := 1; want <= 2; want++ {
		f, err := q.Pop(ctx)
		if err != nil || f.Offset != time.Duration(want) {
			t.Fatalf("draining: %v, %v; want frame %d", f.Offset, err, want)
		}
	}
	if _, err := q.Pop(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Pop on drained closed queue: %v", err)
	}
}

// One producer faster than one consumer, under -race: frames arrive in
// order, none is duplicated, and every frame is either delivered or
// counted as dropped.
func TestFrameQueueProducerConsumer(t *testing.T) {
	defer checkNoGoroutineLeak(t)()
	const total = 20000
	q := NewFrameQueue(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range total {
			q.Push(frameN(i))
		}
		q.Close()
	}()

	received, last := 0, -1
	for {
		f, err := q.Pop(ctx)
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := int(f.Offset)
		if n <= last {
			t.Fatalf("frame %d after %d", n, last)
		}
		last = n
		received++
		if received%100 == 0 {
			time.Sleep(time.Millisecond) // a consumer that falls behind
		}
	}
	wg.Wait()
	t.Logf("received %d, dropped %d", received, q.Dropped())
	if uint64(received)+q.Dropped() != total {
		t.Fatalf("received %d + dropped %d != %d pushed", received, q.Dropped(), total)
	}
	if last != total-1 {
		t.Fatalf("last frame %d, want %d: the newest frame must survive", last, total-1)
	}
}

// Several consumers: the wake-up is passed on so none sleeps while frames
// wait.
func TestFrameQueueManyConsumers(t *testing.T) {
	defer checkNoGoroutineLeak(t)()
	q := NewFrameQueue(64)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	seen := map[time.Duration]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				f, err := q.Pop(ctx)
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Error(err)
					}
					return
				}
				mu.Lock()
				if seen[f.Offset] {
					t.Errorf("frame %d delivered twice", f.Offset)
				}
				seen[f.Offset] = true
				mu.Unlock()
			}
		}()
	}
	for i := range 64 {
		q.Push(frameN(i))
	}
	q.Close()
	wg.Wait()
	if len(seen) != 64 {
		t.Fatalf("%d distinct frames delivered, want 64", len(seen))
	}
}

func TestNewFrameQueuePanicsOnZeroCapacity(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	NewFrameQueue(0)
}
