// Package openai synthesizes prompts on any OpenAI-compatible speech
// endpoint (/v1/audio/speech), for operators with a better voice than
// espeak-ng.
package openai

import (
	"context"
	"fmt"
	"io"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/tts"
)

// MaxAudioBytes bounds a response: a minute of 24 kHz 16-bit WAV.
const MaxAudioBytes = 60 * 24000 * 2

// Config addresses the endpoint.
type Config struct {
	BaseURL string // e.g. https://api.openai.com/v1 or a local server's /v1
	APIKey  string
	Model   string // default "tts-1"
	Voice   string // default "alloy"
}

// Engine calls the speech endpoint once per prompt.
type Engine struct {
	c   *goopenai.Client
	cfg Config
}

// New returns an engine for cfg.
func New(cfg Config) (*Engine, error) {
	if cfg.BaseURL == "" {
		return nil, fmt.Errorf("%w: openai speech: base URL required", tts.ErrEngine)
	}
	if cfg.Model == "" {
		cfg.Model = "tts-1"
	}
	if cfg.Voice == "" {
		cfg.Voice = "alloy"
	}
	oc := goopenai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = cfg.BaseURL
	return &Engine{c: goopenai.NewClientWithConfig(oc), cfg: cfg}, nil
}

// Name implements tts.Synthesizer.
func (e *Engine) Name() string { return "openai:" + e.cfg.Model }

// Synthesize implements tts.Synthesizer. The endpoint infers the language
// from the text, so lang only rejects what the hotline does not serve.
func (e *Engine) Synthesize(ctx context.Context, text string, lang call.Language, rate tts.Rate) ([]int16, error) {
	if text == "" {
		return nil, tts.ErrEmptyText
	}
	switch lang {
	case call.LangEnglish, call.LangMandarin, call.LangCantonese, call.LangChinese, call.LangWu, call.LangUndetermined:
	default:
		return nil, fmt.Errorf("%w: %q", tts.ErrUnsupportedLanguage, lang)
	}
	resp, err := e.c.CreateSpeech(ctx, goopenai.CreateSpeechRequest{
		Model: goopenai.SpeechModel(e.cfg.Model), Input: text, Voice: goopenai.SpeechVoice(e.cfg.Voice),
		ResponseFormat: goopenai.SpeechResponseFormatWav, Speed: rate.Of(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s speech: %w", tts.ErrEngine, e.cfg.BaseURL, err)
	}
	defer resp.Close()
	b, err := io.ReadAll(io.LimitReader(resp, MaxAudioBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading speech: %w", tts.ErrEngine, err)
	}
	if len(b) > MaxAudioBytes {
		return nil, fmt.Errorf("%w: speech longer than %d bytes", tts.ErrNoAudio, MaxAudioBytes)
	}
	return tts.DecodeWAV(b)
}
