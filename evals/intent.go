package evals

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/callbrief/callbrief/call"
)

// IntentPredictor classifies one utterance (a trained classifier's
// Classify).
type IntentPredictor func(ctx context.Context, text string, lang call.Language) (call.IntentResult, error)

// IntentTrainer trains a fresh classifier on train (validation may be
// empty) and returns its predictor.
type IntentTrainer func(ctx context.Context, train, validation []IntentItem, oosLabel string) (IntentPredictor, error)

// IntentScores are precision, recall and F1 of one intent.
type IntentScores struct {
	Intent    string  `json:"intent"`
	Support   int     `json:"support"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// Confusion is one off-diagonal cell of the confusion matrix.
type Confusion struct {
	Gold      string `json:"gold"`
	Predicted string `json:"predicted"`
	Count     int    `json:"count"`
}

// IntentReport is the evaluation of one classifier on one dataset.
type IntentReport struct {
	Engine   string  `json:"engine"`
	Dataset  string  `json:"dataset"`
	Machine  string  `json:"machine,omitempty"`
	Train    int     `json:"train_utterances"`
	Test     int     `json:"test_utterances"`
	Folds    int     `json:"folds,omitempty"`
	TrainSec float64 `json:"train_seconds"`
	// Accuracy is over all test utterances; out-of-scope ones count as
	// correct when predicted out of scope.
	Accuracy float64 `json:"accuracy"`
	MacroF1  float64 `json:"macro_f1"`
	// InScopeAccuracy and the OOS scores are set when the data has
	// out-of-scope utterances.
	InScopeAccuracy *float64           `json:"in_scope_accuracy,omitempty"`
	OOSPrecision    *float64           `json:"oos_precision,omitempty"`
	OOSRecall       *float64           `json:"oos_recall,omitempty"`
	PerIntent       []IntentScores     `json:"per_intent"`
	Confusions      []Confusion        `json:"confusions"` // all off-diagonal cells, most frequent first
	Latency         LatencySummary     `json:"latency"`
	Failures        int                `json:"failures"`
	ByLanguage      map[string]float64 `json:"accuracy_by_language,omitempty"`
	// Calibration compares the classifier's confidence with its accuracy.
	Calibration *Calibration `json:"calibration,omitempty"`
	// FalseEmergencies counts utterances of another intent (out of scope
	// included) predicted as an emergency, when the dataset names them.
	FalseEmergencies *int `json:"false_emergencies,omitempty"`
	// BySource scores each corpus of a pooled test set.
	BySource []SourceScore `json:"by_source,omitempty"`
	// FalseEmergencyExamples are the first few false emergencies, to read.
	FalseEmergencyExamples []FalseEmergency `json:"false_emergency_examples,omitempty"`
}

// FalseEmergency is one utterance taken for an emergency it is not.
type FalseEmergency struct {
	Source    string `json:"source,omitempty"`
	Text      string `json:"text"`
	Gold      string `json:"gold"`
	Predicted string `json:"predicted"`
	// Rule is the emergency phrase that fired, empty when the model chose.
	Rule string `json:"rule,omitempty"`
}

// maxFalseEmergencyExamples bounds the examples a report keeps.
const maxFalseEmergencyExamples = 40

// SourceScore is the accuracy on one corpus of a pooled test set; for a
// corpus of out-of-scope speech it is the out-of-scope recall.
type SourceScore struct {
	Source           string  `json:"source"`
	N                int     `json:"n"`
	Accuracy         float64 `json:"accuracy"`
	FalseEmergencies int     `json:"false_emergencies"`
}

// oosName is how the report names out of scope, whatever the dataset calls it.
const oosName = string(call.IntentOutOfScope)

// RunIntent trains with train on ds and scores the test set (or, when ds
// asks for folds, cross-validates on its Test set, each fold trained on the
// others).
func RunIntent(ctx context.Context, engine string, ds *IntentDataset, train IntentTrainer) (*IntentReport, error) {
	rep := &IntentReport{Engine: engine, Dataset: ds.Name}
	type pair struct {
		gold, pred, lang, source, text, rule string
	}
	var pairs []pair
	var lats []time.Duration
	var confs []float64
	var rights []bool
	run := func(trainSet, test []IntentItem) error {
		start := time.Now()
		pred, err := train(ctx, trainSet, ds.Validation, ds.OOSLabel)
		if err != nil {
			return err
		}
		rep.TrainSec += time.Since(start).Seconds()
		rep.Train += len(trainSet)
		for _, it := range test {
			if err := ctx.Err(); err != nil {
				return err
			}
			t0 := time.Now()
			r, err := pred(ctx, it.Text, it.Language)
			lats = append(lats, time.Since(t0))
			p := string(r.Intent)
			if err != nil {
				rep.Failures++
				p = "(error)"
			}
			g := it.Intent
			if ds.OOSLabel != "" && g == ds.OOSLabel {
				g = oosName
			}
			if ds.OOSLabel != "" && p == ds.OOSLabel {
				p = oosName
			}
			pairs = append(pairs, pair{g, p, string(it.Language), it.Source, it.Text, r.Rule})
			confs, rights = append(confs, r.Confidence), append(rights, g == p)
		}
		return nil
	}
	if ds.Folds > 1 {
		rep.Folds = ds.Folds
		items := append([]IntentItem(nil), ds.Test...)
		r := rand.New(rand.NewPCG(7, 7))
		r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		for f := 0; f < ds.Folds; f++ {
			var tr, te []IntentItem
			for i, it := range items {
				if i%ds.Folds == f {
					te = append(te, it)
				} else {
					tr = append(tr, it)
				}
			}
			if err := run(tr, te); err != nil {
				return nil, err
			}
		}
	} else if err := run(ds.Train, ds.Test); err != nil {
		return nil, err
	}
	rep.Test = len(pairs)
	if rep.Test == 0 {
		return nil, fmt.Errorf("%w: no test utterances", ErrDataset)
	}
	rep.Latency = Summarize(lats)

	// Counts.
	tp, fp, fn, support := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	conf := map[[2]string]int{}
	correct, inN, inOK, oosN, oosPred, oosOK := 0, 0, 0, 0, 0, 0
	langN, langOK := map[string]int{}, map[string]int{}
	for _, p := range pairs {
		support[p.gold]++
		if p.lang != "" {
			langN[p.lang]++
		}
		if p.gold == p.pred {
			correct++
			tp[p.gold]++
			if p.lang != "" {
				langOK[p.lang]++
			}
		} else {
			fp[p.pred]++
			fn[p.gold]++
			conf[[2]string{p.gold, p.pred}]++
		}
		if p.gold == oosName {
			oosN++
			if p.pred == oosName {
				oosOK++
			}
		} else {
			inN++
			if p.gold == p.pred {
				inOK++
			}
		}
		if p.pred == oosName {
			oosPred++
		}
	}
	rep.Accuracy = float64(correct) / float64(len(pairs))
	rep.Calibration = Calibrate(confs, rights)
	var labels []string
	for l := range support {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	var f1sum float64
	for _, l := range labels {
		s := IntentScores{Intent: l, Support: support[l]}
		if d := tp[l] + fp[l]; d > 0 {
			s.Precision = float64(tp[l]) / float64(d)
		}
		s.Recall = float64(tp[l]) / float64(support[l])
		if s.Precision+s.Recall > 0 {
			s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
		}
		f1sum += s.F1
		rep.PerIntent = append(rep.PerIntent, s)
	}
	rep.MacroF1 = f1sum / float64(len(labels))
	if oosN > 0 {
		a := float64(inOK) / float64(max(inN, 1))
		rc := float64(oosOK) / float64(oosN)
		pr := 0.0
		if oosPred > 0 {
			pr = float64(oosOK) / float64(oosPred)
		}
		rep.InScopeAccuracy, rep.OOSRecall, rep.OOSPrecision = &a, &rc, &pr
	}
	for k, n := range conf {
		rep.Confusions = append(rep.Confusions, Confusion{k[0], k[1], n})
	}
	sort.Slice(rep.Confusions, func(i, j int) bool {
		a, b := rep.Confusions[i], rep.Confusions[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Gold != b.Gold {
			return a.Gold < b.Gold
		}
		return a.Predicted < b.Predicted
	})
	if len(ds.Emergencies) > 0 {
		emergency := map[string]bool{}
		for _, e := range ds.Emergencies {
			emergency[e] = true
		}
		n := 0
		bySrc := map[string]*SourceScore{}
		var order []string
		for _, p := range pairs {
			fe := emergency[p.pred] && p.gold != p.pred
			if fe {
				n++
				if len(rep.FalseEmergencyExamples) < maxFalseEmergencyExamples {
					rep.FalseEmergencyExamples = append(rep.FalseEmergencyExamples, FalseEmergency{p.source, p.text, p.gold, p.pred, p.rule})
				}
			}
			if p.source == "" {
				continue
			}
			s := bySrc[p.source]
			if s == nil {
				s = &SourceScore{Source: p.source}
				bySrc[p.source] = s
				order = append(order, p.source)
			}
			s.N++
			if p.gold == p.pred {
				s.Accuracy++
			}
			if fe {
				s.FalseEmergencies++
			}
		}
		rep.FalseEmergencies = &n
		for _, src := range order {
			s := bySrc[src]
			s.Accuracy /= float64(s.N)
			rep.BySource = append(rep.BySource, *s)
		}
	}
	if len(langN) > 1 {
		rep.ByLanguage = map[string]float64{}
		for l, n := range langN {
			rep.ByLanguage[l] = float64(langOK[l]) / float64(n)
		}
	}
	return rep, nil
}

// Markdown renders the report for people: the headline numbers, the
// per-intent table and the most frequent confusions.
func (r *IntentReport) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Intent evaluation: %s on %s\n\n", r.Engine, r.Dataset)
	if r.Machine != "" {
		fmt.Fprintf(&b, "Machine: %s\n\n", r.Machine)
	}
	if r.Folds > 1 {
		fmt.Fprintf(&b, "%d-fold cross-validation over %d utterances.\n\n", r.Folds, r.Test)
	} else {
		fmt.Fprintf(&b, "Trained on %d utterances in %.2f s, tested on %d.\n\n", r.Train, r.TrainSec, r.Test)
	}
	fmt.Fprintf(&b, "- **Accuracy**: %.4f\n- **Macro-F1**: %.4f\n", r.Accuracy, r.MacroF1)
	if r.Calibration != nil {
		fmt.Fprintf(&b, "- Expected calibration error (10 bins): %.4f\n", r.Calibration.ECE)
	}
	if r.InScopeAccuracy != nil {
		fmt.Fprintf(&b, "- **In-scope accuracy**: %.4f\n- **Out-of-scope recall**: %.4f, precision %.4f\n", *r.InScopeAccuracy, *r.OOSRecall, *r.OOSPrecision)
	}
	fmt.Fprintf(&b, "- Latency per utterance: p50 %.3f ms, p99 %.3f ms (n=%d)\n", r.Latency.P50, r.Latency.P99, r.Latency.N)
	if r.Failures > 0 {
		fmt.Fprintf(&b, "- Failed utterances: %d (scored as wrong)\n", r.Failures)
	}
	if r.FalseEmergencies != nil {
		fmt.Fprintf(&b, "- **False emergencies** (another intent or out of scope taken for an emergency): %d\n", *r.FalseEmergencies)
	}
	if len(r.BySource) > 0 {
		b.WriteString("\n| corpus | n | accuracy (out-of-scope recall for off-topic corpora) | false emergencies |\n|---|---|---|---|\n")
		for _, s := range r.BySource {
			fmt.Fprintf(&b, "| %s | %d | %.4f | %d |\n", s.Source, s.N, s.Accuracy, s.FalseEmergencies)
		}
		b.WriteString("\n")
	}
	if len(r.ByLanguage) > 0 {
		var ls []string
		for l := range r.ByLanguage {
			ls = append(ls, l)
		}
		sort.Strings(ls)
		for _, l := range ls {
			fmt.Fprintf(&b, "- Accuracy (%s): %.4f\n", l, r.ByLanguage[l])
		}
	}
	b.WriteString("\n## Per intent\n\n| intent | support | precision | recall | F1 |\n|---|---:|---:|---:|---:|\n")
	for _, s := range r.PerIntent {
		fmt.Fprintf(&b, "| %s | %d | %.3f | %.3f | %.3f |\n", s.Intent, s.Support, s.Precision, s.Recall, s.F1)
	}
	b.WriteString("\n## Top confusions\n\n| gold | predicted | count |\n|---|---|---:|\n")
	for i, c := range r.Confusions {
		if i == 15 {
			break
		}
		fmt.Fprintf(&b, "| %s | %s | %d |\n", c.Gold, c.Predicted, c.Count)
	}
	return b.String()
}
