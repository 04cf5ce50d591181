package memindex

import (
	"context"
	"errors"
	"github.com/callbrief/callbrief/internal/vecmath"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/handoff/kb/kbtest"
)

func TestIndexSuite(t *testing.T) {
	kbtest.Run(t, func(t *testing.T) kb.Index {
		ix, err := New(Options{Dim: kbtest.Dim, Path: filepath.Join(t.TempDir(), "index.cbx")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ix.Close() })
		return ix
	})
}

func TestPersistReload(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kb", "index.cbx")
	ix, err := New(Options{Dim: kbtest.Dim, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, kbtest.Records()); err != nil {
		t.Fatal(err)
	}
	if err := ix.Delete(ctx, []string{"a3"}); err != nil {
		t.Fatal(err)
	}
	req := kb.SearchRequest{Dense: kbtest.Records()[0].Dense, Sparse: kbtest.Records()[4].Sparse, K: 10}
	before, err := ix.Search(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.tmp*"))
	if len(matches) != 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}

	// Dim 0: the file says what it is.
	re, err := New(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if re.Dim() != kbtest.Dim {
		t.Fatalf("reloaded Dim = %d", re.Dim())
	}
	after, err := re.Search(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(before, after, func(a, b kb.Hit) bool { return a.Chunk.ID == b.Chunk.ID && a.Score == b.Score }) {
		t.Fatalf("reloaded index answers differently:\n%v\n%v", before, after)
	}
	if n, _ := re.Len(ctx); n != 4 {
		t.Fatalf("reloaded Len = %d, want 4", n)
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.cbx")
	ix, err := New(Options{Dim: kbtest.Dim, Path: good})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, kbtest.Records()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	flipped := slices.Clone(data)
	flipped[len(flipped)-10] ^= 0xff

	tests := []struct {
		name string
		data []byte
		dim  int
		want error
	}{
		{"not an index", []byte("hello"), 0, kb.ErrIndex},
		{"truncated", data[:len(data)/2], 0, kb.ErrIndex},
		{"bit flip", flipped, 0, kb.ErrIndex},
		{"other embedder", data, kbtest.Dim * 2, kb.ErrDimension},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".cbx")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := New(Options{Dim: tc.dim, Path: p})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := New(Options{Path: filepath.Join(dir, "new.cbx")}); !errors.Is(err, kb.ErrIndex) {
		t.Errorf("new index without Dim: err = %v, want ErrIndex", err)
	}
}

// The int8 scan must not change which rows win: with the float32 re-score
// the top of the ranking equals an exact float32 brute force.
func TestQuantisedMatchesExact(t *testing.T) {
	ctx := context.Background()
	const n, dim = 3000, 64
	recs := Synthetic(n, dim, 1)
	ix, err := New(Options{Dim: dim})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for qi := range 20 {
		q := recs[qi*37].Dense
		hits, err := ix.Search(ctx, kb.SearchRequest{Dense: q, K: 10})
		if err != nil {
			t.Fatal(err)
		}
		type rs struct {
			id string
			s  float32
		}
		var all []rs
		for _, r := range recs {
			all = append(all, rs{r.Chunk.ID, vecmath.Dot(q, r.Dense)})
		}
		slices.SortFunc(all, func(a, b rs) int {
			if a.s > b.s {
				return -1
			}
			if a.s < b.s {
				return 1
			}
			return 0
		})
		for i := range 10 {
			if hits[i].Chunk.ID != all[i].id && !near(hits[i].Score, all[i].s) {
				t.Fatalf("query %d rank %d: got %s (%.5f), exact %s (%.5f)", qi, i, hits[i].Chunk.ID, hits[i].Score, all[i].id, all[i].s)
			}
		}
	}
}

func near(a, b float32) bool { return a-b < 1e-5 && b-a < 1e-5 }

func TestSuiteOnShortlistPath(t *testing.T) {
	kbtest.Run(t, func(t *testing.T) kb.Index {
		ix, err := New(Options{Dim: kbtest.Dim, ShortlistFrom: 1})
		if err != nil {
			t.Fatal(err)
		}
		return ix
	})
}

// The binary shortlist is approximate; on clustered vectors with a 5%
// shortlist it must still find nearly all of the exact top 10, with and
// without a filter.
func TestShortlistRecall(t *testing.T) {
	ctx := context.Background()
	const n, dim = 20_000, 128
	recs := Synthetic(n, dim, 3)
	approx, err := New(Options{Dim: dim, ShortlistFrom: 1})
	if err != nil {
		t.Fatal(err)
	}
	exact, err := New(Options{Dim: dim, ShortlistFrom: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ix := range []*Index{approx, exact} {
		if err := ix.Upsert(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	if approx.codes == nil || exact.codes != nil {
		t.Fatal("the two indexes do not take the paths under test")
	}
	queries := SyntheticQueries(recs, 50, 11)
	for _, f := range []kb.Filter{{}, {Product: "phone", Language: "zh"}} {
		found, total := 0, 0
		for _, q := range queries {
			req := kb.SearchRequest{Dense: q, K: 10, Filter: f}
			a, err := approx.Search(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			e, _ := exact.Search(ctx, req)
			got := map[string]bool{}
			for _, h := range a {
				got[h.Chunk.ID] = true
				if !f.Match(&h.Chunk) {
					t.Fatalf("filter %+v let %s through", f, h.Chunk.ID)
				}
			}
			for _, h := range e {
				total++
				if got[h.Chunk.ID] {
					found++
				}
			}
		}
		if r := float64(found) / float64(total); r < 0.95 {
			t.Errorf("filter %+v: recall@10 against exact = %.3f, want >= 0.95", f, r)
		} else {
			t.Logf("filter %+v: recall@10 against exact = %.3f", f, r)
		}
	}
}
