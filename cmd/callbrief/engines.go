package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"

	"github.com/callbrief/callbrief/asr"
	asropenai "github.com/callbrief/callbrief/asr/openai"
	"github.com/callbrief/callbrief/asr/route"
	"github.com/callbrief/callbrief/asr/sphinx"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/kb/kbdir"
	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/models"
)

// engines is the one place where configuration picks each stage's engine:
// an embedded default unless a remote backend is configured.
type engines struct {
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
}

func newEngines(cfg config.Config, log *slog.Logger) (*engines, error) {
	dir := cfg.CacheDir
	if dir == "" {
		dir = models.DefaultCacheDir()
	}
	cache, err := models.NewCache(dir, log)
	if err != nil {
		return nil, err
	}
	return &engines{cfg: cfg, log: log, cache: cache}, nil
}

// loadSilero loads the Silero model once.
func (e *engines) loadSilero() (*vad.SileroModel, error) {
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

// newDetector returns a fresh detector for one stream.
func (e *engines) newDetector() (vad.Detector, error) {
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

// recognizer builds the configured ASR engine, routing Chinese streams to
// the OpenAI-compatible server when asr.chinese_engine says so.
func (e *engines) recognizer() (asr.Recognizer, error) {
	def, err := e.engine(e.cfg.ASR.Engine)
	if err != nil || e.cfg.ASR.ChineseEngine == "" || e.cfg.ASR.ChineseEngine == e.cfg.ASR.Engine {
		return def, err
	}
	zh, err := e.engine(e.cfg.ASR.ChineseEngine)
	if err != nil {
		def.Close()
		return nil, err
	}
	return route.New(def, zh)
}

func (e *engines) engine(name string) (asr.Recognizer, error) {
	switch name {
	case "sphinx":
		c := sphinx.DefaultConfig()
		c.ModelDir = e.cfg.ASR.Sphinx.ModelDir
		return sphinx.New(c, e.log)
	case "openai":
		o := e.cfg.ASR.OpenAI
		return asropenai.New(asropenai.Config{BaseURL: o.BaseURL, APIKey: o.APIKey, Model: o.Model, Timeout: o.Timeout, Retries: o.Retries, Prompt: o.Prompt}, e.log)
	}
	return nil, fmt.Errorf("asr engine %q unknown", name)
}

func (e *engines) Close() error {
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

// kb returns the knowledge base the briefs draw suggestions from (the
// folder `callbrief kb ingest` built, with the embedder it was built with);
// nil when none has been built, and briefs then carry no suggestions.
func (e *engines) kb(ctx context.Context) handoff.KB {
	c := &common{cfg: e.cfg, log: e.log}
	k := kbFlags{embedder: "auto"}
	dir := k.dir(c)
	meta, err := readMeta(dir)
	if err != nil {
		e.log.Warn("no knowledge base: briefs will carry no suggestions (build one with `callbrief kb ingest data/kb/articles`; make setup does)", "dir", dir, "err", err)
		return nil
	}
	emb, err := k.embedderForMeta(ctx, c, meta)
	if err != nil {
		e.log.Warn("knowledge base embedder unavailable: briefs will carry no suggestions", "embedder", meta.Embedder, "err", err)
		return nil
	}
	base, _, err := kbdir.Open(ctx, kbdir.Options{Dir: dir, Dense: emb, Hybrid: meta.Hybrid, Logger: e.log})
	if err != nil {
		if emb != nil {
			emb.Close()
		}
		e.log.Warn("knowledge base unreadable: briefs will carry no suggestions", "dir", dir, "err", err)
		return nil
	}
	e.closers = append(e.closers, base.Index.Close)
	if emb != nil {
		e.closers = append(e.closers, emb.Close)
	}
	e.log.Info("knowledge base loaded", "dir", dir, "embedder", meta.Embedder, "articles", meta.Articles, "chunks", meta.Chunks)
	return kbdir.HandoffKB{Base: base}
}
