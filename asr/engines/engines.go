// Package engines builds the recognizer the configuration asks for
// (config.ASR): pocketsphinx, an OpenAI-compatible server, or, by default
// (asr.engine auto), a multilingual engine for every caller with
// pocketsphinx for digit and yes/no grammars and as the fallback. Under
// auto with no asr.openai.base_url the multilingual engine is the local
// Whisper speech server, started and supervised here (asr/speechd).
package engines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/callbrief/callbrief/asr"
	asropenai "github.com/callbrief/callbrief/asr/openai"
	"github.com/callbrief/callbrief/asr/route"
	"github.com/callbrief/callbrief/asr/speechd"
	"github.com/callbrief/callbrief/asr/sphinx"
	"github.com/callbrief/callbrief/config"
)

// Set is the built recognizer and what it depends on.
type Set struct {
	// Recognizer is what calls open streams on.
	Recognizer asr.Recognizer
	// Supervisor runs the local speech server; nil when none is supervised
	// (another engine, a configured base_url, or not installed).
	Supervisor *speechd.Supervisor
	// Note says why auto runs without a multilingual engine; empty otherwise.
	Note string

	route *route.Recognizer
}

// New builds the recognizer of cfg.ASR. cacheDir is the model cache (the
// speech server's venv and model live there). Under auto it starts the
// speech server and waits for it, within asr.speechserver.start_timeout
// and ctx. Close releases everything.
func New(ctx context.Context, cfg config.Config, cacheDir string, log *slog.Logger) (*Set, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := cfg.ASR
	switch a.Engine {
	case "sphinx", "openai":
		def, err := engine(a, a.Engine, log)
		if err != nil || a.ChineseEngine == "" || a.ChineseEngine == a.Engine {
			return &Set{Recognizer: def}, err
		}
		zh, err := engine(a, a.ChineseEngine, log)
		if err != nil {
			def.Close()
			return nil, err
		}
		r, err := route.New(def, zh)
		if err != nil {
			errors.Join(def.Close(), zh.Close())
			return nil, err
		}
		return &Set{Recognizer: r, route: r}, nil
	case "auto":
		return auto(ctx, cfg, cacheDir, log)
	}
	return nil, fmt.Errorf("asr.engine %q unknown", a.Engine)
}

func engine(a config.ASR, name string, log *slog.Logger) (asr.Recognizer, error) {
	switch name {
	case "sphinx":
		c := sphinx.DefaultConfig()
		c.ModelDir = a.Sphinx.ModelDir
		return sphinx.New(c, log)
	case "openai":
		return openaiEngine(a.OpenAI, a.OpenAI.BaseURL, a.OpenAI.Model, log)
	}
	return nil, fmt.Errorf("asr engine %q unknown", name)
}

func openaiEngine(o config.OpenAIClient, baseURL, model string, log *slog.Logger) (asr.Recognizer, error) {
	return asropenai.New(asropenai.Config{BaseURL: baseURL, APIKey: o.APIKey, Model: model, Timeout: o.Timeout, Retries: o.Retries, Prompt: o.Prompt}, log)
}

func auto(ctx context.Context, cfg config.Config, cacheDir string, log *slog.Logger) (*Set, error) {
	a := cfg.ASR
	fallback, err := engine(a, "sphinx", log)
	if err != nil {
		return nil, err
	}
	set := &Set{}
	var ml asr.Recognizer
	var up func() bool
	if a.OpenAI.BaseURL != "" {
		// Someone else runs the server: nothing to supervise.
		ml, err = openaiEngine(a.OpenAI, a.OpenAI.BaseURL, a.OpenAI.Model, log)
	} else {
		var sc speechd.Config
		sc, err = speechd.Locate(cacheDir)
		if errors.Is(err, speechd.ErrNotInstalled) {
			set.Recognizer = fallback
			set.Note = "speech server not installed: every stream on pocketsphinx (English only); run speechserver/setup.sh or scripts/setup.sh"
			log.Warn("asr: "+set.Note, "err", err)
			return set, nil
		}
		if err == nil {
			sc.Addr, sc.Threads, sc.StartTimeout = a.SpeechServer.Addr, a.SpeechServer.Threads, a.SpeechServer.StartTimeout
			sctx, cancel := context.WithTimeout(ctx, a.SpeechServer.StartTimeout)
			set.Supervisor, err = speechd.Start(sctx, sc, log)
			cancel()
			if err != nil {
				err = fmt.Errorf("%w (set asr.engine=sphinx to run without it)", err)
			}
		}
		if err == nil {
			up = set.Supervisor.Up
			ml, err = openaiEngine(a.OpenAI, set.Supervisor.BaseURL(), set.Supervisor.Model(), log)
		}
	}
	if err == nil {
		set.route, err = route.NewPolicy(route.Policy{Multilingual: ml, Fallback: fallback, Up: up, Log: log,
			EnglishOnMultilingual: a.English == "multilingual", GrammarsOnFallback: a.Grammars == "sphinx"})
	}
	if err != nil {
		fallback.Close()
		if ml != nil {
			ml.Close()
		}
		if set.Supervisor != nil {
			set.Supervisor.Close()
		}
		return nil, err
	}
	set.Recognizer = set.route
	log.Info("asr: multilingual engine for every caller, pocketsphinx for grammars and as the fallback",
		"engine", set.route.Name(), "english", a.English, "grammars", a.Grammars)
	return set, nil
}

// Status is the recognizer's part of readyz: the engine, and the speech
// server's state and the streams that fell back while it was down, when
// there are such.
func (s *Set) Status() map[string]any {
	m := map[string]any{"engine": s.Recognizer.Name()}
	if s.Supervisor != nil {
		m["speechserver"] = s.Supervisor.State()
	}
	if s.route != nil {
		m["fallback_streams"] = s.route.Fallbacks()
	}
	if s.Note != "" {
		m["note"] = s.Note
	}
	return m
}

// Ready reports whether the recognizer hears what it is configured to:
// false while the supervised speech server is not ready (streams then
// fall back to pocketsphinx, so calls still go on).
func (s *Set) Ready() bool {
	return s.Supervisor == nil || s.Supervisor.Up()
}

// Close closes the recognizer, then stops the speech server.
func (s *Set) Close() error {
	var errs []error
	if s.Recognizer != nil {
		errs = append(errs, s.Recognizer.Close())
	}
	if s.Supervisor != nil {
		errs = append(errs, s.Supervisor.Close())
	}
	return errors.Join(errs...)
}

// Owning returns the recognizer as one whose Close closes the whole set
// (the speech server too), for callers that hold only an asr.Recognizer.
func (s *Set) Owning() asr.Recognizer { return owning{Recognizer: s.Recognizer, set: s} }

type owning struct {
	asr.Recognizer
	set *Set
}

func (o owning) Close() error { return o.set.Close() }
