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
// the server returned any text. A long utterance may be cut and sent to
// several servers at once (Config.SplitAbove): then each piece with text
// is a final result, in order. The buffer is emptied whether or not the
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
	pieces := s.pieces()
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

	segs := make([]call.Segment, len(pieces))
	found := make([]bool, len(pieces))
	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		failed   error
	)
	for i, p := range pieces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, lp, err := s.r.transcribe(rctx, p.wav, s.hint)
			if err != nil {
				// The turn fails as a whole: the first failure is the
				// one to report, and it stops the other pieces.
				if len(pieces) > 1 {
					err = fmt.Errorf("openai asr: piece %d of %d (%v-%v): %w", i+1, len(pieces), p.u.start, p.u.end, err)
				}
				failOnce.Do(func() { failed = err; cancel(err) })
				return
			}
			segs[i], found[i] = p.u.segment(resp, lp)
		}()
	}
	wg.Wait()
	if failed != nil {
		return failed
	}
	for i, seg := range segs {
		if !found[i] {
			continue
		}
		seg.Text = normalize(s.mode, seg.Text)
		select {
		case s.results <- asr.Result{Segment: seg}:
		case <-rctx.Done():
			return fmt.Errorf("openai asr: final result not delivered: %w", context.Cause(rctx))
		}
	}
	return nil
}

// piece is one request of a Flush.
type piece struct {
	wav []byte
	u   utterance
}

// pieces encodes the buffered utterance as the WAVs a Flush sends: one,
// or several for a long utterance and a pool with servers to share it.
func (s *stream) pieces() []piece {
	k := 1
	if s.mode == asr.ModeFree {
		// Digits and yes/no answers are short and read as a whole.
		k = pieceCount(len(s.buf), s.r.cfg.SplitAbove, s.r.healthyServers())
	}
	// No pause where a cut may go: quietCuts gives none, one piece.
	bounds := append(append([]int{0}, quietCuts(s.buf, k)...), len(s.buf))
	out := make([]piece, 0, len(bounds)-1)
	for i := 1; i < len(bounds); i++ {
		a, b := bounds[i-1], bounds[i]
		u := utterance{start: s.start + samplesDur(a), end: s.start + samplesDur(b), hint: s.lang, engine: s.r.Name()}
		if b == len(s.buf) {
			u.end = s.end
		}
		out = append(out, piece{wav: encodeWAV(s.buf[a:b], media.Rate16k), u: u})
	}
	return out
}

func samplesDur(n int) time.Duration { return time.Duration(n) * time.Second / media.Rate16k }

// IndependentUtterances implements asr.Independent: each Flush is one
// request carrying only its own audio.
func (s *stream) IndependentUtterances() bool { return true }

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
