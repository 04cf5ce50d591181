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
	"sync"

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
	// More are the further local servers of asr.speechserver.count; the
	// recognizer spreads utterances over all of them.
	More []*speechd.Supervisor
	// Note says why auto runs without a multilingual engine; empty otherwise.
	Note string

	route *route.Recognizer
	ml    asr.Recognizer // auto's multilingual engine
}

// multilingual is the engine whose server pool readyz reports: auto's
// multilingual engine, or the one engine.
func (s *Set) multilingual() asr.Recognizer {
	if s.ml != nil {
		return s.ml
	}
	return s.Recognizer
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

func openaiEngine(o config.OpenAIClient, baseURL, model string, log *slog.Logger, opts ...asropenai.Option) (asr.Recognizer, error) {
	return asropenai.New(asropenai.Config{BaseURL: baseURL, BaseURLs: o.BaseURLs, APIKey: o.APIKey, Model: model, Timeout: o.Timeout, Retries: o.Retries, Prompt: o.Prompt, SplitAbove: o.SplitAbove}, log, opts...)
}

// supervisors are the set's local speech servers.
func (s *Set) supervisors() []*speechd.Supervisor {
	if s.Supervisor == nil {
		return nil
	}
	return append([]*speechd.Supervisor{s.Supervisor}, s.More...)
}

// anyUp reports whether one of the local servers is ready.
func (s *Set) anyUp() bool {
	for _, sv := range s.supervisors() {
		if sv.Up() {
			return true
		}
	}
	return false
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
			count, threads := a.SpeechServer.Servers()
			sc.Addr, sc.Threads, sc.StartTimeout, sc.Nice = a.SpeechServer.Addr, threads, a.SpeechServer.StartTimeout, a.SpeechServer.Nice
			if a.SpeechServer.Window != "" {
				sc.Args = append(sc.Args, "--window", a.SpeechServer.Window)
			}
			sctx, cancel := context.WithTimeout(ctx, a.SpeechServer.StartTimeout)
			// The servers load their models at once: started together, the
			// wait is one server's, not count of them.
			sups, errs := make([]*speechd.Supervisor, count), make([]error, count)
			var wg sync.WaitGroup
			for i := range sups {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sups[i], errs[i] = speechd.Start(sctx, sc, log.With("speechserver", i))
				}()
			}
			wg.Wait()
			cancel()
			set.Supervisor, set.More = sups[0], sups[1:]
			if err = errors.Join(errs...); err != nil {
				for _, sv := range sups {
					if sv != nil {
						sv.Close()
					}
				}
				set.Supervisor, set.More = nil, nil
				err = fmt.Errorf("%w (set asr.engine=sphinx to run without it)", err)
			}
		}
		if err == nil {
			up = set.anyUp
			health := map[string]func() bool{}
			var more []string
			for i, sv := range set.supervisors() {
				health[sv.BaseURL()] = sv.Up
				if i > 0 {
					more = append(more, sv.BaseURL())
				}
			}
			o := a.OpenAI
			o.BaseURLs = more
			// A local server decodes one request at a time: one decoding
			// and one sent ahead, the rest wait in the node.
			ml, err = openaiEngine(o, set.Supervisor.BaseURL(), set.Supervisor.Model(), log,
				asropenai.WithHealth(func(u string) bool { return health[u] == nil || health[u]() }),
				asropenai.WithMaxInFlight(2))
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
		for _, sv := range set.supervisors() {
			sv.Close()
		}
		return nil, err
	}
	set.Recognizer, set.ml = set.route, ml
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
	if len(s.More) > 0 {
		// Every local server's state, the first one's included.
		var states []speechd.State
		for _, sv := range s.supervisors() {
			states = append(states, sv.State())
		}
		m["speechservers"] = states
	}
	if p, ok := s.multilingual().(interface {
		Servers() []asropenai.ServerStats
	}); ok {
		if st := p.Servers(); len(st) > 1 {
			m["pool"] = st
		}
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
	return s.Supervisor == nil || s.anyUp()
}

// Close closes the recognizer, then stops the speech server.
func (s *Set) Close() error {
	var errs []error
	if s.Recognizer != nil {
		errs = append(errs, s.Recognizer.Close())
	}
	for _, sv := range s.supervisors() {
		errs = append(errs, sv.Close())
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
