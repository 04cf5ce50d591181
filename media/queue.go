package media

import (
	"context"
	"fmt"
	"sync"
)

// FrameQueue is a bounded queue of live audio frames between a producer
// that must never wait (network ingress: blocking it would stall the
// socket and lose packets anyway) and a consumer that may fall behind (ASR,
// VAD). When full it drops the oldest frame, because for live speech the
// newest audio is the most useful, and counts the drop so that overload is
// visible in metrics rather than silent.
//
// It is safe for concurrent use by any number of producers and consumers,
// though one of each is the intended use. It starts no goroutines.
type FrameQueue struct {
	mu      sync.Mutex
	ring    []Frame
	head    int // index of the oldest frame
	n       int // frames queued
	closed  bool
	dropped uint64

	ready chan struct{} // holds a token when frames may be available
	done  chan struct{} // closed by Close
	once  sync.Once
}

// NewFrameQueue returns an empty queue holding at most capacity frames
// (50 frames is one second of 20 ms audio). A capacity below 1 is a
// programming error and panics.
func NewFrameQueue(capacity int) *FrameQueue {
	if capacity < 1 {
		panic(fmt.Sprintf("media: NewFrameQueue capacity %d, must be at least 1", capacity))
	}
	return &FrameQueue{
		ring:  make([]Frame, capacity),
		ready: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
}

// Push adds f without ever blocking. If the queue is full the oldest frame
// is discarded to make room; after Close, f itself is discarded. Either way
// the discarded frame is counted in Dropped.
func (q *FrameQueue) Push(f Frame) {
	q.mu.Lock()
	if q.closed {
		q.dropped++
		q.mu.Unlock()
		return
	}
	if q.n == len(q.ring) {
		q.ring[q.head] = Frame{} // release the samples
		q.head = (q.head + 1) % len(q.ring)
		q.n--
		q.dropped++
	}
	q.ring[(q.head+q.n)%len(q.ring)] = f
	q.n++
	q.mu.Unlock()
	q.signal()
}

// Pop removes and returns the oldest frame, waiting until one is queued.
// It returns ctx.Err() if ctx is done, checked first so that a cancelled
// consumer stops promptly even with frames queued, and ErrClosed once the
// queue is closed and every frame queued before Close has been returned.
func (q *FrameQueue) Pop(ctx context.Context) (Frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Frame{}, err
		}
		q.mu.Lock()
		if q.n > 0 {
			f := q.ring[q.head]
			q.ring[q.head] = Frame{}
			q.head = (q.head + 1) % len(q.ring)
			q.n--
			more := q.n > 0
			q.mu.Unlock()
			if more {
				// Pass the wake-up on in case another consumer is
				// waiting: Push signals once per frame, but the token
				// holds only one.
				q.signal()
			}
			return f, nil
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return Frame{}, ErrClosed
		}
		select {
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		case <-q.ready:
		case <-q.done:
		}
	}
}

// signal leaves a wake-up token unless one is already waiting.
func (q *FrameQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Discard empties the queue and returns how many frames it held. They are
// not counted in Dropped: the consumer chose not to hear them (audio from
// before a question was asked), nothing was lost to lag.
func (q *FrameQueue) Discard() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.n
	for ; q.n > 0; q.n-- {
		q.ring[q.head] = Frame{}
		q.head = (q.head + 1) % len(q.ring)
	}
	return n
}

// Len is the number of frames queued.
func (q *FrameQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// Cap is the most frames the queue holds.
func (q *FrameQueue) Cap() int { return len(q.ring) }

// Dropped is the number of frames discarded so far: oldest frames pushed
// out by a full queue and frames pushed after Close.
func (q *FrameQueue) Dropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// Close stops the queue taking frames and wakes waiting consumers; frames
// already queued can still be popped. Close is idempotent.
func (q *FrameQueue) Close() {
	q.once.Do(func() {
		q.mu.Lock()
		q.closed = true
		q.mu.Unlock()
		close(q.done)
	})
}
