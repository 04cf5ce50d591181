// Package kbdir keeps a knowledge base in one folder: the fitted lexical
// model (lexical.json), a description of how it was built (kb.json) and,
// for the default in-process index, the index file (index.cbx). Build
// replaces the folder's knowledge base with a set of articles; Open loads
// it for searching and refuses an embedder other than the one it was
// built with, since vectors of two models cannot be compared.
package kbdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/handoff/kb/lexical"
	"github.com/callbrief/callbrief/handoff/kb/memindex"
)

// File names inside the folder.
const (
	MetaFile    = "kb.json"
	LexicalFile = "lexical.json"
	IndexFile   = "index.cbx"
)

// ErrNoKB means the folder holds no knowledge base yet.
var ErrNoKB = errors.New("kbdir: no knowledge base")

// Meta describes how the folder's knowledge base was built.
type Meta struct {
	Version    int             `json:"version"`
	Embedder   string          `json:"embedder"`
	Dim        int             `json:"dim"`
	Hybrid     bool            `json:"hybrid"`
	Index      string          `json:"index"` // "memindex" or a description of the external index
	Articles   int             `json:"articles"`
	Chunks     int             `json:"chunks"`
	Chunking   kb.ChunkOptions `json:"chunking"`
	IngestedAt time.Time       `json:"ingested_at"`
}

// IndexFactory opens the vector index for vectors of dim; nil means the
// in-process index in the folder.
type IndexFactory func(ctx context.Context, dim int) (kb.Index, error)

// Options configure Build and Open.
type Options struct {
	Dir string
	// Dense is the embedder; nil means the hashed lexical embedder fitted
	// on the articles (the fallback that needs no model).
	Dense kb.Embedder
	// Hybrid adds the lexical sparse vectors to every search.
	Hybrid bool
	// NewIndex opens an external index (Qdrant); nil means the in-process
	// index persisted in Dir.
	NewIndex  IndexFactory
	IndexName string // recorded in kb.json, e.g. "qdrant 10.0.0.5:6334/callbrief_kb"
	Chunking  kb.ChunkOptions
	Logger    *slog.Logger
	// IntentRanks is the boost of articles answering the caller's intent
	// (kb.Base.IntentRanks): 0 means kb.DefaultIntentRanks, negative none.
	IntentRanks int
	// NoFoldDense embeds Cantonese queries as said (kb.Base.FoldDense
	// is on by default), for evaluations that compare the two.
	NoFoldDense bool
}

func (o *Options) intentRanks() int {
	switch {
	case o.IntentRanks < 0:
		return 0
	case o.IntentRanks == 0:
		return kb.DefaultIntentRanks
	}
	return o.IntentRanks
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Build replaces the folder's knowledge base with arts: it chunks them,
// fits the lexical model on the chunks, embeds and indexes them. The
// in-process index is built beside the old one and renamed over it, so a
// search running from the old files is never served a half-built index.
func Build(ctx context.Context, arts []kb.Article, opts Options) (*kb.Base, Meta, error) {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, Meta{}, fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	chunks := kb.ChunkAll(arts, opts.Chunking)
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = c.EmbedText()
	}
	lex := lexical.Fit(texts, lexical.DefaultDim)
	dense := opts.Dense
	if dense == nil {
		dense = lexical.Embedder{M: lex}
	}
	var (
		ix      kb.Index
		err     error
		tmpPath = filepath.Join(opts.Dir, IndexFile+".new")
	)
	indexName := opts.IndexName
	if opts.NewIndex != nil {
		ix, err = opts.NewIndex(ctx, dense.Dim())
	} else {
		os.Remove(tmpPath) // a leftover of an interrupted build
		ix, err = memindex.New(memindex.Options{Dim: dense.Dim(), Path: tmpPath, Logger: opts.Logger})
		indexName = "memindex"
	}
	if err != nil {
		return nil, Meta{}, err
	}
	base := &kb.Base{Embedder: dense, Index: ix, Normalize: lexical.Normalize, Chunking: opts.Chunking, Logger: opts.Logger, IntentRanks: opts.intentRanks(), FoldDense: !opts.NoFoldDense}
	if opts.Hybrid {
		base.Sparse = lex
	}
	st, err := base.Ingest(ctx, arts)
	if err != nil {
		ix.Close()
		return nil, Meta{}, err
	}
	lb, err := lex.MarshalJSON()
	if err != nil {
		return nil, Meta{}, err
	}
	meta := Meta{Version: 1, Embedder: dense.Name(), Dim: dense.Dim(), Hybrid: opts.Hybrid, Index: indexName,
		Articles: st.Articles, Chunks: st.Chunks, Chunking: opts.Chunking, IngestedAt: time.Now().UTC()}
	mb, _ := json.MarshalIndent(meta, "", "  ")
	if err := writeAtomic(filepath.Join(opts.Dir, LexicalFile), lb); err != nil {
		return nil, Meta{}, err
	}
	if opts.NewIndex == nil {
		ix.Close()
		final := filepath.Join(opts.Dir, IndexFile)
		if err := os.Rename(tmpPath, final); err != nil {
			return nil, Meta{}, fmt.Errorf("%w: %w", kb.ErrIndex, err)
		}
		if base.Index, err = memindex.New(memindex.Options{Path: final, Logger: opts.Logger}); err != nil {
			return nil, Meta{}, err
		}
	}
	if err := writeAtomic(filepath.Join(opts.Dir, MetaFile), mb); err != nil {
		return nil, Meta{}, err
	}
	opts.logger().Info("kb built", "dir", opts.Dir, "articles", meta.Articles, "chunks", meta.Chunks, "embedder", meta.Embedder)
	return base, meta, nil
}

// Open loads the folder's knowledge base. opts.Dense must be the embedder
// it was built with (nil for the lexical one) and opts.Hybrid is taken
// from the folder.
func Open(ctx context.Context, opts Options) (*kb.Base, Meta, error) {
	var meta Meta
	mb, err := os.ReadFile(filepath.Join(opts.Dir, MetaFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, meta, fmt.Errorf("%w in %s: run `callbrief kb ingest DIR --index %s` first", ErrNoKB, opts.Dir, opts.Dir)
	}
	if err != nil {
		return nil, meta, fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	if err := json.Unmarshal(mb, &meta); err != nil {
		return nil, meta, fmt.Errorf("%w: %s: %w", kb.ErrIndex, filepath.Join(opts.Dir, MetaFile), err)
	}
	lb, err := os.ReadFile(filepath.Join(opts.Dir, LexicalFile))
	if err != nil {
		return nil, meta, fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	lex, err := lexical.Unmarshal(lb)
	if err != nil {
		return nil, meta, fmt.Errorf("%w: %s: %w", kb.ErrIndex, filepath.Join(opts.Dir, LexicalFile), err)
	}
	dense := opts.Dense
	if dense == nil {
		dense = lexical.Embedder{M: lex}
	}
	if dense.Name() != meta.Embedder || dense.Dim() != meta.Dim {
		return nil, meta, fmt.Errorf("%w: the knowledge base in %s was built with %s (%d dimensions), not %s (%d): search with the same embedder or ingest again",
			kb.ErrDimension, opts.Dir, meta.Embedder, meta.Dim, dense.Name(), dense.Dim())
	}
	var ix kb.Index
	if opts.NewIndex != nil {
		ix, err = opts.NewIndex(ctx, meta.Dim)
	} else {
		ix, err = memindex.New(memindex.Options{Dim: meta.Dim, Path: filepath.Join(opts.Dir, IndexFile), Logger: opts.Logger})
	}
	if err != nil {
		return nil, meta, err
	}
	base := &kb.Base{Embedder: dense, Index: ix, Normalize: lexical.Normalize, Chunking: meta.Chunking, Logger: opts.Logger, IntentRanks: opts.intentRanks(), FoldDense: !opts.NoFoldDense}
	if meta.Hybrid {
		base.Sparse = lex
	}
	return base, meta, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%w: %w", kb.ErrIndex, err)
	}
	return nil
}
