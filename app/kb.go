package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/handoff/kb/kbdir"
	"github.com/callbrief/callbrief/models"
)

// KBDir is the folder `callbrief kb ingest` builds the served knowledge
// base in: <cache>/kb unless dir is given.
func KBDir(cacheDir, dir string) string {
	if dir != "" {
		return dir
	}
	if cacheDir == "" {
		cacheDir = models.DefaultCacheDir()
	}
	return filepath.Join(cacheDir, "kb")
}

// ReadKBMeta reads what a built knowledge base was built with.
func ReadKBMeta(dir string) (kbdir.Meta, error) {
	var m kbdir.Meta
	b, err := os.ReadFile(filepath.Join(dir, kbdir.MetaFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, fmt.Errorf("%w in %s: run `callbrief kb ingest DIR --index %s` first", kbdir.ErrNoKB, dir, dir)
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %s: %w", kb.ErrIndex, filepath.Join(dir, kbdir.MetaFile), err)
	}
	return m, nil
}

// KBState is the served knowledge base's state, for readyz.
type KBState struct {
	Ready bool   `json:"ready"`
	Error string `json:"error,omitempty"`
	// Warm is how long the warm-up query took: the first query loads the
	// embedder's session and pages the index in, which must not fall on a
	// caller's brief.
	Warm time.Duration `json:"warm_ns,omitempty"`
}

// KB opens the knowledge base the briefs draw suggestions from (the folder
// `callbrief kb ingest` built, with the embedder it was built with), checks
// and warms it with one query. It is
// opened once (articles are checked against the taxonomy when `kb ingest`
// builds it); nil with the reason in KBState when none can be had, and
// briefs then say they carry no suggestions.
func (e *Engines) KB(ctx context.Context) (handoff.KB, error) {
	e.kbOnce.Do(func() { e.kbBase, e.kbErr = e.openKB(ctx) })
	if e.kbErr != nil {
		return nil, e.kbErr
	}
	return e.kbBase, nil
}

// KBState reports whether the knowledge base is open and warm.
func (e *Engines) KBState() KBState {
	e.kbMu.Lock()
	defer e.kbMu.Unlock()
	return e.kbState
}

func (e *Engines) openKB(ctx context.Context) (handoff.KB, error) {
	fail := func(err error) (handoff.KB, error) {
		e.kbMu.Lock()
		e.kbState = KBState{Error: err.Error()}
		e.kbMu.Unlock()
		return nil, err
	}
	dir := KBDir(e.cfg.CacheDir, e.cfg.KB.Dir)
	meta, err := ReadKBMeta(dir)
	if err != nil {
		return fail(err)
	}
	emb, err := e.kbEmbedder(ctx, meta)
	if err != nil {
		return fail(fmt.Errorf("knowledge base embedder %s: %w", meta.Embedder, err))
	}
	base, _, err := kbdir.Open(ctx, kbdir.Options{Dir: dir, Dense: emb, Hybrid: meta.Hybrid, Logger: e.log})
	if err != nil {
		if emb != nil {
			emb.Close()
		}
		return fail(fmt.Errorf("knowledge base %s: %w", dir, err))
	}
	e.closers = append(e.closers, base.Index.Close)
	if emb != nil {
		e.closers = append(e.closers, emb.Close)
	}
	h := kbdir.HandoffKB{Base: base}
	// Warm: the first query loads the embedder's session; done here, it is
	// never a caller's brief that pays for it.
	t := time.Now()
	if _, err := h.Suggest(ctx, "手机屏幕碎了 my phone screen is cracked", handoff.KBFilter{}, 1); err != nil {
		return fail(fmt.Errorf("knowledge base warm-up: %w", err))
	}
	e.kbMu.Lock()
	e.kbState = KBState{Ready: true, Warm: time.Since(t)}
	e.kbMu.Unlock()
	e.log.Info("knowledge base loaded", "dir", dir, "embedder", meta.Embedder, "articles", meta.Articles, "chunks", meta.Chunks, "warm", time.Since(t).Round(time.Millisecond))
	return h, nil
}

// kbEmbedder opens the embedder a built knowledge base needs; nil means
// the lexical one, which kbdir fits on the articles.
func (e *Engines) kbEmbedder(ctx context.Context, m kbdir.Meta) (kb.Embedder, error) {
	switch {
	case strings.HasPrefix(m.Embedder, "lexical"):
		return nil, nil
	case strings.HasPrefix(m.Embedder, "openai:"):
		return nil, fmt.Errorf("built with a remote embeddings endpoint, which serve does not configure: rebuild with `callbrief kb ingest` and the e5 or lexical embedder")
	default:
		// The one embedder the intent classifier uses too, through the
		// per-utterance cache: the turn is embedded once. Closed with the
		// engines, not the index.
		qc, err := e.QueryEmbedder(ctx)
		if err != nil {
			return nil, err
		}
		return noClose{qc}, nil
	}
}

// noClose keeps kbdir from closing the shared embedder with its index.
type noClose struct{ kb.Embedder }

func (noClose) Close() error { return nil }

// CheckArticles refuses articles whose product or intents the taxonomy
// does not know, each error naming the article's file and line: such an
// article could never be suggested by the filter a brief asks with, and
// nobody would notice.
func CheckArticles(tax *taxonomy.Taxonomy, arts []kb.Article) error {
	var errs []error
	for _, a := range arts {
		if err := tax.CheckArticle(a.Source, a.Product, a.Intents); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
