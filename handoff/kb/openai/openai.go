// Package openai embeds text through any OpenAI-compatible embeddings
// endpoint (OpenAI itself, or a self-hosted server such as one serving
// bge-m3 or e5), for deployments that run embeddings as a service.
package openai

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/callbrief/callbrief/handoff/kb"
)

// Options configure the client.
type Options struct {
	BaseURL string // e.g. https://api.openai.com/v1; required
	APIKey  string
	Model   string // required
	// Dim is the vector size. 0 asks the server once at New (one short
	// embedding); set it to skip that call or to request shortened
	// vectors from models that support "dimensions".
	Dim int
	// RequestDimensions sends Dim as the request's "dimensions" field.
	RequestDimensions bool
	// QueryPrefix and PassagePrefix are prepended for asymmetric models
	// (e5 wants "query: " and "passage: "); empty for OpenAI's models.
	QueryPrefix, PassagePrefix string
	Timeout                    time.Duration // per request; default 10 s
	BatchSize                  int           // texts per request; default 64
	HTTPClient                 *http.Client
}

// Embedder is a kb.Embedder over an OpenAI-compatible endpoint.
type Embedder struct {
	c    *goopenai.Client
	opts Options
}

// New makes the client and, when Dim is 0, learns the dimension from the
// server.
func New(ctx context.Context, opts Options) (*Embedder, error) {
	if opts.BaseURL == "" || opts.Model == "" {
		return nil, fmt.Errorf("%w: openai: base URL and model are required", kb.ErrEmbedder)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 64
	}
	cfg := goopenai.DefaultConfig(opts.APIKey)
	cfg.BaseURL = opts.BaseURL
	if opts.HTTPClient != nil {
		cfg.HTTPClient = opts.HTTPClient
	}
	e := &Embedder{c: goopenai.NewClientWithConfig(cfg), opts: opts}
	if opts.Dim == 0 {
		v, err := e.embed(ctx, []string{"dimension probe"})
		if err != nil {
			return nil, err
		}
		e.opts.Dim = len(v[0])
	}
	return e, nil
}

func (e *Embedder) embed(ctx context.Context, texts []string) ([][]float32, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	req := goopenai.EmbeddingRequestStrings{Input: texts, Model: goopenai.EmbeddingModel(e.opts.Model)}
	if e.opts.RequestDimensions {
		req.Dimensions = e.opts.Dim
	}
	resp, err := e.c.CreateEmbeddings(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%w: openai %s: %w", kb.ErrEmbedder, e.opts.Model, err)
	}
	if len(resp.Data) != len(texts) {
		return nil, fmt.Errorf("%w: openai %s: %d embeddings for %d texts", kb.ErrEmbedder, e.opts.Model, len(resp.Data), len(texts))
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		idx := d.Index
		if idx < 0 || idx >= len(texts) || out[idx] != nil {
			return nil, fmt.Errorf("%w: openai %s: bad or repeated index %d", kb.ErrEmbedder, e.opts.Model, idx)
		}
		if e.opts.Dim != 0 && len(d.Embedding) != e.opts.Dim {
			return nil, fmt.Errorf("%w: openai %s returned %d dimensions, want %d", kb.ErrDimension, e.opts.Model, len(d.Embedding), e.opts.Dim)
		}
		out[idx] = normalise(d.Embedding)
	}
	return out, nil
}

// normalise makes the vector unit length: OpenAI's are already, other
// servers' may not be, and the index scores by dot product.
func normalise(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// Embed implements kb.Embedder.
func (e *Embedder) Embed(ctx context.Context, texts []string, kind kb.Kind) ([][]float32, error) {
	prefix := e.opts.PassagePrefix
	if kind == kb.Query {
		prefix = e.opts.QueryPrefix
	}
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += e.opts.BatchSize {
		batch := texts[start:min(len(texts), start+e.opts.BatchSize)]
		in := make([]string, len(batch))
		for i, t := range batch {
			in[i] = prefix + t
		}
		vs, err := e.embed(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

// Dim implements kb.Embedder.
func (e *Embedder) Dim() int { return e.opts.Dim }

// Name implements kb.Embedder.
func (e *Embedder) Name() string { return "openai:" + e.opts.Model }

// Close implements kb.Embedder.
func (e *Embedder) Close() error { return nil }
