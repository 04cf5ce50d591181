// Package asr declares the speech recognition stage: a Recognizer opens
// Streams; a Stream takes 16 kHz frames and emits partial and final
// hypotheses. Each engine lives in a subpackage (asr/sphinx, asr/openai).
package asr

import (
	"context"
	"errors"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
)

// Mode constrains what a stream may recognise.
type Mode int

const (
	// ModeFree is open-vocabulary recognition of natural speech.
	ModeFree Mode = iota
	// ModeDigits recognises a string of spoken digits (account numbers,
	// verification codes). Final text is the digits with no spaces, e.g. "4821".
	ModeDigits
	// ModeYesNo recognises a yes or no answer. Final text is "yes" or "no",
	// or empty when neither was heard.
	ModeYesNo
)

func (m Mode) String() string {
	switch m {
	case ModeFree:
		return "free"
	case ModeDigits:
		return "digits"
	case ModeYesNo:
		return "yesno"
	}
	return "unknown"
}

// StreamConfig configures one stream.
type StreamConfig struct {
	// Language is a hint; engines that cannot use it ignore it. Empty means
	// the engine's default.
	Language call.Language
	Mode     Mode
}

// Result is one hypothesis. Segment.Final tells a partial from a final.
// Timings are in stream time: the Offset of the frames written.
type Result struct {
	call.Segment
}

// Recognizer is a speech recognition engine. It is safe for concurrent use:
// many calls open streams on one recognizer.
type Recognizer interface {
	// Name identifies the engine in results, logs and metrics.
	Name() string
	// SampleRate is the rate frames written to its streams must have.
	SampleRate() int
	// NewStream opens a stream. The stream lives until Close or until ctx
	// is done.
	NewStream(ctx context.Context, cfg StreamConfig) (Stream, error)
	// Close releases the engine's models. Streams must be closed first.
	Close() error
}

// Stream recognises one caller's audio.
//
// Contract: Write is called from one goroutine with frames in order. Partial
// results may be dropped when the consumer is slow (a newer one supersedes
// them); final results are never dropped: Write and Flush block on the
// results channel until the consumer takes the final or ctx is done.
// Results is closed after Close returns. An utterance that contained no
// recognisable speech yields no final result.
type Stream interface {
	// Write feeds one frame. The stream copies what it keeps; the caller
	// may reuse f.Samples after Write returns.
	Write(ctx context.Context, f media.Frame) error
	// Flush ends the current utterance (the endpointer heard its end) and
	// emits its final result, if any, before returning.
	Flush(ctx context.Context) error
	// Results delivers partial and final hypotheses.
	Results() <-chan Result
	// Close ends the stream without emitting a final for audio not flushed.
	Close() error
}

// Independent is implemented by streams whose utterances are each
// recognised from their own audio alone, with no state carried from one
// to the next (an adaptation, a decoder's history), so that utterances
// may as well be recognised on separate streams at once.
type Independent interface {
	IndependentUtterances() bool
}

// Errors common to engines.
var (
	// ErrClosed is returned by Write or Flush after Close.
	ErrClosed = errors.New("asr: stream closed")
	// ErrUnsupportedMode is returned by NewStream for a mode the engine lacks.
	ErrUnsupportedMode = errors.New("asr: mode not supported by this engine")
	// ErrUnsupportedLanguage is returned by NewStream for a language the engine lacks.
	ErrUnsupportedLanguage = errors.New("asr: language not supported by this engine")
	// ErrModelMissing is returned when an engine's model files are absent.
	ErrModelMissing = errors.New("asr: model files missing (run `make setup` or `scripts/setup.sh`)")
)
