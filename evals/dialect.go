package evals

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/callbrief/callbrief/call"
)

// DialectItem is one sentence in a known language or variety.
type DialectItem struct {
	Text    string        `json:"text"`
	Variety call.Language `json:"variety"`
	ASRTag  call.Language `json:"asr_tag,omitempty"`
	Source  string        `json:"source,omitempty"`
}

// DialectPredictor identifies one sentence.
type DialectPredictor func(ctx context.Context, text string, asrTag call.Language) (call.LanguageResult, error)

// DialectReport is the evaluation of a language/variety identifier.
type DialectReport struct {
	Engine       string             `json:"engine"`
	Dataset      string             `json:"dataset"`
	Machine      string             `json:"machine,omitempty"`
	Train        int                `json:"train_sentences,omitempty"`
	Test         int                `json:"test_sentences"`
	Accuracy     float64            `json:"accuracy"`
	MacroF1      float64            `json:"macro_f1"`
	Undetermined int                `json:"undetermined"` // answered und, or left the variety unnamed (unsure)
	PerVariety   []IntentScores     `json:"per_variety"`
	BySource     map[string]float64 `json:"accuracy_by_source,omitempty"`
	Confusions   []Confusion        `json:"confusions"`
	// Matrix counts answers by gold row and predicted column; "unsure" is
	// the column of texts whose variety was left unnamed.
	Matrix  map[string]map[string]int `json:"matrix"`
	Latency LatencySummary            `json:"latency"`
}

// PredUnsure is the confusion-matrix column of a variety left unnamed.
const PredUnsure = "unsure"

// Score returns the per-variety scores of label (zero when absent).
func (r *DialectReport) Score(label string) IntentScores {
	for _, s := range r.PerVariety {
		if s.Intent == label {
			return s
		}
	}
	return IntentScores{Intent: label}
}

// RunDialect scores predict on items.
func RunDialect(ctx context.Context, engine, dataset string, items []DialectItem, predict DialectPredictor) (*DialectReport, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: no sentences", ErrDataset)
	}
	rep := &DialectReport{Engine: engine, Dataset: dataset, Test: len(items)}
	tp, fp, support := map[string]int{}, map[string]int{}, map[string]int{}
	conf := map[[2]string]int{}
	srcN, srcOK := map[string]int{}, map[string]int{}
	var lats []time.Duration
	correct := 0
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		r, err := predict(ctx, it.Text, it.ASRTag)
		lats = append(lats, time.Since(t0))
		pred := string(r.Language)
		if r.Unsure {
			pred = PredUnsure
		}
		if err != nil {
			pred = "(error)"
		}
		gold := string(it.Variety)
		support[gold]++
		srcN[it.Source]++
		if pred == string(call.LangUndetermined) || pred == PredUnsure {
			rep.Undetermined++
		}
		if rep.Matrix == nil {
			rep.Matrix = map[string]map[string]int{}
		}
		if rep.Matrix[gold] == nil {
			rep.Matrix[gold] = map[string]int{}
		}
		rep.Matrix[gold][pred]++
		if pred == gold {
			correct++
			tp[gold]++
			srcOK[it.Source]++
		} else {
			fp[pred]++
			conf[[2]string{gold, pred}]++
		}
	}
	rep.Accuracy = float64(correct) / float64(len(items))
	var labels []string
	for l := range support {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	var f1 float64
	for _, l := range labels {
		s := IntentScores{Intent: l, Support: support[l], Recall: float64(tp[l]) / float64(support[l])}
		if d := tp[l] + fp[l]; d > 0 {
			s.Precision = float64(tp[l]) / float64(d)
		}
		if s.Precision+s.Recall > 0 {
			s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
		}
		f1 += s.F1
		rep.PerVariety = append(rep.PerVariety, s)
	}
	rep.MacroF1 = f1 / float64(len(labels))
	if len(srcN) > 1 {
		rep.BySource = map[string]float64{}
		for s, n := range srcN {
			rep.BySource[s] = float64(srcOK[s]) / float64(n)
		}
	}
	for k, n := range conf {
		rep.Confusions = append(rep.Confusions, Confusion{k[0], k[1], n})
	}
	sort.Slice(rep.Confusions, func(i, j int) bool {
		a, b := rep.Confusions[i], rep.Confusions[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Gold+a.Predicted < b.Gold+b.Predicted
	})
	rep.Latency = Summarize(lats)
	return rep, nil
}

// Markdown renders the report.
func (r *DialectReport) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Language and variety evaluation: %s on %s\n\n", r.Engine, r.Dataset)
	if r.Machine != "" {
		fmt.Fprintf(&b, "Machine: %s\n\n", r.Machine)
	}
	if r.Train > 0 {
		fmt.Fprintf(&b, "Trained on %d sentences, tested on %d held-out ones.\n\n", r.Train, r.Test)
	}
	fmt.Fprintf(&b, "- **Accuracy**: %.4f\n- **Macro-F1**: %.4f\n- Undetermined or variety not named: %d\n", r.Accuracy, r.MacroF1, r.Undetermined)
	fmt.Fprintf(&b, "- Latency per sentence: p50 %.3f ms, p99 %.3f ms\n", r.Latency.P50, r.Latency.P99)
	var srcs []string
	for s := range r.BySource {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, s := range srcs {
		fmt.Fprintf(&b, "- Accuracy on %s: %.4f\n", s, r.BySource[s])
	}
	b.WriteString("\n| variety | support | precision | recall | F1 |\n|---|---:|---:|---:|---:|\n")
	for _, s := range r.PerVariety {
		fmt.Fprintf(&b, "| %s | %d | %.3f | %.3f | %.3f |\n", s.Intent, s.Support, s.Precision, s.Recall, s.F1)
	}
	b.WriteString("\n")
	b.WriteString(r.MatrixMarkdown())
	b.WriteString("\n## Top confusions\n\n| gold | predicted | count |\n|---|---|---:|\n")
	for i, c := range r.Confusions {
		if i == 10 {
			break
		}
		fmt.Fprintf(&b, "| %s | %s | %d |\n", c.Gold, c.Predicted, c.Count)
	}
	return b.String()
}

// MatrixMarkdown renders the confusion matrix: gold varieties as rows,
// answers as columns.
func (r *DialectReport) MatrixMarkdown() string {
	return matrixMarkdown(r.Matrix)
}

func matrixMarkdown(mx map[string]map[string]int) string {
	colSet := map[string]bool{}
	var rows []string
	for g, ps := range mx {
		rows = append(rows, g)
		colSet[g] = true
		for p := range ps {
			colSet[p] = true
		}
	}
	sort.Strings(rows)
	var cols []string
	for c := range colSet {
		if c != PredUnsure {
			cols = append(cols, c)
		}
	}
	sort.Strings(cols)
	if colSet[PredUnsure] {
		cols = append(cols, PredUnsure)
	}
	var b strings.Builder
	b.WriteString("| gold \\ answer |")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s |", c)
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, g := range rows {
		fmt.Fprintf(&b, "| %s |", g)
		for _, c := range cols {
			fmt.Fprintf(&b, " %d |", mx[g][c])
		}
		b.WriteString("\n")
	}
	return b.String()
}
