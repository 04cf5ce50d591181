package evals

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/callbrief/callbrief/call"
)

// confusionLimit keeps heatmaps readable: beyond it, only the most
// confused classes are drawn.
const confusionLimit = 24

// LatencyRecorder collects latency samples by series while runners work,
// for the report's histograms. Safe for concurrent use.
type LatencyRecorder struct {
	mu     sync.Mutex
	series map[string][]time.Duration
	order  []string
}

// Add records one sample.
func (l *LatencyRecorder) Add(series string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.series == nil {
		l.series = map[string][]time.Duration{}
	}
	if _, ok := l.series[series]; !ok {
		l.order = append(l.order, series)
	}
	l.series[series] = append(l.series[series], d)
}

// Histograms returns every series, in the order first recorded.
func (l *LatencyRecorder) Histograms() []Histogram {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Histogram, 0, len(l.order))
	for _, s := range l.order {
		out = append(out, Histogram{Name: s, Samples: durationsMS(l.series[s])})
	}
	return out
}

// TimedIntentTrainer wraps a trainer so each prediction's latency is
// recorded under "intent per utterance".
func TimedIntentTrainer(train IntentTrainer, rec *LatencyRecorder) IntentTrainer {
	return func(ctx context.Context, tr, val []IntentItem, oos string) (IntentPredictor, error) {
		p, err := train(ctx, tr, val, oos)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, text string, lang call.Language) (call.IntentResult, error) {
			t0 := time.Now()
			r, err := p(ctx, text, lang)
			rec.Add("intent per utterance", time.Since(t0))
			return r, err
		}, nil
	}
}

// TimedDialectPredictor records each identification's latency.
func TimedDialectPredictor(p DialectPredictor, rec *LatencyRecorder) DialectPredictor {
	return func(ctx context.Context, text string, tag call.Language) (call.LanguageResult, error) {
		t0 := time.Now()
		r, err := p(ctx, text, tag)
		rec.Add("language/variety per sentence", time.Since(t0))
		return r, err
	}
}

// TimedTranscriber records each clip's endpoint delays and final
// latencies.
func TimedTranscriber(t Transcriber, rec *LatencyRecorder) Transcriber {
	return func(ctx context.Context, it ASRItem) (ASRHypothesis, error) {
		h, err := t(ctx, it)
		for i, d := range h.EndpointDelays {
			rec.Add("endpoint delay (stream time)", d)
			if i < len(h.FinalLatencies) {
				rec.Add("end of speech to final", d+h.FinalLatencies[i])
			}
		}
		for _, d := range h.FinalLatencies {
			rec.Add("endpoint to final (wall time)", d)
		}
		return h, err
	}
}

func detail(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Every report type is plain data; a failure here is a bug worth
		// seeing in the report rather than a lost run.
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return b
}

// ASREvaluation is the suite section for an ASR report.
func ASREvaluation(name string, r *ASRReport, lat *LatencyRecorder) *Evaluation {
	e := &Evaluation{Name: name, Kind: "asr", Title: "Speech recognition", Engine: r.Engine, Dataset: r.Dataset, Detail: detail(r)}
	var nEN, nZH int
	for _, c := range r.Clips {
		if c.Metric == "WER" {
			nEN += c.Edits.Ref
		} else {
			nZH += c.Edits.Ref
		}
		e.Charts.Clips = append(e.Charts.Clips, ClipRate{Clip: c.File, Metric: c.Metric, Rate: c.Rate})
	}
	if r.WER != nil {
		e.Metrics = append(e.Metrics, quality("wer", *r.WER, LowerIsBetter, nEN))
	}
	if r.CER != nil {
		e.Metrics = append(e.Metrics, quality("cer", *r.CER, LowerIsBetter, nZH))
	}
	e.Metrics = append(e.Metrics,
		count("failed_clips", r.Failures, len(r.Clips)),
		timing("real_time_factor", r.RTF, "x", len(r.Clips)),
		timing("end_of_speech_to_final_p90", r.EndToFinal.P90, "ms", r.EndToFinal.N))
	e.Charts.Histograms = lat.Histograms()
	return e
}

// IntentEvaluation is the suite section for an intent report.
func IntentEvaluation(name string, r *IntentReport, lat *LatencyRecorder) *Evaluation {
	e := &Evaluation{Name: name, Kind: "intent", Title: "Intent classification", Engine: r.Engine, Dataset: r.Dataset, Detail: detail(r)}
	e.Metrics = append(e.Metrics,
		quality("accuracy", r.Accuracy, HigherIsBetter, r.Test),
		quality("macro_f1", r.MacroF1, HigherIsBetter, r.Test))
	if r.Calibration != nil {
		e.Metrics = append(e.Metrics, quality("calibration_ece", r.Calibration.ECE, LowerIsBetter, r.Test))
	}
	if r.InScopeAccuracy != nil {
		e.Metrics = append(e.Metrics,
			quality("in_scope_accuracy", *r.InScopeAccuracy, HigherIsBetter, r.Test),
			quality("oos_recall", *r.OOSRecall, HigherIsBetter, 0),
			quality("oos_precision", *r.OOSPrecision, HigherIsBetter, 0))
	}
	if r.FalseEmergencies != nil {
		e.Metrics = append(e.Metrics, count("false_emergencies", *r.FalseEmergencies, r.Test))
	}
	for _, s := range r.BySource {
		e.Metrics = append(e.Metrics, quality("accuracy_source_"+metricName(s.Source), s.Accuracy, HigherIsBetter, s.N))
	}
	langs := make([]string, 0, len(r.ByLanguage))
	for l := range r.ByLanguage {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		e.Metrics = append(e.Metrics, quality("accuracy_"+l, r.ByLanguage[l], HigherIsBetter, 0))
	}
	e.Metrics = append(e.Metrics, timing("latency_p90", r.Latency.P90, "ms", r.Latency.N))
	e.Charts.Confusion = matrixFrom(r.PerIntent, r.Confusions, confusionLimit)
	e.Charts.PerClass = classScores(r.PerIntent)
	e.Charts.Histograms = lat.Histograms()
	if r.Folds > 1 {
		e.Notes = append(e.Notes, fmt.Sprintf("%d-fold cross-validation: the dataset ships one labelled set", r.Folds))
	}
	return e
}

// DialectEvaluation is the suite section for a language/variety report.
func DialectEvaluation(name string, r *DialectReport, lat *LatencyRecorder) *Evaluation {
	e := &Evaluation{Name: name, Kind: "dialect", Title: "Language and Chinese variety", Engine: r.Engine, Dataset: r.Dataset, Detail: detail(r)}
	e.Metrics = append(e.Metrics,
		quality("accuracy", r.Accuracy, HigherIsBetter, r.Test),
		quality("macro_f1", r.MacroF1, HigherIsBetter, r.Test),
		count("undetermined", r.Undetermined, r.Test),
		timing("latency_p90", r.Latency.P90, "ms", r.Latency.N))
	e.Charts.Confusion = matrixFrom(r.PerVariety, r.Confusions, confusionLimit)
	e.Charts.PerClass = classScores(r.PerVariety)
	e.Charts.Histograms = lat.Histograms()
	return e
}

// VerifyEvaluation is the suite section for the scripted-caller
// verification report.
func VerifyEvaluation(name string, r *VerifyReport) *Evaluation {
	e := &Evaluation{Name: name, Kind: "verify", Title: "Identity verification (scripted callers)", Engine: "verification policy", Dataset: "store: " + r.Store, Detail: detail(r)}
	// False accepts are the security failure: any rise is a regression,
	// so the gate on them has no tolerance (see DefaultTolerance).
	e.Metrics = append(e.Metrics,
		mustBeZero("false_accepts", r.FalseAccepts, r.ImpostorCall),
		quality("false_reject_rate", r.FRR, LowerIsBetter, r.GenuineCalls),
		quality("false_accept_rate", r.FAR, LowerIsBetter, r.ImpostorCall))
	t := &Table{Caption: "Scenarios", Columns: []string{"scenario", "expect", "calls", "guesses", "false accepts", "false rejects", "lockouts", "questions"}}
	for _, s := range r.Scenarios {
		t.Rows = append(t.Rows, []string{s.Name, s.Expect, fmt.Sprint(s.Calls), fmt.Sprint(s.Guesses), fmt.Sprint(s.FalseAccepts), fmt.Sprint(s.FalseRejects), fmt.Sprint(s.LockoutsTriggered), fmt.Sprint(s.Questions)})
	}
	e.Charts.Table = t
	return e
}

// AdversarialEvaluation is the suite section for the impostor calls
// through the served stack. False accepts and fields leaked must be zero,
// whatever the baseline.
func AdversarialEvaluation(name string, r *AdversarialReport) *Evaluation {
	e := &Evaluation{Name: name, Kind: "adversarial", Title: "Impostors against the served stack (every intent, day and night)",
		Engine: r.Stack, Dataset: fmt.Sprintf("%d intents x day/night, %d impostor calls", r.Intents, r.Calls), Detail: detail(r)}
	if len(r.Overrides) > 0 {
		e.Notes = append(e.Notes, "differs from serve: "+strings.Join(r.Overrides, "; "))
	}
	if r.Covered < len(r.Cells) {
		e.Notes = append(e.Notes, fmt.Sprintf("%d of %d cells: no training utterance landed on the intent; their attacks ran on another intent", len(r.Cells)-r.Covered, len(r.Cells)))
	}
	e.Metrics = append(e.Metrics,
		mustBeZero("false_accepts", r.FalseAccepts, r.Calls),
		mustBeZero("leaked_fields", r.LeakedFields, r.Calls),
		mustBeZero("errors", r.Errors, r.Calls),
		count("cells_not_covered", len(r.Cells)-r.Covered, len(r.Cells)))
	for _, a := range r.Attacks {
		e.Metrics = append(e.Metrics, mustBeZero(a.Attack+".false_accepts", a.FalseAccepts, a.Calls),
			mustBeZero(a.Attack+".leaked_fields", a.LeakedFields, a.Calls))
	}
	t := &Table{Caption: "Attacks (what impostors could read of the victim's account)", Columns: []string{"attack", "calls", "guesses", "false accepts", "leaked fields", "refused while locked", "readable"}}
	for _, a := range r.Attacks {
		t.Rows = append(t.Rows, []string{a.Attack, fmt.Sprint(a.Calls), fmt.Sprint(a.Guesses), fmt.Sprint(a.FalseAccepts), fmt.Sprint(a.LeakedFields), fmt.Sprint(a.Refused), leakText(a.Leaks)})
	}
	e.Charts.Table = t
	return e
}

// RetrievalEvaluation is the suite section for a knowledge-base retrieval
// report.
func RetrievalEvaluation(name string, r *RetrievalReport) *Evaluation {
	e := &Evaluation{Name: name, Kind: "retrieval", Title: "Knowledge-base retrieval", Engine: r.System, Dataset: r.Queries, Detail: detail(r)}
	ks := make([]int, 0, len(r.Overall.Recall))
	for k := range r.Overall.Recall {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	for _, k := range ks {
		e.Metrics = append(e.Metrics, quality(fmt.Sprintf("recall_at_%d", k), r.Overall.Recall[k], HigherIsBetter, r.Overall.N))
	}
	e.Metrics = append(e.Metrics,
		quality("mrr", r.Overall.MRR, HigherIsBetter, r.Overall.N),
		quality("ndcg_at_10", r.Overall.NDCG10, HigherIsBetter, r.Overall.N),
		count("errors", r.Errors, r.Overall.N),
		timing("latency_p90", r.Overall.Latency.P90, "ms", r.Overall.Latency.N))
	var ms []float64
	for _, q := range r.Results {
		ms = append(ms, q.LatencyMS)
	}
	e.Charts.Histograms = []Histogram{{Name: "retrieval per query", Samples: ms}}
	return e
}
