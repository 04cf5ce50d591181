// Package app is callbrief's one composition root: it builds every stage
// once from config.Config, and is the only place that chooses engines,
// stores, secrets and demo data. `serve`, `call`, `transcribe` and every
// evaluation build through it, so that what is measured is what is served.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/callbrief/callbrief/obs"
	ttsopenai "github.com/callbrief/callbrief/tts/openai"

	"github.com/callbrief/callbrief/asr"
	asrengines "github.com/callbrief/callbrief/asr/engines"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/models"
	"github.com/callbrief/callbrief/tts"
	"github.com/callbrief/callbrief/tts/espeak"
)

// engines is the one place where configuration picks each stage's engine:
// an embedded default unless a remote backend is configured.
type Engines struct {
	cfg   config.Config
	log   *slog.Logger
	cache *models.Cache

	closers []func() error

	once   sync.Once
	silero *vad.SileroModel
	// batch scores every stream's VAD chunks together, one worker per
	// core: half the cost per stream of scoring each alone once calls
	// overlap (docs/webrtc.md).
	batch  *vad.Batcher
	vadErr error

	metrics *obs.Metrics

	embOnce sync.Once
	emb     *kb.QueryCache
	embErr  error

	kbOnce  sync.Once
	kbBase  handoff.KB
	kbErr   error
	kbMu    sync.Mutex
	kbState KBState

	asrMu sync.Mutex
	asr   *asrengines.Set // the last recognizer built, for readyz

	// now is the stack's clock (nil: the wall clock); see WithClock.
	now func() time.Time
}

// WithClock makes the stacks built over e keep time by now: the
// verifier's night mode and lockouts, the handoff engine and the
// in-process store's expiry. Evaluations use it to place calls by day and
// by night and to let lockouts expire between attacks; `serve` never sets
// it. Call it before BuildStack.
func (e *Engines) WithClock(now func() time.Time) *Engines {
	e.now = now
	return e
}

// NewEngines prepares the engines of cfg; each is loaded on first use.
func NewEngines(cfg config.Config, log *slog.Logger) (*Engines, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := cfg.CacheDir
	if dir == "" {
		dir = models.DefaultCacheDir()
	}
	cache, err := models.NewCache(dir, log)
	if err != nil {
		return nil, err
	}
	return &Engines{cfg: cfg, log: log, cache: cache, metrics: obs.New()}, nil
}

// loadSilero loads the Silero model once.
func (e *Engines) loadSilero() (*vad.SileroModel, error) {
	e.once.Do(func() {
		rt, err := e.cache.Path("onnxruntime", "libonnxruntime.so")
		if err != nil {
			e.vadErr = err
			return
		}
		m, err := e.cache.Path("silero-vad", "silero_vad_v5.onnx")
		if err != nil {
			e.vadErr = err
			return
		}
		e.silero, e.vadErr = vad.LoadSilero(rt, m, e.cfg.VAD.Threads)
		if e.vadErr == nil {
			e.batch = e.silero.NewBatcher(runtime.GOMAXPROCS(0), 64)
		}
	})
	return e.silero, e.vadErr
}

// NewDetector returns a fresh detector for one stream.
func (e *Engines) NewDetector() (vad.Detector, error) {
	switch e.cfg.VAD.Engine {
	case "energy":
		return vad.NewEnergy(vad.EnergyConfig{}), nil
	case "silero":
		if _, err := e.loadSilero(); err != nil {
			return nil, fmt.Errorf("vad.engine silero: %w", err)
		}
		return e.batch.NewDetector(), nil
	case "auto":
		if _, err := e.loadSilero(); err != nil {
			e.log.Warn("Silero VAD unavailable, using the energy detector", "err", err)
			return vad.NewEnergy(vad.EnergyConfig{}), nil
		}
		return e.batch.NewDetector(), nil
	}
	return nil, fmt.Errorf("vad.engine %q unknown", e.cfg.VAD.Engine)
}

// Recognizer builds the configured ASR engine (asr/engines): by default
// the supervised local Whisper server for every caller, pocketsphinx for
// grammars and as the fallback. Closing it stops the speech server.
func (e *Engines) Recognizer() (asr.Recognizer, error) {
	set, err := asrengines.New(context.Background(), e.cfg, e.cache.Dir, e.log)
	if err != nil {
		return nil, err
	}
	e.asrMu.Lock()
	e.asr = set
	e.asrMu.Unlock()
	return set.Owning(), nil
}

// ASRStatus is the recognizer's part of readyz: its engine and the speech
// server's state (nil before Recognizer).
func (e *Engines) ASRStatus() map[string]any {
	e.asrMu.Lock()
	defer e.asrMu.Unlock()
	if e.asr == nil {
		return nil
	}
	return e.asr.Status()
}

func (e *Engines) Close() error {
	var errs []error
	for _, c := range e.closers {
		errs = append(errs, c())
	}
	if e.batch != nil {
		e.batch.Close()
	}
	if e.silero != nil {
		errs = append(errs, e.silero.Close())
	}
	return errors.Join(errs...)
}

// Config is the configuration the engines were built from.
func (e *Engines) Config() config.Config { return e.cfg }

// Log is the process logger.
func (e *Engines) Log() *slog.Logger { return e.log }

// Metrics is the process's metrics registry, exported on /metrics.
func (e *Engines) Metrics() *obs.Metrics { return e.metrics }

// Cache is the model cache.
func (e *Engines) Cache() *models.Cache { return e.cache }

// Synthesizer is the voice of the prompts: espeak-ng unless an
// OpenAI-compatible speech endpoint is configured.
func (e *Engines) Synthesizer() (tts.Synthesizer, error) {
	t := e.cfg.TTS
	if t.BaseURL != "" {
		return ttsopenai.New(ttsopenai.Config{BaseURL: t.BaseURL, APIKey: t.APIKey, Model: t.Model, Voice: t.Voice})
	}
	return espeak.New(t.EspeakBin)
}
