package openai

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
)

// maxSamples is MaxUtterance at 16 kHz.
const maxSamples = int(MaxUtterance / time.Second * media.Rate16k)

// keepCap is the largest buffer kept for reuse between utterances (10 s);
// a longer one is released so that idle calls do not pin megabytes.
const keepCap = 10 * media.Rate16k

type stream struct {
	r     *Recognizer
	mode  asr.Mode
	lang  call.Language // hint as given, for mapping the reply back
	hint  string        // ISO 639-1 hint sent to the server
	ctx   context.Context
	stop  context.CancelCauseFunc
	unreg func() bool // stops the AfterFunc that closes on ctx done

	results   chan asr.Result
	closeOnce sync.Once

	mu     sync.Mutex // held by Write, Flush and the closing half of Close
	closed bool
	buf    []int16
	start  time.Duration // Offset of the utterance's first frame
	end    time.Duration // end of its last frame
}

func newStream(ctx context.Context, r *Recognizer, mode asr.Mode, lang call.Language, hint string) *stream {
	s := &stream{r: r, mode: mode, lang: lang, hint: hint, results: make(chan asr.Result, 1)}
	s.ctx, s.stop = context.WithCancelCause(ctx)
	// The stream lives until Close or until ctx is done: close it then too,
	// so that a consumer ranging over Results terminates.
	s.unreg = context.AfterFunc(ctx, func() { _ = s.Close() })
	return s
}

// closedErr is asr.ErrClosed, with the parent context's cause when that is
// what ended the stream.
func (s *stream) closedErr() error {
	if cause := context.Cause(s.ctx); cause != nil && !errors.Is(cause, asr.ErrClosed) {
		return fmt.Errorf("%w: %w", asr.ErrClosed, cause)
	}
	return asr.ErrClosed
}

// Write buffers a copy of f. f.Rate must be 16 kHz. A frame that would
// take the utterance past MaxUtterance is dropped with ErrUtteranceTooLong.
func (s *stream) Write(ctx context.Context, f media.Frame) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ctx.Err() != nil {
		return s.closedErr()
	}
	if f.Rate != media.Rate16k {
		return fmt.Errorf("openai asr: frame at %d Hz, want %d: %w", f.Rate, media.Rate16k, media.ErrRateMismatch)
	}
	if len(f.Samples) == 0 {
		return nil
	}
	if len(s.buf)+len(f.Samples) > maxSamples {
		return fmt.Errorf("%w: %v buffered, limit %v; Flush first",
			ErrUtteranceTooLong, time.Duration(len(s.buf))*time.Second/media.Rate16k, MaxUtterance)
	}
	if len(s.buf) == 0 {
		s.start = f.Offset
	}
	s.buf = append(s.buf, f.Samples...)
	s.end = f.Offset + f.Duration()
	return nil
}

// Flush transcribes the buffered utterance and emits its final result, if
// the server returned any text. The buffer is emptied whether or not the
// request succeeds. Flush with nothing buffered makes no request.
func (s *stream) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ctx.Err() != nil {
		return s.closedErr()
	}
	if len(s.buf) == 0 {
		return nil
	}
	wav := encodeWAV(s.buf, media.Rate16k)
	u := utterance{start: s.start, end: s.end, hint: s.lang, engine: s.r.Name()}
	if cap(s.buf) > keepCap {
		s.buf = nil
	} else {
		s.buf = s.buf[:0]
	}

	// The request ends when the caller's ctx or the stream ends.
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	unreg := context.AfterFunc(s.ctx, func() { cancel(context.Cause(s.ctx)) })
	defer unreg()

	resp, lp, err := s.r.transcribe(rctx, wav, s.hint)
	if err != nil {
		return err
	}
	seg, ok := u.segment(resp, lp)
	if !ok {
		return nil
	}
	seg.Text = normalize(s.mode, seg.Text)
	select {
	case s.results <- asr.Result{Segment: seg}:
		return nil
	case <-rctx.Done():
		return fmt.Errorf("openai asr: final result not delivered: %w", context.Cause(rctx))
	}
}

// Results delivers final results only; this engine makes no partials.
func (s *stream) Results() <-chan asr.Result { return s.results }

// Close discards unflushed audio, cancels an in-flight Flush, and closes
// Results. It is safe to call more than once and from another goroutine.
func (s *stream) Close() error {
	s.closeOnce.Do(func() {
		s.unreg()
		s.stop(asr.ErrClosed) // unblocks a Flush waiting on the server or the consumer
		s.mu.Lock()
		s.closed = true
		s.buf = nil
		close(s.results)
		s.mu.Unlock()
	})
	return nil
}
