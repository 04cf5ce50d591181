// Package tts declares speech synthesis for the prompts spoken to callers.
// Each engine lives in a subpackage: tts/espeak (the embedded default,
// espeak-ng for Mandarin, Cantonese and English) and tts/openai (any
// OpenAI-compatible speech endpoint).
package tts

import (
	"context"
	"errors"
	"fmt"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
)

// SampleRate is the rate of the audio every Synthesizer returns: the
// pipeline's rate, so prompts need no conversion before the call's encoder.
const SampleRate = media.Rate16k

// Rate is the speaking rate relative to the engine's normal pace: 1 is
// normal, below 1 slower ("please speak slower", elderly callers), above 1
// faster. Zero means normal.
type Rate float64

const (
	Normal Rate = 1
	// Slow is the pace used when a caller asks for slower speech.
	Slow Rate = 0.75
)

// Of returns r, with zero meaning Normal, clamped to 0.5..2: beyond that
// speech stops being natural in every engine.
func (r Rate) Of() float64 {
	if r == 0 {
		return 1
	}
	return min(max(float64(r), 0.5), 2)
}

// Synthesizer turns text into speech.
type Synthesizer interface {
	// Name identifies the engine in logs and metrics.
	Name() string
	// Synthesize returns mono 16-bit PCM at SampleRate saying text in
	// lang at rate. The slice belongs to the caller. Empty text is
	// ErrEmptyText; a language the engine cannot speak is
	// ErrUnsupportedLanguage.
	Synthesize(ctx context.Context, text string, lang call.Language, rate Rate) ([]int16, error)
}

// Errors common to engines.
var (
	ErrEmptyText           = errors.New("tts: empty text")
	ErrUnsupportedLanguage = errors.New("tts: language not supported by this engine")
	// ErrEngine wraps a failure of the engine itself (process, server).
	ErrEngine = errors.New("tts: engine failed")
	// ErrNoAudio means the engine returned no usable audio.
	ErrNoAudio = errors.New("tts: engine returned no audio")
)

// DecodeWAV converts an engine's WAV output to mono PCM at SampleRate.
func DecodeWAV(wav []byte) ([]int16, error) {
	a, err := media.DecodeWAV(wav)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoAudio, err)
	}
	pcm, err := a.PCM16(SampleRate)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoAudio, err)
	}
	if len(pcm) == 0 {
		return nil, ErrNoAudio
	}
	return pcm, nil
}
