// Package route picks a recognizer per stream by language: the embedded
// English engine cannot hear Chinese, so a stream whose language hint is
// Chinese goes to the engine configured for Chinese (an OpenAI-compatible
// server such as the Whisper speechserver), and every other stream to the
// default engine.
package route

import (
	"context"
	"errors"
	"fmt"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
)

// Recognizer routes streams between two engines of the same sample rate.
type Recognizer struct {
	def, chinese asr.Recognizer
}

// New routes Chinese streams to chinese and the rest to def.
func New(def, chinese asr.Recognizer) (*Recognizer, error) {
	if def == nil || chinese == nil {
		return nil, errors.New("asr/route: both engines are required")
	}
	if def.SampleRate() != chinese.SampleRate() {
		return nil, fmt.Errorf("asr/route: %s runs at %d Hz but %s at %d Hz", def.Name(), def.SampleRate(), chinese.Name(), chinese.SampleRate())
	}
	return &Recognizer{def: def, chinese: chinese}, nil
}

// Name implements asr.Recognizer.
func (r *Recognizer) Name() string { return r.def.Name() + "+zh:" + r.chinese.Name() }

// SampleRate implements asr.Recognizer.
func (r *Recognizer) SampleRate() int { return r.def.SampleRate() }

// For returns the engine a stream in language lang goes to.
func (r *Recognizer) For(lang call.Language) asr.Recognizer {
	if lang.IsChinese() {
		return r.chinese
	}
	return r.def
}

// NewStream implements asr.Recognizer.
func (r *Recognizer) NewStream(ctx context.Context, cfg asr.StreamConfig) (asr.Stream, error) {
	return r.For(cfg.Language).NewStream(ctx, cfg)
}

// Close implements asr.Recognizer; it closes both engines.
func (r *Recognizer) Close() error {
	return errors.Join(r.def.Close(), r.chinese.Close())
}
