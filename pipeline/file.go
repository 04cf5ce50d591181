package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/vad"
)

// FileOptions controls how recorded audio is played through the listener.
type FileOptions struct {
	// RealTime paces frames at the speed of speech, as a live call would
	// deliver them; otherwise they go as fast as the stages allow.
	RealTime bool
	// OnResult sees every partial and final as it arrives.
	OnResult func(asr.Result)
}

// FileStats are the measurements of one run.
type FileStats struct {
	Audio      time.Duration    `json:"audio"`
	Wall       time.Duration    `json:"wall"`
	VADTime    time.Duration    `json:"vad_time"`
	ASRTime    time.Duration    `json:"asr_time"`
	Partials   int              `json:"partials"`
	Utterances []UtteranceStats `json:"utterances"`
}

// RTF is the real-time factor: processing time over audio time (below 1 is
// faster than real time). In real-time mode the wall clock includes the
// pacing, so the stages' own time is used.
func (s FileStats) RTF() float64 {
	if s.Audio <= 0 {
		return 0
	}
	return (s.VADTime + s.ASRTime).Seconds() / s.Audio.Seconds()
}

// Transcribe plays 16 kHz mono samples through VAD, endpointing and the
// recognizer, and returns the final segments in order.
func Transcribe(ctx context.Context, samples []int16, det vad.Detector, rec asr.Recognizer, cfg ListenConfig, opt FileOptions, log *slog.Logger) (call.Transcript, FileStats, error) {
	var tr call.Transcript
	var st FileStats
	l, err := NewListener(ctx, det, rec, cfg, log)
	if err != nil {
		det.Close()
		return tr, st, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := range l.Results() {
			if opt.OnResult != nil {
				opt.OnResult(r)
			}
			if r.Final {
				tr.Segments = append(tr.Segments, r.Segment)
			} else {
				st.Partials++
			}
		}
	}()
	start := time.Now()
	runErr := func() error {
		framer, err := media.NewFramer(vad.SampleRate)
		if err != nil {
			return err
		}
		frames := framer.Push(samples)
		if last, ok := framer.Flush(); ok {
			frames = append(frames, last)
		}
		for _, f := range frames {
			if opt.RealTime {
				wait := time.Until(start.Add(f.Offset))
				if wait > 0 {
					select {
					case <-time.After(wait):
					case <-ctx.Done():
						return ctx.Err()
					}
				}
			}
			if err := l.Write(ctx, f); err != nil {
				return err
			}
		}
		return l.Finish(ctx)
	}()
	st.Wall = time.Since(start)
	closeErr := l.Close()
	<-done
	st.VADTime, st.ASRTime, st.Audio = l.Cost()
	st.Utterances = l.Utterances()
	if err := errors.Join(runErr, closeErr); err != nil {
		return tr, st, fmt.Errorf("pipeline: transcribe: %w", err)
	}
	return tr, st, nil
}
