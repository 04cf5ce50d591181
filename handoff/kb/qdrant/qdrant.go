// Package qdrant stores the knowledge base in a Qdrant collection through
// Qdrant's official Go client, for deployments past one machine. Each chunk
// is a point with a named dense vector ("dense"), a named sparse vector
// ("sparse") and the chunk as payload; hybrid search is one call to the
// query API: a dense and a sparse prefetch fused by reciprocal rank, with
// the product/language/intent filter applied as payload conditions.
package qdrant

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/callbrief/callbrief/handoff/kb"
)

// Vector names in the collection.
const (
	DenseVector  = "dense"
	SparseVector = "sparse"
)

// Options configure the index.
type Options struct {
	Host       string
	Port       int // gRPC port; 0 means 6334
	APIKey     string
	UseTLS     bool
	Collection string // default "callbrief_kb"
	Dim        int    // required
	Logger     *slog.Logger
	// BatchSize bounds the points sent per upsert request; default 256.
	BatchSize int
}

// Index is a kb.Index backed by Qdrant.
type Index struct {
	c    *qc.Client
	opts Options
	log  *slog.Logger
}

// New connects and creates the collection (with keyword payload indexes on
// the filter fields) when it does not exist. An existing collection must
// have the same dense size.
func New(ctx context.Context, opts Options) (*Index, error) {
	if opts.Dim <= 0 {
		return nil, fmt.Errorf("%w: qdrant: Dim is required", kb.ErrIndex)
	}
	if opts.Collection == "" {
		opts.Collection = "callbrief_kb"
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := qc.NewClient(&qc.Config{Host: opts.Host, Port: opts.Port, APIKey: opts.APIKey, UseTLS: opts.UseTLS, PoolSize: 1, SkipCompatibilityCheck: true})
	if err != nil {
		return nil, fmt.Errorf("%w: qdrant %s:%d: %w", kb.ErrIndex, opts.Host, opts.Port, err)
	}
	ix := &Index{c: c, opts: opts, log: opts.Logger}
	if err := ix.ensureCollection(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return ix, nil
}

func (ix *Index) ensureCollection(ctx context.Context) error {
	name := ix.opts.Collection
	ok, err := ix.c.CollectionExists(ctx, name)
	if err != nil {
		return fmt.Errorf("%w: qdrant: collection %s: %w", kb.ErrIndex, name, err)
	}
	if ok {
		info, err := ix.c.GetCollectionInfo(ctx, name)
		if err != nil {
			return fmt.Errorf("%w: qdrant: collection %s: %w", kb.ErrIndex, name, err)
		}
		if p := info.GetConfig().GetParams().GetVectorsConfig().GetParamsMap().GetMap()[DenseVector]; p != nil && int(p.GetSize()) != ix.opts.Dim {
			return fmt.Errorf("%w: qdrant collection %s holds %d-dimensional vectors, the embedder makes %d: use another collection or ingest again", kb.ErrDimension, name, p.GetSize(), ix.opts.Dim)
		}
		return nil
	}
	err = ix.c.CreateCollection(ctx, &qc.CreateCollection{
		CollectionName: name,
		VectorsConfig: qc.NewVectorsConfigMap(map[string]*qc.VectorParams{
			// Vectors are L2-normalised, so dot product is cosine and
			// the same score the in-process index reports.
			DenseVector: {Size: uint64(ix.opts.Dim), Distance: qc.Distance_Dot},
		}),
		SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{SparseVector: {}}),
	})
	if err != nil {
		return fmt.Errorf("%w: qdrant: create collection %s: %w", kb.ErrIndex, name, err)
	}
	for _, field := range []string{"product", "language", "intents", "article_id"} {
		_, err := ix.c.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{
			CollectionName: name, FieldName: field, FieldType: qc.FieldType_FieldTypeKeyword.Enum(), Wait: qc.PtrOf(true),
		})
		if err != nil {
			return fmt.Errorf("%w: qdrant: index payload field %s: %w", kb.ErrIndex, field, err)
		}
	}
	ix.log.Info("qdrant collection created", "collection", name, "dim", ix.opts.Dim)
	return nil
}

// pointID maps a chunk ID to a stable UUID: Qdrant ids are integers or
// UUIDs, and a hash keeps re-ingesting an article an upsert, not a copy.
func pointID(chunkID string) *qc.PointId {
	sum := sha256.Sum256([]byte("callbrief-kb:" + chunkID))
	u := sum[:16]
	u[6] = (u[6] & 0x0f) | 0x50 // version 5 style, variant RFC 4122
	u[8] = (u[8] & 0x3f) | 0x80
	return qc.NewIDUUID(fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}

func strList(xs []string) *qc.Value {
	vs := make([]*qc.Value, len(xs))
	for i, x := range xs {
		vs[i] = qc.NewValueString(x)
	}
	return qc.NewValueFromList(vs...)
}

func payload(c kb.Chunk) map[string]*qc.Value {
	return map[string]*qc.Value{
		"chunk_id":   qc.NewValueString(c.ID),
		"article_id": qc.NewValueString(c.ArticleID),
		"ord":        qc.NewValueInt(int64(c.Ord)),
		"title":      qc.NewValueString(c.Title),
		"heading":    qc.NewValueString(c.Heading),
		"text":       qc.NewValueString(c.Text),
		"product":    qc.NewValueString(c.Product),
		"language":   qc.NewValueString(c.Language),
		"intents":    strList(c.Intents),
		"tags":       strList(c.Tags),
	}
}

func fromPayload(p map[string]*qc.Value) kb.Chunk {
	s := func(k string) string { return p[k].GetStringValue() }
	l := func(k string) []string {
		var out []string
		for _, v := range p[k].GetListValue().GetValues() {
			out = append(out, v.GetStringValue())
		}
		return out
	}
	return kb.Chunk{
		ID: s("chunk_id"), ArticleID: s("article_id"), Ord: int(p["ord"].GetIntegerValue()),
		Title: s("title"), Heading: s("heading"), Text: s("text"),
		Product: s("product"), Language: s("language"), Intents: l("intents"), Tags: l("tags"),
	}
}

// Upsert implements kb.Index.
func (ix *Index) Upsert(ctx context.Context, recs []kb.Record) error {
	for i := range recs {
		if len(recs[i].Dense) != ix.opts.Dim {
			return fmt.Errorf("%w: chunk %s has %d dimensions, the index %d", kb.ErrDimension, recs[i].Chunk.ID, len(recs[i].Dense), ix.opts.Dim)
		}
	}
	for start := 0; start < len(recs); start += ix.opts.BatchSize {
		batch := recs[start:min(len(recs), start+ix.opts.BatchSize)]
		points := make([]*qc.PointStruct, len(batch))
		for i, r := range batch {
			vecs := map[string]*qc.Vector{DenseVector: qc.NewVectorDense(r.Dense)}
			if len(r.Sparse.Indices) > 0 {
				vecs[SparseVector] = qc.NewVectorSparse(r.Sparse.Indices, r.Sparse.Values)
			}
			points[i] = &qc.PointStruct{Id: pointID(r.Chunk.ID), Vectors: qc.NewVectorsMap(vecs), Payload: payload(r.Chunk)}
		}
		if _, err := ix.c.Upsert(ctx, &qc.UpsertPoints{CollectionName: ix.opts.Collection, Points: points, Wait: qc.PtrOf(true)}); err != nil {
			return fmt.Errorf("%w: qdrant upsert: %w", kb.ErrIndex, err)
		}
	}
	return nil
}

// Delete implements kb.Index.
func (ix *Index) Delete(ctx context.Context, articleIDs []string) error {
	if len(articleIDs) == 0 {
		return nil
	}
	_, err := ix.c.Delete(ctx, &qc.DeletePoints{
		CollectionName: ix.opts.Collection, Wait: qc.PtrOf(true),
		Points: qc.NewPointsSelectorFilter(&qc.Filter{Must: []*qc.Condition{qc.NewMatchKeywords("article_id", articleIDs...)}}),
	})
	if err != nil {
		return fmt.Errorf("%w: qdrant delete: %w", kb.ErrIndex, err)
	}
	return nil
}

// Len implements kb.Index.
func (ix *Index) Len(ctx context.Context) (int, error) {
	n, err := ix.c.Count(ctx, &qc.CountPoints{CollectionName: ix.opts.Collection, Exact: qc.PtrOf(true)})
	if err != nil {
		return 0, fmt.Errorf("%w: qdrant count: %w", kb.ErrIndex, err)
	}
	return int(n), nil
}

// filter translates kb.Filter into payload conditions; nil when empty.
func filter(f kb.Filter) *qc.Filter {
	var must []*qc.Condition
	if f.Product != "" {
		must = append(must, qc.NewMatchKeywords("product", f.Product, kb.GeneralProduct))
	}
	if f.Language != "" {
		must = append(must, qc.NewMatchKeyword("language", f.Language))
	}
	if f.Intent != "" {
		must = append(must, qc.NewMatchKeyword("intents", f.Intent))
	}
	if len(must) == 0 {
		return nil
	}
	return &qc.Filter{Must: must}
}

// Search implements kb.Index. A hybrid request is one query: two prefetches
// (dense and sparse, each filtered and cut at the prefetch limit) fused by
// RRF with k = kb.RRFK, the constant the in-process index uses.
func (ix *Index) Search(ctx context.Context, req kb.SearchRequest) ([]kb.Hit, error) {
	if req.K <= 0 {
		return []kb.Hit{}, nil
	}
	if req.Dense != nil && len(req.Dense) != ix.opts.Dim {
		return nil, fmt.Errorf("%w: query has %d dimensions, the index %d", kb.ErrDimension, len(req.Dense), ix.opts.Dim)
	}
	f := filter(req.Filter)
	q := &qc.QueryPoints{
		CollectionName: ix.opts.Collection,
		Filter:         f,
		Limit:          qc.PtrOf(uint64(req.K)),
		WithPayload:    qc.NewWithPayload(true),
	}
	hasSparse := len(req.Sparse.Indices) > 0
	mode := ""
	switch {
	case req.Dense != nil && hasSparse:
		p := qc.PtrOf(uint64(req.PrefetchLimit()))
		q.Prefetch = []*qc.PrefetchQuery{
			{Query: qc.NewQueryDense(req.Dense), Using: qc.PtrOf(DenseVector), Filter: f, Limit: p},
			{Query: qc.NewQuerySparse(req.Sparse.Indices, req.Sparse.Values), Using: qc.PtrOf(SparseVector), Filter: f, Limit: p},
		}
		q.Query = qc.NewQueryRRF(&qc.Rrf{K: qc.PtrOf(uint32(kb.RRFK))})
		mode = "hybrid"
	case req.Dense != nil:
		q.Query, q.Using, mode = qc.NewQueryDense(req.Dense), qc.PtrOf(DenseVector), "dense"
	case hasSparse:
		q.Query, q.Using, mode = qc.NewQuerySparse(req.Sparse.Indices, req.Sparse.Values), qc.PtrOf(SparseVector), "sparse"
	default:
		return []kb.Hit{}, nil
	}
	pts, err := ix.c.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%w: qdrant query: %w", kb.ErrIndex, err)
	}
	hits := make([]kb.Hit, len(pts))
	for i, p := range pts {
		hits[i] = kb.Hit{Chunk: fromPayload(p.GetPayload()), Score: p.GetScore()}
		switch mode {
		case "dense":
			hits[i].DenseScore, hits[i].DenseRank = p.GetScore(), i+1
		case "sparse":
			hits[i].SparseScore, hits[i].SparseRank = p.GetScore(), i+1
		}
	}
	return hits, nil
}

// Close implements kb.Index.
func (ix *Index) Close() error { return ix.c.Close() }
