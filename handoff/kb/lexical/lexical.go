// Package lexical is the knowledge base's pure-Go, corpus-fitted text
// representation: hashed character n-grams for Chinese and word n-grams
// (plus character trigrams, which survive recognition errors) for English,
// weighted by TF-IDF fitted on the articles and L2-normalised. It gives
// the sparse half of hybrid search, and, folded by feature hashing into a
// small dense vector, an embedder that needs no model file at all: the
// fallback when the e5 model is not installed.
package lexical

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/callbrief/callbrief/handoff/kb"
)

// SparseBits is the size of the hashed feature space (2^20): collisions
// among the few hundred thousand n-grams of a KB are rare at that size.
const SparseBits = 20

const sparseMask = 1<<SparseBits - 1

// DefaultDim is the dense size of the hashed embedder.
const DefaultDim = 512

// ErrModel means a saved model could not be read.
var ErrModel = errors.New("lexical: model")

// Feature kinds; the kind is hashed with the text so that the character
// "电" and the word "dian" never share a slot by construction.
const (
	kindHan      = 'c' // one CJK character
	kindHanPair  = 'b' // two adjacent CJK characters
	kindWord     = 'w' // a Latin word or a number
	kindWordPair = 'p' // two adjacent non-stop words
	kindTrigram  = 'g' // a character trigram of a Latin word
)

// Relative weights: a character trigram is weak evidence alone but lets
// "battry" meet "battery"; a Chinese bigram ("开机") says more than either
// character.
var kindWeight = map[byte]float64{kindHan: 0.6, kindHanPair: 1, kindWord: 1, kindWordPair: 0.8, kindTrigram: 0.3}

type feature struct {
	hash uint32
	kind byte
}

var enStop = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the and or but if of to in on at for with from by is are was were be been am
		i me my we our you your he she it its they them this that these those do does did have has had can could
		would should will just so not no yes please hi hello um uh er like okay ok there what how why when where
		which who get got want need my im i'm it's dont don't cant can't about up out into`) {
		enStop[w] = true
	}
}

// zhStop are function characters that carry no topic alone; they still
// take part in bigrams ("不了").
var zhStop = map[rune]bool{}

func init() {
	for _, r := range "的了吗呢啊呀吧嗯哦我你他她它们是在有就都也还又这那个一些么啦喂请问想要" {
		zhStop[r] = true
	}
}

func hashFeature(kind byte, s string) feature {
	h := fnv.New32a()
	h.Write([]byte{kind})
	h.Write([]byte(s))
	return feature{hash: h.Sum32(), kind: kind}
}

// features extracts the hashed features of text after Normalize, with
// repetitions (term frequency is counted by the caller).
func features(text string) []feature {
	text = Normalize(text)
	var out []feature
	var prevWord string
	var han []rune
	flushHan := func() {
		for i, r := range han {
			if !zhStop[r] {
				out = append(out, hashFeature(kindHan, string(r)))
			}
			if i > 0 {
				out = append(out, hashFeature(kindHanPair, string(han[i-1:i+1])))
			}
		}
		han = han[:0]
	}
	rs := []rune(text)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.Is(unicode.Han, r):
			prevWord = ""
			han = append(han, r)
			i++
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			flushHan()
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '\'') && !unicode.Is(unicode.Han, rs[j]) {
				j++
			}
			w := strings.Trim(string(rs[i:j]), "'")
			i = j
			if w == "" || enStop[w] {
				prevWord = ""
				continue
			}
			w = stem(w)
			out = append(out, hashFeature(kindWord, w))
			if prevWord != "" {
				out = append(out, hashFeature(kindWordPair, prevWord+" "+w))
			}
			prevWord = w
			if ws := []rune("<" + w + ">"); len(ws) >= 6 {
				for k := 0; k+3 <= len(ws); k++ {
					out = append(out, hashFeature(kindTrigram, string(ws[k:k+3])))
				}
			}
		default:
			flushHan()
			if !unicode.IsSpace(r) {
				prevWord = ""
			}
			i++
		}
	}
	flushHan()
	return out
}

// stem strips the commonest English inflections so "charging" meets
// "charge" and "phones" meets "phone"; it is not a full stemmer.
func stem(w string) string {
	switch {
	case len(w) > 5 && strings.HasSuffix(w, "ing"):
		w = w[:len(w)-3]
	case len(w) > 4 && strings.HasSuffix(w, "ed"):
		w = w[:len(w)-2]
	case len(w) > 4 && strings.HasSuffix(w, "es") && !strings.HasSuffix(w, "ses"):
		w = w[:len(w)-2]
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss"):
		w = w[:len(w)-1]
	}
	return strings.TrimSuffix(w, "e")
}

// Model holds document frequencies fitted on a corpus. It is immutable
// after Fit or Unmarshal and safe for concurrent use.
type Model struct {
	docs int
	df   map[uint32]uint32
	dim  int
}

// Fit counts document frequencies over texts (one per chunk).
func Fit(texts []string, dim int) *Model {
	if dim <= 0 {
		dim = DefaultDim
	}
	m := &Model{docs: len(texts), df: map[uint32]uint32{}, dim: dim}
	seen := map[uint32]bool{}
	for _, t := range texts {
		clear(seen)
		for _, f := range features(t) {
			k := f.hash & sparseMask
			if !seen[k] {
				seen[k] = true
				m.df[k]++
			}
		}
	}
	return m
}

// idf is the BM25 form, which stays positive for terms in every document.
func (m *Model) idf(k uint32) float64 {
	df := float64(m.df[k])
	n := float64(m.docs)
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

// Sparse returns the TF-IDF vector of text, L2-normalised, with ascending
// indices. A text with no features gives an empty vector.
func (m *Model) Sparse(text string) kb.SparseVector {
	tf := map[uint32]float64{}
	kinds := map[uint32]byte{}
	for _, f := range features(text) {
		k := f.hash & sparseMask
		tf[k]++
		kinds[k] = f.kind
	}
	if len(tf) == 0 {
		return kb.SparseVector{}
	}
	idx := make([]uint32, 0, len(tf))
	for k := range tf {
		idx = append(idx, k)
	}
	slices.Sort(idx)
	vals := make([]float32, len(idx))
	var norm float64
	w := make([]float64, len(idx))
	for i, k := range idx {
		w[i] = (1 + math.Log(tf[k])) * m.idf(k) * kindWeight[kinds[k]]
		norm += w[i] * w[i]
	}
	norm = math.Sqrt(norm)
	for i := range w {
		vals[i] = float32(w[i] / norm)
	}
	return kb.SparseVector{Indices: idx, Values: vals}
}

// Dense folds the sparse vector into Dim dimensions with a signed hash
// (the "hashing trick"), which keeps dot products unbiased, and
// re-normalises.
func (m *Model) Dense(text string) []float32 {
	sp := m.Sparse(text)
	v := make([]float32, m.dim)
	for i, k := range sp.Indices {
		h := k * 0x9E3779B1 // spread the low bits before taking the slot
		slot := int(h>>8) % m.dim
		if h&1 == 1 {
			v[slot] -= sp.Values[i]
		} else {
			v[slot] += sp.Values[i]
		}
	}
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n > 0 {
		inv := float32(1 / math.Sqrt(n))
		for i := range v {
			v[i] *= inv
		}
	}
	return v
}

// Dim is the dense size.
func (m *Model) Dim() int { return m.dim }

// Docs is the number of documents the model was fitted on.
func (m *Model) Docs() int { return m.docs }

type saved struct {
	Version int      `json:"version"`
	Docs    int      `json:"docs"`
	Dim     int      `json:"dim"`
	Keys    []uint32 `json:"keys"`
	DF      []uint32 `json:"df"`
}

// MarshalJSON saves the fitted frequencies (keys sorted, so the file is
// reproducible).
func (m *Model) MarshalJSON() ([]byte, error) {
	s := saved{Version: 1, Docs: m.docs, Dim: m.dim}
	for k := range m.df {
		s.Keys = append(s.Keys, k)
	}
	slices.Sort(s.Keys)
	for _, k := range s.Keys {
		s.DF = append(s.DF, m.df[k])
	}
	return json.Marshal(s)
}

// Unmarshal reads a model saved by MarshalJSON.
func Unmarshal(b []byte) (*Model, error) {
	var s saved
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if s.Version != 1 || len(s.Keys) != len(s.DF) || s.Dim <= 0 || s.Docs < 0 {
		return nil, fmt.Errorf("%w: unsupported or inconsistent file (version %d)", ErrModel, s.Version)
	}
	m := &Model{docs: s.Docs, dim: s.Dim, df: make(map[uint32]uint32, len(s.Keys))}
	for i, k := range s.Keys {
		m.df[k] = s.DF[i]
	}
	return m, nil
}

// Embedder is the hashed TF-IDF model as a kb.Embedder. Queries and
// passages are embedded the same way.
type Embedder struct{ M *Model }

// Embed implements kb.Embedder.
func (e Embedder) Embed(ctx context.Context, texts []string, _ kb.Kind) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i] = e.M.Dense(t)
	}
	return out, nil
}

// Dim implements kb.Embedder.
func (e Embedder) Dim() int { return e.M.dim }

// Name implements kb.Embedder.
func (e Embedder) Name() string { return fmt.Sprintf("lexical-hash%d", e.M.dim) }

// Close implements kb.Embedder.
func (Embedder) Close() error { return nil }
