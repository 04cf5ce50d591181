// Package admit is admission control for work that costs real CPU (a call
// in recognition): at most Max run at once, at most Queue more wait for a
// place, each no longer than its own deadline allows, and the rest are
// refused at once with an estimate of when to retry. Refusing early is the
// point: a node that accepts every upload serves none of them in time.
package admit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrOverloaded: no place now and the wait queue is full, or no place came
// before the caller's deadline. Retry after RetryAfter.
var ErrOverloaded = errors.New("admit: overloaded")

// Overloaded is the error of a refusal, with the time after which a retry
// is likely to find a place.
type Overloaded struct {
	RetryAfter time.Duration
	Reason     string // "queue full", "no place within the deadline"
}

func (o *Overloaded) Error() string {
	return fmt.Sprintf("%s: %s; retry after %s", ErrOverloaded, o.Reason, o.RetryAfter.Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrOverloaded) true.
func (o *Overloaded) Unwrap() error { return ErrOverloaded }

// Limiter admits work. The zero value is not usable; use New.
type Limiter struct {
	max, queue int
	slots      chan struct{}

	mu      sync.Mutex
	waiting int
	// avg is a moving average of how long admitted work held its place,
	// for the retry estimate.
	avg time.Duration
}

// Stats is what the limiter holds now.
type Stats struct {
	Running, Waiting, Max, Queue int
}

// New admits max at once with queue more waiting. max must be at least 1;
// queue may be 0 (refuse at once when full).
func New(max, queue int) *Limiter {
	if max < 1 {
		max = 1
	}
	if queue < 0 {
		queue = 0
	}
	return &Limiter{max: max, queue: queue, slots: make(chan struct{}, max), avg: 2 * time.Second}
}

// Acquire takes a place, waiting while the queue has room and ctx allows.
// The release function must be called exactly once when the work is done.
// A ctx that ends while waiting returns ctx's error wrapped in Overloaded
// only when the wait was what ran out of time; a cancelled caller gets the
// cancellation.
func (l *Limiter) Acquire(ctx context.Context) (func(), error) {
	select {
	case l.slots <- struct{}{}:
		return l.releaser(), nil
	default:
	}
	l.mu.Lock()
	if l.waiting >= l.queue {
		l.mu.Unlock()
		return nil, &Overloaded{RetryAfter: l.retryAfter(), Reason: "queue full"}
	}
	l.waiting++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.waiting--
		l.mu.Unlock()
	}()
	select {
	case l.slots <- struct{}{}:
		return l.releaser(), nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &Overloaded{RetryAfter: l.retryAfter(), Reason: "no place within the deadline"}
		}
		return nil, ctx.Err()
	}
}

func (l *Limiter) releaser() func() {
	start := time.Now()
	var once sync.Once
	return func() {
		once.Do(func() {
			held := time.Since(start)
			l.mu.Lock()
			l.avg = (l.avg*7 + held) / 8
			l.mu.Unlock()
			<-l.slots
		})
	}
}

// retryAfter estimates when a place frees: the waiting work ahead, spread
// over the places, at the average hold time; at least a second.
func (l *Limiter) retryAfter() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.avg * time.Duration(1+l.waiting) / time.Duration(l.max)
	return max(d, time.Second).Round(time.Second)
}

// Stats reports the places in use and the callers waiting.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Running: len(l.slots), Waiting: l.waiting, Max: l.max, Queue: l.queue}
}
