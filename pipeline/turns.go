package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/media"
)

// A recording (an upload, or a live caller's turn once it has ended) is
// all there: its utterances need not wait for each other. The listener
// still cuts them in order, but each goes to the recognizer on its own
// stream as soon as it is cut, up to a few at once, and their finals come
// out in order. On a pool of speech servers a three-utterance upload then
// takes about as long as its longest utterance, not the sum of the three.
// Only free speech on engines whose streams say each utterance is
// recognised from its own audio alone (asr.Independent: the
// OpenAI-compatible servers) is taken apart, so the transcript is the
// same either way. pocketsphinx carries its channel estimate from one
// utterance to the next, and its digit and yes/no answers are one short
// utterance: those streams are used as they are.

// TurnsAtOnceFor is how many utterances of one recording to recognise at
// once on a pool of servers: one per server, so that one upload (each of
// its utterances maybe cut into a piece per server) does not take every
// place in the pool from the other calls.
func TurnsAtOnceFor(servers int) int { return max(1, servers) }

// waiter is a stream whose Flush returns before its final is out; Wait
// returns once every flushed utterance's finals are delivered, with the
// first error.
type waiter interface {
	Wait(ctx context.Context) error
}

// turnsAtOnce wraps a recognizer so that its streams recognise up to n
// flushed utterances at once.
type turnsAtOnce struct {
	asr.Recognizer
	n int
}

func (t turnsAtOnce) NewStream(ctx context.Context, cfg asr.StreamConfig) (asr.Stream, error) {
	// The first utterance's stream is opened now, so that a language or
	// mode the engine lacks fails here as it would without the wrapper.
	first, err := t.Recognizer.NewStream(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if ind, ok := first.(asr.Independent); cfg.Mode != asr.ModeFree || !ok || !ind.IndependentUtterances() {
		return first, nil
	}
	s := &turnStream{rec: t.Recognizer, cfg: cfg, first: first, sem: make(chan struct{}, t.n),
		queue: make(chan *turn, t.n), out: make(chan asr.Result, 1), delivered: make(chan struct{})}
	s.ctx, s.stop = context.WithCancelCause(ctx)
	go s.deliver()
	// As asr.Stream says, the stream lives until Close or until ctx is
	// done: then Results is closed and nothing is left running.
	s.unreg = context.AfterFunc(ctx, func() { _ = s.Close() })
	return s, nil
}

// turn is one flushed utterance being recognised.
type turn struct {
	done   chan struct{}
	finals []asr.Result
	err    error
}

type turnStream struct {
	rec  asr.Recognizer
	cfg  asr.StreamConfig
	ctx  context.Context
	stop context.CancelCauseFunc
	sem  chan struct{} // a slot per utterance in flight or awaiting delivery
	// unreg stops the AfterFunc that closes the stream with its context,
	// so a closed stream leaves nothing registered on a long-lived one.
	unreg func() bool

	mu     sync.Mutex
	first  asr.Stream // for the first utterance; nil once taken
	frames []media.Frame
	ended  bool // Wait or Close: no more utterances
	closed bool
	wg     sync.WaitGroup // utterances' goroutines

	queue     chan *turn // utterances in order, for deliver
	out       chan asr.Result
	delivered chan struct{} // closed when deliver has returned
	complete  bool          // every utterance delivered; written by deliver before delivered closes

	errMu sync.Mutex // its own lock: a failing utterance must not wait on a Flush holding mu
	err   error
}

// Write keeps a copy of f for the current utterance.
func (s *turnStream) Write(ctx context.Context, f media.Frame) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ended {
		return asr.ErrClosed
	}
	if err := s.failed(); err != nil {
		return err
	}
	f.Samples = append([]int16(nil), f.Samples...)
	s.frames = append(s.frames, f)
	return nil
}

// Flush sends the utterance off and returns once it is in flight (or
// fails at once with an earlier utterance's error). It waits only when n
// utterances are already in flight or undelivered.
func (s *turnStream) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ended {
		return asr.ErrClosed
	}
	if err := s.failed(); err != nil {
		return err
	}
	if len(s.frames) == 0 {
		return nil
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return s.cause()
	}
	st := s.first
	s.first = nil
	t := &turn{done: make(chan struct{})}
	frames := s.frames
	s.frames = nil
	s.queue <- t // never blocks: a slot of sem is held for it
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(t.done)
		t.finals, t.err = s.recognise(st, frames)
		if t.err != nil {
			s.fail(t.err)
		}
	}()
	return nil
}

// recognise runs one utterance on its own stream (st, or a new one).
func (s *turnStream) recognise(st asr.Stream, frames []media.Frame) ([]asr.Result, error) {
	if st == nil {
		var err error
		if st, err = s.rec.NewStream(s.ctx, s.cfg); err != nil {
			return nil, err
		}
	}
	var finals []asr.Result
	taken := make(chan struct{})
	go func() {
		defer close(taken)
		for r := range st.Results() {
			if r.Final {
				finals = append(finals, r)
			}
		}
	}()
	err := func() error {
		for _, f := range frames {
			if err := st.Write(s.ctx, f); err != nil {
				return err
			}
		}
		return st.Flush(s.ctx)
	}()
	err = errors.Join(err, st.Close())
	<-taken
	return finals, err
}

// deliver hands on each utterance's finals in the order they were cut.
func (s *turnStream) deliver() {
	defer close(s.delivered)
	defer close(s.out)
	for t := range s.queue {
		select {
		case <-t.done:
		case <-s.ctx.Done():
			return
		}
		if t.err != nil {
			return
		}
		for _, r := range t.finals {
			select {
			case s.out <- r:
			case <-s.ctx.Done():
				return
			}
		}
		<-s.sem
	}
	s.complete = true
}

// Wait returns once every flushed utterance's finals are delivered (or
// one failed, or ctx is done). No utterance is taken after it.
func (s *turnStream) Wait(ctx context.Context) error {
	s.mu.Lock()
	if !s.ended && !s.closed {
		s.ended = true
		close(s.queue)
	}
	s.mu.Unlock()
	select {
	case <-s.delivered:
	case <-ctx.Done():
		return ctx.Err()
	}
	if !s.complete {
		// Stopped before every final was out: never a transcript with
		// utterances missing and no error.
		return s.cause()
	}
	return nil
}

// Results delivers the finals of every utterance, in order (no partials:
// a recording's utterances are recognised whole).
func (s *turnStream) Results() <-chan asr.Result { return s.out }

// Close stops utterances in flight and closes Results. It may be called
// from another goroutine to end a Flush waiting for a slot.
func (s *turnStream) Close() error {
	if s.unreg != nil {
		s.unreg()
	}
	s.stop(asr.ErrClosed)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if !s.ended {
		s.ended = true
		close(s.queue)
	}
	first := s.first
	s.first = nil
	s.mu.Unlock()
	<-s.delivered
	s.wg.Wait()
	if first != nil {
		return first.Close()
	}
	return nil
}

// fail records the first utterance's error and stops the others.
func (s *turnStream) fail(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil {
		s.err = err
		s.stop(fmt.Errorf("an utterance before failed: %w", err))
	}
}

// failed is the first utterance's error, if any.
func (s *turnStream) failed() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *turnStream) cause() error {
	if err := s.failed(); err != nil {
		return err
	}
	return fmt.Errorf("%w: %w", asr.ErrClosed, context.Cause(s.ctx))
}
