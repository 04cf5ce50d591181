package vad

import (
	"fmt"
	"time"

	"github.com/callbrief/callbrief/media"
)

// Segmenter runs a Detector and an Endpointer over 16 kHz frames: it cuts
// the frames into the detector's chunk size, scores them and returns the
// endpointing events. Frames of any length are accepted.
type Segmenter struct {
	det     Detector
	ep      *Endpointer
	buf     []float32
	bufAt   time.Duration // stream time of buf[0]
	started bool
	last    float32
}

// NewSegmenter joins a detector and an endpointing configuration.
func NewSegmenter(det Detector, cfg EndpointConfig) (*Segmenter, error) {
	ep, err := NewEndpointer(cfg)
	if err != nil {
		return nil, err
	}
	return &Segmenter{det: det, ep: ep, buf: make([]float32, 0, det.ChunkSize()*2)}, nil
}

// Detector returns the detector in use.
func (s *Segmenter) Detector() Detector { return s.det }

// InSpeech reports whether an utterance is open.
func (s *Segmenter) InSpeech() bool { return s.ep.InSpeech() }

// Silence is how long the open utterance has been silent, on the
// segmenter's own clock (the chunks it has scored): 0 while speech goes on
// or when no utterance is open. Frame offsets are not used, so a source
// whose timestamps jump or run at another rate cannot fake a pause.
func (s *Segmenter) Silence() time.Duration {
	if !s.ep.InSpeech() {
		return 0
	}
	return max(0, s.bufAt-s.ep.LastSpeech())
}

// Onset is the Endpointer's Onset: speech running towards an utterance.
func (s *Segmenter) Onset() time.Duration { return s.ep.Onset() }

// LastScore is the most recent chunk's speech probability.
func (s *Segmenter) LastScore() float32 { return s.last }

// Process scores f and returns the events it completes.
func (s *Segmenter) Process(f media.Frame) ([]Event, error) {
	if f.Rate != SampleRate {
		return nil, fmt.Errorf("vad: frame at %d Hz: %w (want %d)", f.Rate, media.ErrRateMismatch, SampleRate)
	}
	if !s.started || len(s.buf) == 0 {
		// Anchor chunk timing to the frame offsets so gaps in the stream
		// do not drift the clock.
		s.bufAt = f.Offset - chunkDuration(len(s.buf))
		s.started = true
	}
	for _, v := range f.Samples {
		s.buf = append(s.buf, float32(v)/32768)
	}
	n := s.det.ChunkSize()
	var evs []Event
	for len(s.buf) >= n {
		p, err := s.det.Score(s.buf[:n])
		if err != nil {
			return evs, err
		}
		s.last = p
		d := chunkDuration(n)
		evs = append(evs, s.ep.Push(p, s.bufAt, d)...)
		s.bufAt += d
		s.buf = append(s.buf[:0], s.buf[n:]...)
	}
	return evs, nil
}

// Finish ends the stream at time at, closing any open utterance.
func (s *Segmenter) Finish(at time.Duration) []Event {
	return s.ep.Finish(at)
}
