package evals

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"
)

// RetrievalQuery is one labelled knowledge-base query: what a caller said
// (as a recogniser would write it) and the articles that answer it.
type RetrievalQuery struct {
	ID       string   `json:"id"`
	Text     string   `json:"text"`
	Language string   `json:"lang"` // zh, yue, en...
	Relevant []string `json:"relevant"`
	Product  string   `json:"product,omitempty"`
}

// LoadRetrievalQueries reads a JSONL file of RetrievalQuery.
func LoadRetrievalQueries(path string) ([]RetrievalQuery, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataset, err)
	}
	defer f.Close()
	return ParseRetrievalQueries(f, path)
}

// ParseRetrievalQueries reads JSONL queries; errors name the line. Unknown
// fields, a missing text or no relevant article are errors, and ids must
// be unique.
func ParseRetrievalQueries(r io.Reader, name string) ([]RetrievalQuery, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var out []RetrievalQuery
	seen := map[string]int{}
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var q RetrievalQuery
		if err := dec.Decode(&q); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %w", ErrDataset, name, line, err)
		}
		switch {
		case strings.TrimSpace(q.Text) == "":
			return nil, fmt.Errorf("%w: %s:%d: text is empty", ErrDataset, name, line)
		case len(q.Relevant) == 0:
			return nil, fmt.Errorf("%w: %s:%d: no relevant article", ErrDataset, name, line)
		}
		if q.ID == "" {
			q.ID = fmt.Sprintf("line%d", line)
		}
		if prev, dup := seen[q.ID]; dup {
			return nil, fmt.Errorf("%w: %s:%d: id %q already used on line %d", ErrDataset, name, line, q.ID, prev)
		}
		seen[q.ID] = line
		out = append(out, q)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s:%d: %w", ErrDataset, name, line+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s: no queries", ErrDataset, name)
	}
	return out, nil
}

// Retriever answers one query with article ids, best first.
type Retriever func(ctx context.Context, q RetrievalQuery) ([]string, error)

// RetrievalKs are the cut-offs recall is reported at.
var RetrievalKs = []int{1, 3, 5, 10}

// RetrievalResult is one query's outcome.
type RetrievalResult struct {
	ID        string   `json:"id"`
	Language  string   `json:"lang"`
	Retrieved []string `json:"retrieved"`
	Relevant  []string `json:"relevant"`
	FirstRank int      `json:"first_rank"` // 1-based rank of the first relevant article; 0 if none in the list
	LatencyMS float64  `json:"latency_ms"`
	Error     string   `json:"error,omitempty"`
}

// RetrievalMetrics are means over queries. Recall@k is the fraction of a
// query's relevant articles in its top k; MRR uses the first relevant
// rank; nDCG@10 uses binary relevance.
type RetrievalMetrics struct {
	N       int             `json:"n"`
	Recall  map[int]float64 `json:"recall_at"`
	MRR     float64         `json:"mrr"`
	NDCG10  float64         `json:"ndcg_at_10"`
	Latency LatencySummary  `json:"latency"`
}

// RetrievalReport is one system on one query set.
type RetrievalReport struct {
	System     string                      `json:"system"` // e.g. "e5 + lexical hybrid, memindex"
	Queries    string                      `json:"queries"`
	Machine    string                      `json:"machine,omitempty"`
	Overall    RetrievalMetrics            `json:"overall"`
	ByLanguage map[string]RetrievalMetrics `json:"by_language"`
	Results    []RetrievalResult           `json:"results"`
	Errors     int                         `json:"errors"`
}

// RunRetrieval runs every query once through retrieve, timing each.
func RunRetrieval(ctx context.Context, system, queriesName string, qs []RetrievalQuery, retrieve Retriever) (*RetrievalReport, error) {
	rep := &RetrievalReport{System: system, Queries: queriesName, ByLanguage: map[string]RetrievalMetrics{}}
	for _, q := range qs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := time.Now()
		got, err := retrieve(ctx, q)
		r := RetrievalResult{ID: q.ID, Language: q.Language, Retrieved: got, Relevant: q.Relevant, LatencyMS: float64(time.Since(start)) / float64(time.Millisecond)}
		if err != nil {
			r.Error = err.Error()
			rep.Errors++
		}
		r.FirstRank = firstRank(got, q.Relevant)
		rep.Results = append(rep.Results, r)
	}
	rep.Overall = retrievalMetrics(rep.Results)
	byLang := map[string][]RetrievalResult{}
	for _, r := range rep.Results {
		byLang[r.Language] = append(byLang[r.Language], r)
	}
	for l, rs := range byLang {
		rep.ByLanguage[l] = retrievalMetrics(rs)
	}
	return rep, nil
}

func firstRank(got, relevant []string) int {
	for i, id := range got {
		for _, r := range relevant {
			if id == r {
				return i + 1
			}
		}
	}
	return 0
}

// RecallAt is the fraction of relevant ids among the first k of got.
func RecallAt(got, relevant []string, k int) float64 {
	if len(relevant) == 0 {
		return 0
	}
	rel := map[string]bool{}
	for _, r := range relevant {
		rel[r] = true
	}
	hit := 0
	for _, id := range got[:min(k, len(got))] {
		if rel[id] {
			hit++
			delete(rel, id) // a duplicate in got counts once
		}
	}
	return float64(hit) / float64(len(relevant))
}

// NDCGAt is the normalised discounted cumulative gain at k with binary
// relevance.
func NDCGAt(got, relevant []string, k int) float64 {
	rel := map[string]bool{}
	for _, r := range relevant {
		rel[r] = true
	}
	var dcg, ideal float64
	for i, id := range got[:min(k, len(got))] {
		if rel[id] {
			dcg += 1 / math.Log2(float64(i+2))
			delete(rel, id)
		}
	}
	for i := range min(k, len(relevant)) {
		ideal += 1 / math.Log2(float64(i+2))
	}
	if ideal == 0 {
		return 0
	}
	return dcg / ideal
}

func retrievalMetrics(rs []RetrievalResult) RetrievalMetrics {
	m := RetrievalMetrics{N: len(rs), Recall: map[int]float64{}}
	if len(rs) == 0 {
		return m
	}
	var lat []time.Duration
	for _, r := range rs {
		for _, k := range RetrievalKs {
			m.Recall[k] += RecallAt(r.Retrieved, r.Relevant, k)
		}
		if r.FirstRank > 0 {
			m.MRR += 1 / float64(r.FirstRank)
		}
		m.NDCG10 += NDCGAt(r.Retrieved, r.Relevant, 10)
		lat = append(lat, time.Duration(r.LatencyMS*float64(time.Millisecond)))
	}
	n := float64(len(rs))
	for _, k := range RetrievalKs {
		m.Recall[k] /= n
	}
	m.MRR /= n
	m.NDCG10 /= n
	m.Latency = Summarize(lat)
	return m
}

// RetrievalMarkdown renders several systems' reports side by side, then
// each system's misses at rank 1, so a reader sees both the numbers and
// what went wrong.
func RetrievalMarkdown(reps []*RetrievalReport) string {
	var b strings.Builder
	if len(reps) == 0 {
		return ""
	}
	fmt.Fprintf(&b, "# Knowledge-base retrieval\n\nQueries: `%s`", reps[0].Queries)
	if reps[0].Machine != "" {
		fmt.Fprintf(&b, " · machine: %s", reps[0].Machine)
	}
	b.WriteString("\n\n| system | lang | n | R@1 | R@3 | R@5 | R@10 | MRR | nDCG@10 | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(sys, lang string, m RetrievalMetrics) {
		fmt.Fprintf(&b, "| %s | %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f |\n",
			sys, lang, m.N, m.Recall[1], m.Recall[3], m.Recall[5], m.Recall[10], m.MRR, m.NDCG10, m.Latency.P50, m.Latency.P99)
	}
	for _, r := range reps {
		row(r.System, "all", r.Overall)
		langs := make([]string, 0, len(r.ByLanguage))
		for l := range r.ByLanguage {
			langs = append(langs, l)
		}
		sort.Strings(langs)
		for _, l := range langs {
			row(r.System, l, r.ByLanguage[l])
		}
	}
	b.WriteString("\nLatency is per query: embedding the query plus searching the index.\n")
	for _, r := range reps {
		var miss []string
		for _, x := range r.Results {
			if x.FirstRank != 1 {
				top := "-"
				if len(x.Retrieved) > 0 {
					top = x.Retrieved[0]
				}
				miss = append(miss, fmt.Sprintf("| %s | %s | %s | %d |", x.ID, strings.Join(x.Relevant, ", "), top, x.FirstRank))
			}
		}
		fmt.Fprintf(&b, "\n## %s: %d queries not answered at rank 1\n\n", r.System, len(miss))
		if len(miss) > 0 {
			b.WriteString("| query | relevant | got first | first relevant rank (0 = not in top 10) |\n|---|---|---|---|\n")
			b.WriteString(strings.Join(miss, "\n") + "\n")
		}
	}
	return b.String()
}
