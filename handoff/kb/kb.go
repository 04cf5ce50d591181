// Package kb is the knowledge base behind an agent's brief: it reads
// articles (Markdown with front matter, or JSONL), cuts them into chunks,
// embeds them and finds the articles most likely to solve a caller's
// problem. Embedders and vector indexes are interfaces; each engine lives in
// a subpackage (kb/lexical, kb/e5, kb/openai, kb/memindex, kb/qdrant) and
// the choice between them is made by the command line, not here.
package kb

import (
	"context"
	"errors"
)

// Errors of this package. Callers test them with errors.Is; the wrapping
// error names the file, line or field at fault.
var (
	// ErrMalformed means an article or a line of JSONL could not be read.
	ErrMalformed = errors.New("kb: malformed article")
	// ErrTooLarge means an upload, a file or an article exceeds its limit.
	ErrTooLarge = errors.New("kb: too large")
	// ErrDimension means a vector has a different length than the index.
	ErrDimension = errors.New("kb: vector dimension mismatch")
	// ErrEmbedder means the embedder failed or is not available.
	ErrEmbedder = errors.New("kb: embedder")
	// ErrIndex means the vector index failed (disk, server).
	ErrIndex = errors.New("kb: index")
	// ErrNotIngested means a search ran before any article was ingested.
	ErrNotIngested = errors.New("kb: no articles ingested")
)

// Article is one knowledge-base article as written by the content team.
type Article struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Product  string   `json:"product"`  // product line, e.g. phone, smart_home, wearable, accessory, general
	Intents  []string `json:"intents"`  // taxonomy intent ids the article answers
	Language string   `json:"language"` // zh or en
	Tags     []string `json:"tags,omitempty"`
	Body     string   `json:"body"` // Markdown
	// Source is where the article was read from ("power/no-boot.md:1",
	// "articles.jsonl:12"), for error messages and the brief.
	Source string `json:"source,omitempty"`
}

// Chunk is a searchable piece of one article with the article's metadata,
// so a filter or a brief never needs the article itself.
type Chunk struct {
	ID        string   `json:"id"` // "<article id>#<ord>"
	ArticleID string   `json:"article_id"`
	Ord       int      `json:"ord"`
	Title     string   `json:"title"`
	Heading   string   `json:"heading,omitempty"` // the section the text sits under
	Text      string   `json:"text"`
	Product   string   `json:"product"`
	Intents   []string `json:"intents,omitempty"`
	Language  string   `json:"language"`
	Tags      []string `json:"tags,omitempty"`
}

// EmbedText is what an embedder sees for a chunk: title and heading carry
// most of the meaning of a short section, so they are repeated in front.
func (c Chunk) EmbedText() string {
	s := c.Title
	if c.Heading != "" && c.Heading != c.Title {
		s += " / " + c.Heading
	}
	return s + "\n" + c.Text
}

// Kind tells an embedder whether it embeds a caller's query or a stored
// passage; asymmetric models (e5) encode them differently.
type Kind int

// Embedding kinds.
const (
	Query Kind = iota
	Passage
)

// Embedder turns texts into dense vectors.
//
// Embed returns one vector per text, in order, each of length Dim(); the
// caller owns the returned slices. An empty texts slice returns an empty
// result and no error. Vectors are L2-normalised so that a dot product is a
// cosine similarity. Implementations are safe for concurrent use.
type Embedder interface {
	Embed(ctx context.Context, texts []string, kind Kind) ([][]float32, error)
	Dim() int
	// Name identifies the model; an index built by one embedder must not be
	// searched with another, and the name is how that is checked.
	Name() string
	Close() error
}

// SparseVector is a sparse term-weight vector; Indices are unique and
// ascending.
type SparseVector struct {
	Indices []uint32  `json:"i"`
	Values  []float32 `json:"v"`
}

// Dot is the inner product of two sparse vectors with ascending indices.
func (s SparseVector) Dot(o SparseVector) float32 {
	var sum float32
	i, j := 0, 0
	for i < len(s.Indices) && j < len(o.Indices) {
		switch {
		case s.Indices[i] == o.Indices[j]:
			sum += s.Values[i] * o.Values[j]
			i++
			j++
		case s.Indices[i] < o.Indices[j]:
			i++
		default:
			j++
		}
	}
	return sum
}

// Record is one chunk with its vectors, as stored in an index.
type Record struct {
	Chunk  Chunk
	Dense  []float32
	Sparse SparseVector
}

// Filter restricts a search; empty fields do not restrict. Product matches
// chunks of that product and chunks of the "general" product line (articles
// that apply to every product); Language and Intent match exactly.
type Filter struct {
	Product  string `json:"product,omitempty"`
	Language string `json:"language,omitempty"`
	Intent   string `json:"intent,omitempty"`
}

// GeneralProduct is the product line of articles that apply to every
// product (accounts, orders, warranty policy).
const GeneralProduct = "general"

// Match reports whether a chunk passes the filter.
func (f Filter) Match(c *Chunk) bool {
	if f.Product != "" && c.Product != f.Product && c.Product != GeneralProduct {
		return false
	}
	if f.Language != "" && c.Language != f.Language {
		return false
	}
	if f.Intent != "" {
		for _, in := range c.Intents {
			if in == f.Intent {
				return true
			}
		}
		return false
	}
	return true
}

// SearchRequest is one nearest-neighbour query. Dense is required; Sparse
// may be empty, in which case the search is dense only. With both, the
// index fuses the two ranked lists by reciprocal rank (the same fusion
// Qdrant's query API applies), each list cut at Prefetch results.
type SearchRequest struct {
	Dense    []float32
	Sparse   SparseVector
	K        int
	Prefetch int // candidates per list before fusion; 0 means max(4K, 50)
	Filter   Filter
}

// PrefetchLimit is the number of candidates per list before fusion.
func (r SearchRequest) PrefetchLimit() int {
	if r.Prefetch > 0 {
		return r.Prefetch
	}
	return max(4*r.K, 50)
}

// RRFK is the constant of reciprocal-rank fusion: a hit at rank r (from 1)
// of a list scores 1/(RRFK+r). Qdrant uses 60 too.
const RRFK = 60

// Hit is one chunk found by a search. Score orders hits (larger is better):
// the fused RRF score for hybrid searches, the dot product otherwise.
// DenseScore and SparseScore are the similarities that produced it when
// the index knows them (0 when it does not, e.g. Qdrant fusion), and
// DenseRank/SparseRank the 1-based ranks in each list (0 when absent).
type Hit struct {
	Chunk       Chunk   `json:"chunk"`
	Score       float32 `json:"score"`
	DenseScore  float32 `json:"dense_score,omitempty"`
	SparseScore float32 `json:"sparse_score,omitempty"`
	DenseRank   int     `json:"dense_rank,omitempty"`
	SparseRank  int     `json:"sparse_rank,omitempty"`
}

// Index stores chunk vectors and finds nearest neighbours.
//
// Upsert replaces records with the same chunk ID. Delete removes every
// chunk of the given article IDs (unknown IDs are not an error). Search
// returns at most K hits, best first; no match is an empty slice and no
// error. Implementations are safe for concurrent use.
type Index interface {
	Upsert(ctx context.Context, recs []Record) error
	Delete(ctx context.Context, articleIDs []string) error
	Search(ctx context.Context, req SearchRequest) ([]Hit, error)
	// Len is the number of chunks stored.
	Len(ctx context.Context) (int, error)
	Close() error
}
