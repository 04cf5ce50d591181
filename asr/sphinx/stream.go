package sphinx

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
)

// resultBuffer is the capacity of a stream's results channel. Partials
// beyond it are dropped; finals wait for room.
const resultBuffer = 16

// stream implements asr.Stream over one pooled decoder.
type stream struct {
	r       *Recognizer
	mode    asr.Mode
	ctx     context.Context // the stream's lifetime
	stop    func() bool     // unregisters the close-on-ctx-done hook
	results chan asr.Result
	done    chan struct{} // closed when Close starts; unblocks a final send

	closeOnce sync.Once

	mu     sync.Mutex // guards everything below, and all use of dec
	dec    *decoder   // nil after Close
	closed bool

	// The current utterance.
	inUtt       bool
	uttStart    time.Duration // Offset of its first frame
	uttSamples  int64         // samples decoded
	sinceCheck  int           // samples since the last partial check
	lastPartial string

	// adapted: an utterance of this stream has been decoded, so the
	// decoder's channel estimate is this caller's. Until then the
	// utterance's audio is kept (first), to be decoded again from the
	// estimate it yields (see endUtterance).
	adapted bool
	first   []int16
}

func newStream(ctx context.Context, r *Recognizer, m asr.Mode, d *decoder) *stream {
	r.primeChannel(d)
	s := &stream{
		r:       r,
		mode:    m,
		ctx:     ctx,
		dec:     d,
		results: make(chan asr.Result, resultBuffer),
		done:    make(chan struct{}),
	}
	s.stop = context.AfterFunc(ctx, func() { _ = s.Close() })
	return s
}

// Results delivers partial and final hypotheses; it is closed by Close.
func (s *stream) Results() <-chan asr.Result { return s.results }

// Write decodes one 16 kHz frame. The first frame after the stream opens
// or after Flush starts an utterance whose timings count from its Offset.
// Every PartialInterval of audio the partial hypothesis is checked and, if
// it changed, sent unless the results channel is full. An utterance that
// reaches MaxUtterance is ended as if flushed: Write then sends its final,
// waiting for the consumer like Flush.
func (s *stream) Write(ctx context.Context, f media.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ctx.Err() != nil {
		return asr.ErrClosed
	}
	if len(f.Samples) == 0 {
		return nil
	}
	if f.Rate != SampleRate {
		return fmt.Errorf("sphinx: frame at %d Hz, the recognizer takes %d Hz mono (resample first): %w",
			f.Rate, SampleRate, media.ErrRateMismatch)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.inUtt {
		if err := s.dec.startUtt(); err != nil {
			return err
		}
		s.inUtt = true
		s.uttStart = f.Offset
		s.uttSamples = 0
		s.sinceCheck = 0
		s.lastPartial = ""
	}
	if err := s.dec.process(f.Samples); err != nil {
		return err
	}
	if !s.adapted {
		s.first = append(s.first, f.Samples...)
	}
	s.uttSamples += int64(len(f.Samples))

	if s.uttSamples >= s.r.maxUttSamples {
		// The endpointer has not cut for a long time (music, a
		// monologue): end the utterance here so that the decoder's
		// memory and the final's latency stay bounded.
		return s.endUtterance(ctx)
	}
	s.sinceCheck += len(f.Samples)
	if every := s.r.partialEvery; every > 0 && s.sinceCheck >= every {
		s.sinceCheck = 0
		s.partial()
	}
	return nil
}

// partial sends the current hypothesis if it changed. Sending never
// blocks: a dropped partial is superseded by the next one or the final.
func (s *stream) partial() {
	text := normalizeHyp(s.mode, s.dec.hyp())
	if text == "" || text == s.lastPartial {
		return
	}
	s.lastPartial = text
	res := asr.Result{Segment: call.Segment{
		Text:     text,
		Start:    s.uttStart,
		End:      s.uttStart + s.decoded(),
		Language: call.LangEnglish,
		Engine:   Name,
	}}
	select {
	case s.results <- res:
	default:
	}
}

// decoded is the duration of the current utterance's audio.
func (s *stream) decoded() time.Duration {
	return time.Duration(s.uttSamples) * time.Second / SampleRate
}

// Flush ends the utterance and sends its final result, waiting until the
// consumer takes it, ctx is done or the stream closes. An utterance
// without recognisable words sends nothing.
func (s *stream) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ctx.Err() != nil {
		return asr.ErrClosed
	}
	return s.endUtterance(ctx)
}

// endUtterance ends the current utterance, if any, and sends its final.
// s.mu must be held.
func (s *stream) endUtterance(ctx context.Context) error {
	if !s.inUtt {
		return nil
	}
	s.inUtt = false
	if err := s.dec.endUtt(); err != nil {
		return err
	}
	if !s.adapted {
		// The stream's first utterance was decoded from the fixed initial
		// channel estimate, which suits no caller exactly. Its end left
		// the decoder with an estimate of this caller's channel: decode it
		// again from that. Deterministic (it depends on this stream's
		// audio alone), and later utterances start adapted.
		s.adapted = true
		audio := s.first
		s.first = nil
		s.dec.setCMN(s.dec.cmn())
		if err := s.dec.startUtt(); err != nil {
			return err
		}
		if err := s.dec.process(audio); err != nil {
			return err
		}
		if err := s.dec.endUtt(); err != nil {
			return err
		}
	}
	seg, ok := s.final()
	if !ok {
		return nil
	}
	select {
	case s.results <- asr.Result{Segment: seg}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return asr.ErrClosed
	case <-s.ctx.Done():
		return asr.ErrClosed
	}
}

// final builds the finished utterance's segment from the best path:
// fillers dropped, alternate pronunciations merged, words normalised for
// the mode and timed in stream time.
func (s *stream) final() (call.Segment, bool) {
	hyp := s.dec.hyp() // runs the bestpath search; must precede prob and words
	prob := 0.0        // 0: the engine gives no confidence
	if s.dec.posteriors {
		prob = s.dec.prob()
	}
	end := s.uttStart + s.decoded()
	conf := func(p float64) float64 {
		if !s.dec.posteriors {
			return 0
		}
		return clamp01(p)
	}
	at := func(frame int) time.Duration {
		return min(s.uttStart+time.Duration(frame)*s.dec.frame, end)
	}
	var words []call.Word
	var toks []string
	for _, w := range s.dec.words() {
		t := normalizeWord(s.mode, w.word)
		if t == "" {
			continue
		}
		toks = append(toks, t)
		words = append(words, call.Word{
			Text:       t,
			Start:      at(w.sf),
			End:        at(w.ef + 1),
			Confidence: conf(w.confidence),
		})
	}
	text := joinTokens(s.mode, toks)
	if len(words) == 0 {
		// No segmentation: fall back to the hypothesis string, timed as
		// the whole utterance.
		text = normalizeHyp(s.mode, hyp)
		if text == "" {
			return call.Segment{}, false
		}
		return call.Segment{
			Text: text, Start: s.uttStart, End: end, Confidence: clamp01(prob),
			Language: call.LangEnglish, Final: true, Engine: Name,
		}, true
	}
	if text == "" {
		return call.Segment{}, false
	}
	if s.mode == asr.ModeYesNo {
		words = words[len(words)-1:] // the answer is the last word
	}
	// The segment's confidence is its words' mean posterior: the
	// posterior of the whole path shrinks with every word, so it would
	// rate long utterances low however clear they were.
	var mean float64
	for _, w := range words {
		mean += w.Confidence
	}
	mean /= float64(len(words))
	return call.Segment{
		Text:       text,
		Start:      words[0].Start,
		End:        words[len(words)-1].End,
		Words:      words,
		Confidence: mean,
		Language:   call.LangEnglish,
		Final:      true,
		Engine:     Name,
	}, true
}

func clamp01(p float64) float64 { return max(0, min(1, p)) }

// Close discards any unflushed audio, returns the decoder to the pool and
// closes Results. It may be called more than once and concurrently with a
// blocked Flush, which then returns asr.ErrClosed.
func (s *stream) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.stop()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.closed = true
		s.inUtt = false
		d := s.dec
		s.dec = nil
		close(s.results)
		s.r.put(s.mode, d)
	})
	return nil
}
