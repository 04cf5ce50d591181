// Package memindex is the knowledge base's default vector index: it lives
// in the process, needs no server, and is persisted to one file written
// atomically.
//
// Search is a brute-force scan in two stages; what bounds it is memory
// traffic, not arithmetic. Below Options.ShortlistFrom chunks (20,000 by
// default) every row is scored with int8-quantised vectors (a quarter of
// the bytes of float32) and the best candidates are re-scored with the
// float32 vectors, so the ranking is exact. Above it, the int8 matrix no
// longer fits in cache (100k x 384 is 38 MB), so the scan reads 1-bit
// codes instead (the sign of each component after subtracting the corpus
// mean, 48 bytes a row at 384 dimensions): the rows nearest in Hamming
// distance form a shortlist of max(1000, 20 x prefetch) that is re-scored
// exactly. That keeps a 100k-chunk search near a millisecond; its recall
// against the exact scan is measured by BenchmarkSearch100k.
package memindex

import (
	"container/heap"
	"context"
	"fmt"
	"github.com/callbrief/callbrief/internal/vecmath"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/callbrief/callbrief/handoff/kb"
)

// Options configure an index.
type Options struct {
	// Dim is the vector length; required for a new index, checked against
	// the file when one is loaded.
	Dim int
	// Path is the file the index is persisted to after every change; empty
	// keeps it in memory only.
	Path   string
	Logger *slog.Logger
	// Workers splits the scan across goroutines; 0 means GOMAXPROCS.
	Workers int
	// ShortlistFrom is the size from which searches scan binary codes and
	// re-score a shortlist instead of scanning every int8 row; 0 means
	// 20,000, negative means never (always the exact scan).
	ShortlistFrom int
}

// Index is the in-process index. It is safe for concurrent use: searches
// share a read lock, changes take the write lock.
type Index struct {
	opts Options
	log  *slog.Logger

	mu     sync.RWMutex
	chunks []kb.Chunk
	vecs   []float32 // n*dim, L2-normalised as given
	q8     []int8    // n*dim, per-row symmetric quantisation of vecs
	scales []float32 // per-row dequantisation scale
	sparse []kb.SparseVector
	byID   map[string]int
	// Filter fields interned to small integers so the scan compares
	// numbers, not strings.
	product  []int32
	language []int32
	intents  []uint64 // bit i set: the chunk has intent intentIDs[i] (first 64 intents)
	interned map[string]int32
	intentID map[string]int
	postings map[uint32][]posting
	// Binary codes for large indexes (see the package comment); nil when
	// the index is below Options.ShortlistFrom.
	mean  []float32
	codes []uint64 // n*words
	words int
}

type posting struct {
	row int32
	w   float32
}

// New opens the index: it loads Path when the file exists, else starts
// empty.
func New(opts Options) (*Index, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.ShortlistFrom == 0 {
		opts.ShortlistFrom = 20_000
	}
	ix := &Index{opts: opts, log: opts.Logger}
	ix.reset()
	if opts.Path != "" {
		loaded, err := ix.load()
		if err != nil {
			return nil, err
		}
		if loaded {
			ix.log.Info("kb index loaded", "path", opts.Path, "chunks", len(ix.chunks), "dim", ix.opts.Dim)
		}
	}
	if ix.opts.Dim <= 0 {
		return nil, fmt.Errorf("%w: memindex: Dim is required for a new index", kb.ErrIndex)
	}
	return ix, nil
}

func (ix *Index) reset() {
	ix.chunks, ix.vecs, ix.q8, ix.scales, ix.sparse = nil, nil, nil, nil, nil
	ix.product, ix.language, ix.intents = nil, nil, nil
	ix.byID = map[string]int{}
	ix.interned = map[string]int32{"": 0}
	ix.intentID = map[string]int{}
	ix.postings = map[uint32][]posting{}
}

// Dim is the vector length.
func (ix *Index) Dim() int { return ix.opts.Dim }

// Kernel names the dot-product kernel in use ("avx2", "c" or "go").
func Kernel() string { return kernelName }

func (ix *Index) intern(s string) int32 {
	if id, ok := ix.interned[s]; ok {
		return id
	}
	id := int32(len(ix.interned))
	ix.interned[s] = id
	return id
}

func quantise(v []float32, dst []int8) float32 {
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	if m == 0 {
		clear(dst)
		return 0
	}
	s := m / 127
	for i, x := range v {
		dst[i] = int8(math.Round(float64(x / s)))
	}
	return s
}

// Upsert implements kb.Index.
func (ix *Index) Upsert(ctx context.Context, recs []kb.Record) error {
	dim := ix.opts.Dim
	for i := range recs {
		if len(recs[i].Dense) != dim {
			return fmt.Errorf("%w: chunk %s has %d dimensions, the index %d", kb.ErrDimension, recs[i].Chunk.ID, len(recs[i].Dense), dim)
		}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		row, ok := ix.byID[r.Chunk.ID]
		if !ok {
			row = len(ix.chunks)
			ix.byID[r.Chunk.ID] = row
			ix.chunks = append(ix.chunks, kb.Chunk{})
			ix.vecs = append(ix.vecs, make([]float32, dim)...)
			ix.q8 = append(ix.q8, make([]int8, dim)...)
			ix.scales = append(ix.scales, 0)
			ix.sparse = append(ix.sparse, kb.SparseVector{})
			ix.product = append(ix.product, 0)
			ix.language = append(ix.language, 0)
			ix.intents = append(ix.intents, 0)
		}
		ix.setRow(row, r)
	}
	ix.rebuildDerived()
	return ix.saveLocked()
}

func (ix *Index) setRow(row int, r kb.Record) {
	dim := ix.opts.Dim
	ix.chunks[row] = r.Chunk
	copy(ix.vecs[row*dim:(row+1)*dim], r.Dense)
	ix.scales[row] = quantise(r.Dense, ix.q8[row*dim:(row+1)*dim])
	ix.sparse[row] = r.Sparse
	ix.product[row] = ix.intern(r.Chunk.Product)
	ix.language[row] = ix.intern(r.Chunk.Language)
	var mask uint64
	for _, in := range r.Chunk.Intents {
		id, ok := ix.intentID[in]
		if !ok {
			id = len(ix.intentID)
			ix.intentID[in] = id
		}
		if id < 64 {
			mask |= 1 << id
		}
	}
	ix.intents[row] = mask
}

// rebuildDerived recomputes what is derived from all rows: the inverted
// lists and, for a large index, the mean and binary codes (the mean moves
// with every change, so codes cannot be patched row by row). It is O(rows
// x dim) and runs at ingest time, never per search.
func (ix *Index) rebuildDerived() {
	ix.rebuildPostings()
	n, dim := len(ix.chunks), ix.opts.Dim
	if ix.opts.ShortlistFrom < 0 || n < ix.opts.ShortlistFrom {
		ix.mean, ix.codes, ix.words = nil, nil, 0
		return
	}
	mean := make([]float64, dim)
	for row := range n {
		for i, x := range ix.vecs[row*dim : (row+1)*dim] {
			mean[i] += float64(x)
		}
	}
	ix.mean = make([]float32, dim)
	for i := range mean {
		ix.mean[i] = float32(mean[i] / float64(n))
	}
	ix.words = (dim + 63) / 64
	ix.codes = make([]uint64, n*ix.words)
	for row := range n {
		ix.encode(ix.vecs[row*dim:(row+1)*dim], ix.codes[row*ix.words:(row+1)*ix.words])
	}
}

func (ix *Index) encode(v []float32, dst []uint64) {
	clear(dst)
	for i, x := range v {
		if x > ix.mean[i] {
			dst[i/64] |= 1 << (i % 64)
		}
	}
}

func (ix *Index) rebuildPostings() {
	ix.postings = map[uint32][]posting{}
	for row, sv := range ix.sparse {
		for i, k := range sv.Indices {
			ix.postings[k] = append(ix.postings[k], posting{row: int32(row), w: sv.Values[i]})
		}
	}
}

// Delete implements kb.Index: every chunk of the given articles goes.
func (ix *Index) Delete(ctx context.Context, articleIDs []string) error {
	if len(articleIDs) == 0 {
		return nil
	}
	gone := map[string]bool{}
	for _, id := range articleIDs {
		gone[id] = true
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var keep []kb.Record
	removed := 0
	for row, c := range ix.chunks {
		if gone[c.ArticleID] {
			removed++
			continue
		}
		keep = append(keep, ix.recordLocked(row))
	}
	if removed == 0 {
		return nil
	}
	// Rebuilding is simpler than compacting nine parallel slices in place,
	// and deletes happen at ingest time, not per call.
	ix.reset()
	for i, r := range keep {
		if err := ctx.Err(); err != nil {
			return err
		}
		ix.appendRecordLocked(i, r)
	}
	ix.rebuildDerived()
	return ix.saveLocked()
}

func (ix *Index) appendRecordLocked(row int, r kb.Record) {
	dim := ix.opts.Dim
	ix.byID[r.Chunk.ID] = row
	ix.chunks = append(ix.chunks, kb.Chunk{})
	ix.vecs = append(ix.vecs, make([]float32, dim)...)
	ix.q8 = append(ix.q8, make([]int8, dim)...)
	ix.scales = append(ix.scales, 0)
	ix.sparse = append(ix.sparse, kb.SparseVector{})
	ix.product = append(ix.product, 0)
	ix.language = append(ix.language, 0)
	ix.intents = append(ix.intents, 0)
	ix.setRow(row, r)
}

func (ix *Index) recordLocked(row int) kb.Record {
	dim := ix.opts.Dim
	return kb.Record{Chunk: ix.chunks[row], Dense: append([]float32(nil), ix.vecs[row*dim:(row+1)*dim]...), Sparse: ix.sparse[row]}
}

// Len implements kb.Index.
func (ix *Index) Len(context.Context) (int, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.chunks), nil
}

// Close implements kb.Index; the index is saved after every change, so
// there is nothing left to write.
func (ix *Index) Close() error { return nil }

// compiled filter: interned ids, -1 meaning "matches nothing".
type cfilter struct {
	product, general, language int32
	intentBit                  uint64
	intent                     string
	active                     bool
}

func (ix *Index) compile(f kb.Filter) cfilter {
	c := cfilter{product: 0, general: -1, language: 0, intent: f.Intent}
	lookup := func(s string) int32 {
		if id, ok := ix.interned[s]; ok {
			return id
		}
		return -1
	}
	if f.Product != "" {
		c.product, c.general, c.active = lookup(f.Product), lookup(kb.GeneralProduct), true
	}
	if f.Language != "" {
		c.language, c.active = lookup(f.Language), true
	}
	if f.Intent != "" {
		c.active = true
		if id, ok := ix.intentID[f.Intent]; ok && id < 64 {
			c.intentBit = 1 << id
		}
	}
	return c
}

func (ix *Index) pass(c *cfilter, row int) bool {
	if !c.active {
		return true
	}
	if c.product != 0 && ix.product[row] != c.product && ix.product[row] != c.general {
		return false
	}
	if c.language != 0 && ix.language[row] != c.language {
		return false
	}
	if c.intent != "" {
		if c.intentBit != 0 {
			return ix.intents[row]&c.intentBit != 0
		}
		// Intent beyond the first 64 or unknown: check the chunk itself.
		return kb.Filter{Intent: c.intent}.Match(&ix.chunks[row])
	}
	return true
}

// Search implements kb.Index.
func (ix *Index) Search(ctx context.Context, req kb.SearchRequest) ([]kb.Hit, error) {
	if req.K <= 0 {
		return []kb.Hit{}, nil
	}
	if req.Dense != nil && len(req.Dense) != ix.opts.Dim {
		return nil, fmt.Errorf("%w: query has %d dimensions, the index %d", kb.ErrDimension, len(req.Dense), ix.opts.Dim)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	cf := ix.compile(req.Filter)
	p := req.PrefetchLimit()
	var dense, sparse []scored
	if req.Dense != nil {
		dense = ix.denseTop(req.Dense, p, &cf)
	}
	if len(req.Sparse.Indices) > 0 {
		sparse = ix.sparseTop(req.Sparse, p, &cf)
	}
	var rows []rowHit
	switch {
	case dense != nil && len(req.Sparse.Indices) > 0:
		rows = fuse(dense, sparse, req.K)
	case dense != nil:
		for i, s := range dense[:min(req.K, len(dense))] {
			rows = append(rows, rowHit{row: s.row, hit: kb.Hit{Score: s.score, DenseScore: s.score, DenseRank: i + 1}})
		}
	default:
		for i, s := range sparse[:min(req.K, len(sparse))] {
			rows = append(rows, rowHit{row: s.row, hit: kb.Hit{Score: s.score, SparseScore: s.score, SparseRank: i + 1}})
		}
	}
	hits := make([]kb.Hit, len(rows))
	for i, r := range rows {
		hits[i] = r.hit
		hits[i].Chunk = ix.chunks[r.row]
	}
	return hits, nil
}

// rowHit is a hit before its chunk is attached.
type rowHit struct {
	row int
	hit kb.Hit
}

type scored struct {
	row   int
	score float32
}

// minHeap keeps the best n scores seen; its root is the worst of them.
type minHeap []scored

func (h minHeap) Len() int { return len(h) }
func (h minHeap) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score < h[j].score
	}
	return h[i].row > h[j].row // ties: lower row (earlier insert) ranks higher
}
func (h minHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)   { *h = append(*h, x.(scored)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func better(a, b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.row < b.row
}

// topN keeps the n best; push is cheap when x is worse than the root.
type topN struct {
	n int
	h minHeap
}

func (t *topN) push(x scored) {
	if len(t.h) < t.n {
		heap.Push(&t.h, x)
		return
	}
	if better(x, t.h[0]) {
		t.h[0] = x
		heap.Fix(&t.h, 0)
	}
}

func (t *topN) sorted() []scored {
	out := append([]scored(nil), t.h...)
	sort.Slice(out, func(i, j int) bool { return better(out[i], out[j]) })
	return out
}

var dotsPool = sync.Pool{New: func() any { return new([]int32) }}

// rescoreFactor widens the int8 candidate set before the exact float32
// re-score, so quantisation error cannot push a true top-p row out.
const rescoreFactor = 2

func (ix *Index) denseTop(q []float32, p int, cf *cfilter) []scored {
	n, dim := len(ix.chunks), ix.opts.Dim
	if n == 0 {
		return []scored{}
	}
	if ix.codes != nil {
		return ix.shortlistTop(q, p, cf)
	}
	q8 := make([]int8, dim)
	qs := quantise(q, q8)
	dp := dotsPool.Get().(*[]int32)
	defer dotsPool.Put(dp)
	if cap(*dp) < n {
		*dp = make([]int32, n)
	}
	dots := (*dp)[:n]
	workers := min(ix.opts.Workers, max(1, n/4096))
	if workers <= 1 {
		dotsI8(ix.q8, q8, n, dim, dots)
	} else {
		var wg sync.WaitGroup
		per := (n + workers - 1) / workers
		for lo := 0; lo < n; lo += per {
			hi := min(n, lo+per)
			wg.Go(func() { dotsI8(ix.q8[lo*dim:hi*dim], q8, hi-lo, dim, dots[lo:hi]) })
		}
		wg.Wait()
	}
	cand := topN{n: p * rescoreFactor}
	for row, d := range dots {
		if !ix.pass(cf, row) {
			continue
		}
		cand.push(scored{row: row, score: float32(d) * ix.scales[row] * qs})
	}
	exact := topN{n: p}
	for _, c := range cand.h {
		exact.push(scored{row: c.row, score: vecmath.Dot(q, ix.vecs[c.row*dim:(c.row+1)*dim])})
	}
	return exact.sorted()
}

func (ix *Index) sparseTop(q kb.SparseVector, p int, cf *cfilter) []scored {
	acc := map[int32]float32{}
	for i, k := range q.Indices {
		for _, po := range ix.postings[k] {
			acc[po.row] += q.Values[i] * po.w
		}
	}
	t := topN{n: p}
	for row, s := range acc {
		if s > 0 && ix.pass(cf, int(row)) {
			t.push(scored{row: int(row), score: s})
		}
	}
	return t.sorted()
}

// fuse merges the dense and sparse lists by reciprocal rank, as Qdrant's
// Fusion.RRF does, keeping each list's score and rank for the brief.
func fuse(dense, sparse []scored, k int) []rowHit {
	byRow := map[int]int{}
	var out []rowHit
	get := func(row int) *kb.Hit {
		i, ok := byRow[row]
		if !ok {
			i = len(out)
			byRow[row] = i
			out = append(out, rowHit{row: row})
		}
		return &out[i].hit
	}
	for i, s := range dense {
		h := get(s.row)
		h.DenseScore, h.DenseRank = s.score, i+1
		h.Score += 1 / float32(kb.RRFK+i+1)
	}
	for i, s := range sparse {
		h := get(s.row)
		h.SparseScore, h.SparseRank = s.score, i+1
		h.Score += 1 / float32(kb.RRFK+i+1)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].hit.Score != out[b].hit.Score {
			return out[a].hit.Score > out[b].hit.Score
		}
		return out[a].row < out[b].row
	})
	return out[:min(k, len(out))]
}
