// Package pipeline runs one call through callbrief's stages. Listener is
// the first stage: 16 kHz frames in, voice activity detection and
// endpointing, speech recognition fed only with speech (plus a little audio
// before it), partial and final hypotheses out.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/vad"
)

// ListenConfig tunes the listener.
type ListenConfig struct {
	Endpoint vad.EndpointConfig
	// PreRoll is audio from before the detected start that is still given
	// to the recognizer: VAD decides late and word onsets are quiet.
	PreRoll time.Duration
	Stream  asr.StreamConfig
}

// UtteranceStats describes one endpointed utterance.
type UtteranceStats struct {
	Start, End time.Duration // stream time
	Forced     bool          // cut by the maximum utterance length
	// EndpointDelay is stream time from the end of speech to the moment
	// the endpointer could decide it ended (the hangover, in effect).
	EndpointDelay time.Duration
	// FinalLatency is wall time from that decision to the final result
	// being delivered (the recognizer's flush).
	FinalLatency time.Duration
}

// Listener joins a Segmenter and an asr.Stream. Write is called from one
// goroutine; Results must be drained concurrently (finals block until
// taken, as the asr.Stream contract says).
type Listener struct {
	seg    *vad.Segmenter
	stream asr.Stream
	log    *slog.Logger
	cfg    ListenConfig

	ring      []media.Frame // recent frames kept for pre-roll
	ringDur   time.Duration
	inSpeech  bool
	curStart  time.Duration
	lastEnd   time.Duration // end of the last frame written to the recognizer
	seenEnd   time.Duration // end of the last frame received
	utts      []UtteranceStats
	closed    bool
	vadTime   time.Duration
	asrTime   time.Duration
	audioTime time.Duration
}

// NewListener opens a recognition stream on rec and returns a listener that
// owns it and det.
func NewListener(ctx context.Context, det vad.Detector, rec asr.Recognizer, cfg ListenConfig, log *slog.Logger) (*Listener, error) {
	if rec.SampleRate() != vad.SampleRate {
		return nil, fmt.Errorf("pipeline: recognizer %s runs at %d Hz, VAD at %d Hz", rec.Name(), rec.SampleRate(), vad.SampleRate)
	}
	seg, err := vad.NewSegmenter(det, cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	st, err := rec.NewStream(ctx, cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("pipeline: open %s stream: %w", rec.Name(), err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.PreRoll <= 0 {
		cfg.PreRoll = 300 * time.Millisecond
	}
	// The ring must reach back over the endpointer's MinSpeech (decided
	// late) plus the pre-roll plus one detector chunk.
	return &Listener{seg: seg, stream: st, log: log, cfg: cfg,
		ringDur: cfg.PreRoll + cfg.Endpoint.MinSpeech + 100*time.Millisecond}, nil
}

// Results delivers the recognizer's partial and final hypotheses. It is
// closed after Close.
func (l *Listener) Results() <-chan asr.Result { return l.stream.Results() }

// Write takes one 16 kHz frame.
func (l *Listener) Write(ctx context.Context, f media.Frame) error {
	if l.closed {
		return asr.ErrClosed
	}
	l.audioTime += f.Duration()
	t0 := time.Now()
	evs, err := l.seg.Process(f)
	l.vadTime += time.Since(t0)
	if err != nil {
		return fmt.Errorf("pipeline: vad: %w", err)
	}
	wasInSpeech := l.inSpeech
	fend := f.Offset + f.Duration()
	l.seenEnd = max(l.seenEnd, fend)
	// The frame joins the ring first so that a start detected in it
	// replays it along with the pre-roll.
	l.remember(f)
	for _, ev := range evs {
		if err := l.handle(ctx, ev); err != nil {
			return err
		}
	}
	if l.inSpeech && wasInSpeech && fend > l.lastEnd {
		// Steady speech: pass the frame straight on. Frames replayed from
		// the ring at a start were already written in handle.
		if err := l.write(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

func (l *Listener) handle(ctx context.Context, ev vad.Event) error {
	switch ev.Kind {
	case vad.SpeechStart:
		l.inSpeech, l.curStart = true, ev.At
		l.log.Debug("speech start", "at", ev.At)
		if ev.At > 0 && len(l.utts) > 0 && l.utts[len(l.utts)-1].Forced && l.utts[len(l.utts)-1].End == ev.At {
			return nil // continuation after a forced cut: nothing to replay
		}
		from := ev.At - l.cfg.PreRoll
		for _, rf := range l.ring {
			if rf.Offset+rf.Duration() > from && rf.Offset+rf.Duration() > l.lastEnd {
				if err := l.write(ctx, rf); err != nil {
					return err
				}
			}
		}
	case vad.SpeechEnd:
		l.inSpeech = false
		t0 := time.Now()
		err := l.stream.Flush(ctx)
		lat := time.Since(t0)
		l.asrTime += lat
		l.utts = append(l.utts, UtteranceStats{Start: l.curStart, End: ev.At, Forced: ev.Forced,
			EndpointDelay: ev.Decided - ev.At, FinalLatency: lat})
		l.log.Debug("speech end", "at", ev.At, "forced", ev.Forced, "final_latency", lat)
		if err != nil {
			return fmt.Errorf("pipeline: flush: %w", err)
		}
	}
	return nil
}

func (l *Listener) write(ctx context.Context, f media.Frame) error {
	t0 := time.Now()
	err := l.stream.Write(ctx, f)
	l.asrTime += time.Since(t0)
	if err != nil {
		return fmt.Errorf("pipeline: asr write: %w", err)
	}
	l.lastEnd = f.Offset + f.Duration()
	return nil
}

func (l *Listener) remember(f media.Frame) {
	l.ring = append(l.ring, f)
	var keep int
	last := f.Offset + f.Duration()
	for keep < len(l.ring) && last-l.ring[keep].Offset > l.ringDur {
		keep++
	}
	if keep > 0 {
		l.ring = append(l.ring[:0], l.ring[keep:]...)
	}
}

// Finish ends the audio: an open utterance is closed and flushed.
func (l *Listener) Finish(ctx context.Context) error {
	if l.closed {
		return asr.ErrClosed
	}
	for _, ev := range l.seg.Finish(l.seenEnd) {
		if err := l.handle(ctx, ev); err != nil {
			return err
		}
	}
	if w, ok := l.stream.(waiter); ok {
		// Utterances recognised at once (turns.go): the audio has ended
		// when their finals are out.
		if err := w.Wait(ctx); err != nil {
			return fmt.Errorf("pipeline: flush: %w", err)
		}
	}
	return nil
}

// Close releases the stream and the detector. Results is closed.
func (l *Listener) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	return errors.Join(l.stream.Close(), l.seg.Detector().Close())
}

// Utterances returns what the endpointer cut so far.
func (l *Listener) Utterances() []UtteranceStats { return l.utts }

// Cost is the processing time spent in VAD and in the recognizer, and the
// audio time consumed.
func (l *Listener) Cost() (vadTime, asrTime, audio time.Duration) {
	return l.vadTime, l.asrTime, l.audioTime
}
