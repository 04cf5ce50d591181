package kb

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
)

// SparseModel gives the sparse (lexical) vector of a text, the second list
// of a hybrid search. It must be fitted on the same chunks that are
// indexed; lexical.Model is the implementation.
type SparseModel interface {
	Sparse(text string) SparseVector
}

// Base is a knowledge base ready to search: an embedder, an index and,
// optionally, a sparse model for hybrid search. Its fields are set once;
// Base is then safe for concurrent use.
type Base struct {
	Embedder Embedder
	Index    Index
	Sparse   SparseModel // nil: dense search only
	// Normalize folds text before matched terms are computed for "why"
	// (traditional to simplified characters, Cantonese to Mandarin); nil
	// means lower-casing only.
	Normalize func(string) string
	// IntentRanks is how many ranks an article that answers the caller's
	// predicted intent (Lookup.Intent) moves up among the candidates; 0
	// leaves the ranking alone. A boost, not a filter: a call whose intent
	// was misjudged still finds its article a few places down.
	IntentRanks int
	// FoldDense embeds a Cantonese caller's words folded by Normalize
	// (DenseQuery) instead of as said. The embedder knows written
	// Mandarin far better than colloquial Cantonese, and the articles are
	// in written Mandarin: "部機開唔到" becomes "手机打不开" before e5
	// reads it. Mandarin and English queries are embedded as said.
	FoldDense bool
	Chunking  ChunkOptions
	Logger    *slog.Logger
}

// DenseQuery is the text whose embedding is the dense half of a search for
// a caller speaking lang: text itself, or folded by normalize (see
// Base.FoldDense) when fold is set and lang is Cantonese (yue). The served understanding step embeds the same text
// ahead of the brief, so both must decide alike: one function.
func DenseQuery(text, lang string, fold bool, normalize func(string) string) string {
	// Cantonese only: the folding table is Cantonese's, and only
	// Cantonese was measured (a Wu caller's words are embedded as said).
	if !fold || normalize == nil || lang != "yue" {
		return text
	}
	return normalize(text)
}

// IngestStats reports one ingest.
type IngestStats struct {
	Articles int           `json:"articles"`
	Chunks   int           `json:"chunks"`
	Embed    time.Duration `json:"embed_ns"`
	Index    time.Duration `json:"index_ns"`
}

// ChunkAll chunks every article, in order.
func ChunkAll(arts []Article, opts ChunkOptions) []Chunk {
	var out []Chunk
	for _, a := range arts {
		out = append(out, ChunkArticle(a, opts)...)
	}
	return out
}

// Ingest chunks, embeds and indexes the articles, replacing every earlier
// version of them (an edited article may have fewer chunks than before).
func (b *Base) Ingest(ctx context.Context, arts []Article) (IngestStats, error) {
	chunks := ChunkAll(arts, b.Chunking)
	st := IngestStats{Articles: len(arts), Chunks: len(chunks)}
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = c.EmbedText()
	}
	t0 := time.Now()
	vecs, err := b.Embedder.Embed(ctx, texts, Passage)
	if err != nil {
		return st, fmt.Errorf("%w: %s: %w", ErrEmbedder, b.Embedder.Name(), err)
	}
	st.Embed = time.Since(t0)
	recs := make([]Record, len(chunks))
	for i, c := range chunks {
		recs[i] = Record{Chunk: c, Dense: vecs[i]}
		if b.Sparse != nil {
			recs[i].Sparse = b.Sparse.Sparse(texts[i])
		}
	}
	ids := make([]string, len(arts))
	for i, a := range arts {
		ids[i] = a.ID
	}
	t1 := time.Now()
	if err := b.Index.Delete(ctx, ids); err != nil {
		return st, err
	}
	if err := b.Index.Upsert(ctx, recs); err != nil {
		return st, err
	}
	st.Index = time.Since(t1)
	b.logger().Info("kb ingested", "articles", st.Articles, "chunks", st.Chunks, "embedder", b.Embedder.Name(), "embed", st.Embed, "index", st.Index)
	return st, nil
}

func (b *Base) logger() *slog.Logger {
	if b.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Logger
}

// Lookup is a knowledge-base query for a brief.
type Lookup struct {
	Text   string
	K      int // articles wanted; default 5
	Filter Filter
	// Intent is the caller's predicted intent. It does not filter (a
	// misclassified call must still find its article) but is named in
	// "why" when a suggestion answers it.
	Intent string
}

// Suggestion is one article proposed to the agent, represented by its best
// matching chunk.
type Suggestion struct {
	ArticleID string   `json:"article_id"`
	Title     string   `json:"title"`
	Product   string   `json:"product"`
	Language  string   `json:"language"`
	Intents   []string `json:"intents"`
	Heading   string   `json:"heading,omitempty"`
	Snippet   string   `json:"snippet"`
	ChunkID   string   `json:"chunk_id"`
	Score     float32  `json:"score"`
	// Why lists the reasons it matched, for the agent: similarity and
	// rank in each list, shared words, metadata that matches the call.
	Why []string `json:"why"`
}

// Result is the answer to a Lookup with its timings.
type Result struct {
	Suggestions []Suggestion  `json:"suggestions"`
	Embed       time.Duration `json:"embed_ns"`
	Search      time.Duration `json:"search_ns"`
}

// ChineseVarieties are the call languages served by the Chinese articles.
var ChineseVarieties = map[string]bool{"zh": true, "cmn": true, "yue": true, "wuu": true, "nan": true, "hak": true}

// ArticleLanguage maps a caller's language tag to the article language
// that serves it: every Chinese variety reads the Chinese articles.
func ArticleLanguage(lang string) string {
	if ChineseVarieties[lang] {
		return "zh"
	}
	return lang
}

// ArticleLanguageMatches reports whether an article in articleLang serves
// a caller speaking callerLang (any language when callerLang is empty).
func ArticleLanguageMatches(callerLang, articleLang string) bool {
	return callerLang == "" || ArticleLanguage(callerLang) == articleLang
}

// Suggest finds the articles most likely to solve the caller's problem:
// it searches chunks (hybrid when a sparse model is set), keeps the best
// chunk of each article and returns the top K articles, best first.
func (b *Base) Suggest(ctx context.Context, q Lookup) (Result, error) {
	var res Result
	if q.K <= 0 {
		q.K = 5
	}
	if strings.TrimSpace(q.Text) == "" {
		return Result{Suggestions: []Suggestion{}}, nil
	}
	dq := DenseQuery(q.Text, q.Filter.Language, b.FoldDense, b.Normalize)
	q.Filter.Language = ArticleLanguage(q.Filter.Language)
	t0 := time.Now()
	vecs, err := b.Embedder.Embed(ctx, []string{dq}, Query)
	if err != nil {
		return res, fmt.Errorf("%w: %s: %w", ErrEmbedder, b.Embedder.Name(), err)
	}
	res.Embed = time.Since(t0)
	req := SearchRequest{Dense: vecs[0], K: q.K * 4, Filter: q.Filter}
	if b.Sparse != nil {
		req.Sparse = b.Sparse.Sparse(q.Text)
	}
	t1 := time.Now()
	hits, err := b.Index.Search(ctx, req)
	res.Search = time.Since(t1)
	if err != nil {
		return res, err
	}
	hits = boostIntent(hits, q.Intent, b.IntentRanks)
	seen := map[string]bool{}
	res.Suggestions = []Suggestion{}
	for _, h := range hits {
		if seen[h.Chunk.ArticleID] {
			continue
		}
		seen[h.Chunk.ArticleID] = true
		res.Suggestions = append(res.Suggestions, b.suggestion(h, q))
		if len(res.Suggestions) == q.K {
			break
		}
	}
	return res, nil
}

// DefaultIntentRanks is the served boost of an article that answers the
// caller's intent. Chosen on data/kb/queries.jsonl (our own queries) with
// the intents the served classifier gives them; the independent
// paraphrase set was only measured with it.
const DefaultIntentRanks = 3

// boostIntent reorders hits so that those whose chunk answers intent count
// ranks places higher; the order is otherwise kept.
func boostIntent(hits []Hit, intent string, ranks int) []Hit {
	if ranks <= 0 || intent == "" || intent == "out_of_scope" {
		return hits
	}
	type ranked struct {
		h   Hit
		key int
	}
	rs := make([]ranked, len(hits))
	for i, h := range hits {
		k := 2 * i
		if slices.Contains(h.Chunk.Intents, intent) {
			k -= 2*ranks + 1 // ahead of the hit it ties with
		}
		rs[i] = ranked{h, k}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { return a.key - b.key })
	out := make([]Hit, len(hits))
	for i, r := range rs {
		out[i] = r.h
	}
	return out
}

func (b *Base) suggestion(h Hit, q Lookup) Suggestion {
	c := h.Chunk
	s := Suggestion{
		ArticleID: c.ArticleID, Title: c.Title, Product: c.Product, Language: c.Language, Intents: c.Intents,
		Heading: c.Heading, Snippet: snippet(c.Text, 160), ChunkID: c.ID, Score: h.Score,
	}
	if h.DenseRank > 0 {
		s.Why = append(s.Why, fmt.Sprintf("meaning: similarity %.2f, rank %d", h.DenseScore, h.DenseRank))
	}
	if h.SparseRank > 0 {
		s.Why = append(s.Why, fmt.Sprintf("keywords: score %.2f, rank %d", h.SparseScore, h.SparseRank))
	}
	if terms := b.matchedTerms(q.Text, c.Title+"\n"+c.Text, 6); len(terms) > 0 {
		s.Why = append(s.Why, "shared words: "+strings.Join(terms, ", "))
	}
	if q.Intent != "" && slices.Contains(c.Intents, q.Intent) {
		s.Why = append(s.Why, "answers the caller's intent "+q.Intent)
	}
	if q.Filter.Product != "" {
		s.Why = append(s.Why, "product "+c.Product)
	}
	return s
}

func snippet(s string, runes int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= runes {
		return s
	}
	return string(r[:runes]) + "…"
}

// matchedTerms lists query words (Latin words of 3+ letters, Chinese
// character pairs) that occur in text, after normalisation, in query order.
func (b *Base) matchedTerms(query, text string, limit int) []string {
	norm := strings.ToLower
	if b.Normalize != nil {
		norm = b.Normalize
	}
	q, t := []rune(norm(query)), norm(text)
	var out []string
	seen := map[string]bool{}
	add := func(w string) {
		if !seen[w] && strings.Contains(t, w) && len(out) < limit {
			seen[w] = true
			out = append(out, w)
		}
	}
	for i := 0; i < len(q); {
		switch {
		case unicode.Is(unicode.Han, q[i]):
			if i+1 < len(q) && unicode.Is(unicode.Han, q[i+1]) {
				add(string(q[i : i+2]))
			}
			i++
		case unicode.IsLetter(q[i]) || unicode.IsDigit(q[i]):
			j := i
			for j < len(q) && (unicode.IsLetter(q[j]) || unicode.IsDigit(q[j])) && !unicode.Is(unicode.Han, q[j]) {
				j++
			}
			if j-i >= 3 {
				add(string(q[i:j]))
			}
			i = j
		default:
			i++
		}
	}
	return out
}
