package memindex

import (
	"github.com/callbrief/callbrief/internal/vecmath"
	"math/bits"
	"sync"
)

// The binary scan keeps max(MinShortlist, ShortlistFactor x prefetch,
// rows / ShortlistDivisor) rows for the int8 stage. The last term matters:
// 1-bit codes separate topics well but rank poorly within one, so the
// shortlist must be wide enough to hold a whole topic's rows.
const (
	MinShortlist     = 1000
	ShortlistFactor  = 20
	ShortlistDivisor = 16
)

// distPool and rowsPool reuse per-search buffers (200-400 kB at 100k
// rows), which would otherwise be a search's main garbage.
var (
	distPool = sync.Pool{New: func() any { return new([]uint16) }}
	rowsPool = sync.Pool{New: func() any { return new([]int32) }}
)

// shortlistTop scans the binary codes, keeps the rows nearest in Hamming
// distance that pass the filter, scores those with int8 vectors and
// re-scores the best with float32 ones.
func (ix *Index) shortlistTop(q []float32, p int, cf *cfilter) []scored {
	n, dim, w := len(ix.chunks), ix.opts.Dim, ix.words
	qc := make([]uint64, w)
	ix.encode(q, qc)
	dp := distPool.Get().(*[]uint16)
	defer distPool.Put(dp)
	if cap(*dp) < n {
		*dp = make([]uint16, n)
	}
	dist := (*dp)[:n]
	workers := min(ix.opts.Workers, max(1, n/8192))
	per := (n + workers - 1) / workers
	var wg sync.WaitGroup
	// One histogram of distances per worker: the threshold that admits the
	// shortlist is read off it without sorting 100k distances.
	hists := make([][]int, workers)
	for wi := range workers {
		lo, hi := wi*per, min(n, (wi+1)*per)
		hist := make([]int, dim+2)
		hists[wi] = hist
		wg.Go(func() {
			for row := lo; row < hi; row++ {
				if !ix.pass(cf, row) {
					dist[row] = uint16(dim + 1) // filtered out
					continue
				}
				c := ix.codes[row*w : (row+1)*w]
				d := 0
				for i, x := range c {
					d += bits.OnesCount64(x ^ qc[i])
				}
				dist[row] = uint16(d)
				hist[d]++
			}
		})
	}
	wg.Wait()
	want := max(MinShortlist, ShortlistFactor*p, n/ShortlistDivisor)
	// Rows at distance < thr are all taken; rows at exactly thr fill up
	// to want.
	thr, taken := 0, 0
	for ; thr <= dim; thr++ {
		c := 0
		for _, h := range hists {
			c += h[thr]
		}
		if taken+c >= want {
			break
		}
		taken += c
	}
	atThr := want - taken
	rp := rowsPool.Get().(*[]int32)
	defer rowsPool.Put(rp)
	short := (*rp)[:0]
	for row, d := range dist {
		if int(d) > thr || int(d) > dim {
			continue
		}
		if int(d) == thr {
			if atThr == 0 {
				continue
			}
			atThr--
		}
		short = append(short, int32(row))
	}
	*rp = short
	q8 := make([]int8, dim)
	qs := quantise(q, q8)
	dots := make([]int32, len(short))
	dotsI8Rows(ix.q8, short, q8, dim, dots)
	cand := topN{n: p * rescoreFactor}
	for i, row := range short {
		cand.push(scored{row: int(row), score: float32(dots[i]) * ix.scales[row] * qs})
	}
	exact := topN{n: p}
	for _, c := range cand.h {
		exact.push(scored{row: c.row, score: vecmath.Dot(q, ix.vecs[c.row*dim:(c.row+1)*dim])})
	}
	return exact.sorted()
}
