// Package route picks a recognizer per stream. The embedded engine
// (pocketsphinx) hears US English only, so Chinese streams go to a
// multilingual engine (Whisper behind the OpenAI API). Two policies:
//
//   - New (hint only): a stream whose language hint is Chinese goes to the
//     multilingual engine, every other stream to the default engine.
//   - NewPolicy (audio first): a stream with no language hint goes to the
//     multilingual engine, which decides the language from the audio and
//     tags its finals with it; so do Chinese streams and, when
//     EnglishOnMultilingual, English ones. Digit and yes/no grammar streams
//     may stay on the embedded engine, and when the multilingual engine is
//     down (Up reports false) streams fall back to the embedded engine.
package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
)

// ErrUnavailable is returned for a Chinese stream while the multilingual
// engine is down: the fallback would write Chinese speech as English
// words, which is worse than no transcript.
var ErrUnavailable = errors.New("asr/route: the multilingual engine is down")

// Policy configures NewPolicy.
type Policy struct {
	// Multilingual hears streams without a hint and Chinese ones.
	Multilingual asr.Recognizer
	// Fallback is the embedded engine: grammar streams when
	// GrammarsOnFallback, English streams unless EnglishOnMultilingual,
	// and unhinted and English streams while Multilingual is down.
	Fallback asr.Recognizer
	// EnglishOnMultilingual sends English-hinted free speech to
	// Multilingual too (Whisper base: WER 0% against pocketsphinx's 16.7%
	// on the LibriSpeech clip).
	EnglishOnMultilingual bool
	// GrammarsOnFallback keeps digit and yes/no streams in English (or
	// without a hint) on the embedded engine's grammars.
	GrammarsOnFallback bool
	// Up reports whether Multilingual can take a stream now (the speech
	// server's supervisor); nil means always.
	Up func() bool
	// Log gets a warning for each stream sent to the fallback because
	// Multilingual was down; nil discards.
	Log *slog.Logger
}

// Recognizer routes streams between two engines of the same sample rate.
type Recognizer struct {
	p        Policy
	hintOnly bool
	fallback atomic.Int64
}

// New routes Chinese-hinted streams to chinese and the rest to def.
func New(def, chinese asr.Recognizer) (*Recognizer, error) {
	r, err := NewPolicy(Policy{Multilingual: chinese, Fallback: def})
	if r != nil {
		r.hintOnly = true
	}
	return r, err
}

// NewPolicy routes by p (see the package comment).
func NewPolicy(p Policy) (*Recognizer, error) {
	if p.Fallback == nil || p.Multilingual == nil {
		return nil, errors.New("asr/route: both engines are required")
	}
	if p.Fallback.SampleRate() != p.Multilingual.SampleRate() {
		return nil, fmt.Errorf("asr/route: %s runs at %d Hz but %s at %d Hz", p.Fallback.Name(), p.Fallback.SampleRate(), p.Multilingual.Name(), p.Multilingual.SampleRate())
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	return &Recognizer{p: p}, nil
}

// Name implements asr.Recognizer.
func (r *Recognizer) Name() string {
	if r.hintOnly {
		return r.p.Fallback.Name() + "+zh:" + r.p.Multilingual.Name()
	}
	return r.p.Multilingual.Name() + "+fallback:" + r.p.Fallback.Name()
}

// SampleRate implements asr.Recognizer.
func (r *Recognizer) SampleRate() int { return r.p.Fallback.SampleRate() }

// Fallbacks counts the streams sent to the fallback because the
// multilingual engine was down.
func (r *Recognizer) Fallbacks() int64 { return r.fallback.Load() }

// For returns the engine a stream of cfg goes to and whether it is there
// only because the multilingual engine is down.
func (r *Recognizer) For(cfg asr.StreamConfig) (rec asr.Recognizer, fellBack bool, err error) {
	lang := cfg.Language
	if lang == call.LangUndetermined {
		lang = ""
	}
	if r.hintOnly {
		if lang.IsChinese() {
			return r.p.Multilingual, false, nil
		}
		return r.p.Fallback, false, nil
	}
	english := lang == call.LangEnglish || len(lang) > 3 && lang[:3] == "en-"
	if cfg.Mode != asr.ModeFree && r.p.GrammarsOnFallback && (english || lang == "") {
		return r.p.Fallback, false, nil
	}
	if english && !r.p.EnglishOnMultilingual {
		return r.p.Fallback, false, nil
	}
	if r.p.Up == nil || r.p.Up() {
		return r.p.Multilingual, false, nil
	}
	if lang != "" && !english {
		return nil, true, fmt.Errorf("%w: no engine can hear %q until it is back", ErrUnavailable, lang)
	}
	return r.p.Fallback, true, nil
}

// NewStream implements asr.Recognizer. A stream on the fallback because
// the multilingual engine was down stays there for its life; its finals
// carry the fallback's engine name.
func (r *Recognizer) NewStream(ctx context.Context, cfg asr.StreamConfig) (asr.Stream, error) {
	rec, fellBack, err := r.For(cfg)
	if err != nil {
		return nil, err
	}
	if fellBack {
		r.fallback.Add(1)
		r.p.Log.WarnContext(ctx, "multilingual engine down: stream on the embedded English engine",
			"engine", r.p.Multilingual.Name(), "fallback", r.p.Fallback.Name(), "language", cfg.Language, "mode", cfg.Mode)
		if cfg.Language == call.LangUndetermined {
			cfg.Language = ""
		}
	}
	return rec.NewStream(ctx, cfg)
}

// Close implements asr.Recognizer; it closes both engines.
func (r *Recognizer) Close() error {
	return errors.Join(r.p.Fallback.Close(), r.p.Multilingual.Close())
}
