package vad

import (
	"fmt"
	"time"
)

// EndpointConfig sets when an utterance starts and ends.
type EndpointConfig struct {
	// Threshold is the speech probability at or above which a chunk is speech.
	Threshold float32 `yaml:"threshold"`
	// NegThreshold is the probability below which a chunk is silence; between
	// the two the previous state holds (hysteresis). Default Threshold-0.15.
	NegThreshold float32 `yaml:"neg_threshold"`
	// MinSpeech is how much speech must accumulate before an utterance is
	// declared, so coughs and clicks do not open one.
	MinSpeech time.Duration `yaml:"min_speech"`
	// Hangover is how long silence must last before the utterance ends, so
	// pauses between words do not cut it.
	Hangover time.Duration `yaml:"hangover"`
	// MaxUtterance forces an end so a caller who never pauses (or constant
	// noise) still gets finals.
	MaxUtterance time.Duration `yaml:"max_utterance"`
}

// DefaultEndpointConfig suits telephone speech.
func DefaultEndpointConfig() EndpointConfig {
	return EndpointConfig{
		Threshold:    0.5,
		NegThreshold: 0.35,
		MinSpeech:    250 * time.Millisecond,
		Hangover:     600 * time.Millisecond,
		MaxUtterance: 20 * time.Second,
	}
}

// Validate names the first bad field.
func (c EndpointConfig) Validate() error {
	switch {
	case c.Threshold <= 0 || c.Threshold >= 1:
		return fmt.Errorf("vad: threshold %v must be between 0 and 1", c.Threshold)
	case c.NegThreshold < 0 || c.NegThreshold > c.Threshold:
		return fmt.Errorf("vad: neg_threshold %v must be between 0 and threshold (%v)", c.NegThreshold, c.Threshold)
	case c.MinSpeech < 0:
		return fmt.Errorf("vad: min_speech %v must not be negative", c.MinSpeech)
	case c.Hangover <= 0:
		return fmt.Errorf("vad: hangover %v must be positive", c.Hangover)
	case c.MaxUtterance <= c.MinSpeech:
		return fmt.Errorf("vad: max_utterance %v must exceed min_speech %v", c.MaxUtterance, c.MinSpeech)
	}
	return nil
}

// EventKind tells a start from an end.
type EventKind int

const (
	// SpeechStart: an utterance began at Event.At.
	SpeechStart EventKind = iota + 1
	// SpeechEnd: the utterance ended at Event.At (the start of the silence
	// that closed it, not the moment the hangover ran out).
	SpeechEnd
)

func (k EventKind) String() string {
	if k == SpeechStart {
		return "start"
	}
	return "end"
}

// Event is an endpointing decision. At is stream time; Decided is the stream
// time at which the decision could be made (At plus MinSpeech or Hangover),
// which is what end-of-speech latency is measured from.
type Event struct {
	Kind    EventKind
	At      time.Duration
	Decided time.Duration
	// Forced is set on an end caused by MaxUtterance.
	Forced bool
}

// Endpointer is a state machine over chunk scores. It is pure: the same
// scores give the same events, so it is tested without audio.
type Endpointer struct {
	cfg        EndpointConfig
	inSpeech   bool
	candidate  time.Duration // start of pending speech (or silence in speech)
	pending    bool
	speechRun  time.Duration // speech accumulated in the pending start
	start      time.Duration // start of the current utterance
	lastSpeech time.Duration // end of the last speech chunk
}

// NewEndpointer validates cfg and returns an endpointer.
func NewEndpointer(cfg EndpointConfig) (*Endpointer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Endpointer{cfg: cfg}, nil
}

// InSpeech reports whether an utterance is open.
func (e *Endpointer) InSpeech() bool { return e.inSpeech }

// LastSpeech is the stream time at which the last speech chunk ended.
func (e *Endpointer) LastSpeech() time.Duration { return e.lastSpeech }

// Onset is how much speech has run so far towards an utterance that is
// not yet decided (MinSpeech not reached), and MinSpeech once one is open:
// what barge-in acts on, earlier than SpeechStart.
func (e *Endpointer) Onset() time.Duration {
	switch {
	case e.inSpeech:
		return e.cfg.MinSpeech
	case e.pending:
		return e.speechRun
	}
	return 0
}

// Push takes the score of the chunk that starts at `at` and lasts d, and
// returns the events it causes (at most an end and a start).
func (e *Endpointer) Push(p float32, at, d time.Duration) []Event {
	end := at + d
	var evs []Event
	if !e.inSpeech {
		switch {
		case p >= e.cfg.Threshold:
			if !e.pending {
				e.pending, e.candidate, e.speechRun = true, at, 0
			}
			e.speechRun += d
			e.lastSpeech = end
			if e.speechRun >= e.cfg.MinSpeech {
				e.inSpeech, e.pending, e.start = true, false, e.candidate
				evs = append(evs, Event{Kind: SpeechStart, At: e.start, Decided: end})
			}
		case p < e.cfg.NegThreshold:
			// Silence before MinSpeech was reached: the blip was not speech,
			// unless the gap is short enough to be within a word.
			if e.pending && end-e.lastSpeech > e.cfg.Hangover/2 {
				e.pending = false
			}
		}
		return evs
	}
	if p >= e.cfg.NegThreshold {
		if p >= e.cfg.Threshold || end-e.lastSpeech < d*2 {
			e.lastSpeech = end
		}
	}
	switch {
	case end-e.lastSpeech >= e.cfg.Hangover:
		e.inSpeech = false
		evs = append(evs, Event{Kind: SpeechEnd, At: e.lastSpeech, Decided: end})
	case end-e.start >= e.cfg.MaxUtterance:
		evs = append(evs, Event{Kind: SpeechEnd, At: end, Decided: end, Forced: true})
		// The caller is still talking: the next utterance starts right away.
		e.start = end
		evs = append(evs, Event{Kind: SpeechStart, At: end, Decided: end})
	}
	return evs
}

// Finish closes an open utterance at the end of the stream.
func (e *Endpointer) Finish(at time.Duration) []Event {
	if !e.inSpeech {
		e.pending = false
		return nil
	}
	e.inSpeech = false
	return []Event{{Kind: SpeechEnd, At: min(e.lastSpeech, at), Decided: at}}
}
