package evals

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
)

func TestCompare(t *testing.T) {
	acc := func(v float64) Metric { return quality("accuracy", v, HigherIsBetter, 100) }
	wer := func(v float64) Metric { return quality("wer", v, LowerIsBetter, 100) }
	fa := func(v int) Metric { return count("false_accepts", v, 100) }
	lat := func(v float64) Metric { return timing("latency_p90", v, "ms", 100) }
	zero := func(v int) Metric { return mustBeZero("leaked_fields", v, 100) }
	tests := []struct {
		name       string
		base, cur  Metric
		want       Change
		gateFailed bool
	}{
		{"accuracy up", acc(0.80), acc(0.85), Improved, false},
		{"accuracy down within tolerance", acc(0.80), acc(0.795), Unchanged, false},
		{"accuracy down beyond tolerance", acc(0.80), acc(0.78), Regressed, true},
		{"wer down is better", wer(0.30), wer(0.20), Improved, false},
		{"wer up beyond tolerance", wer(0.30), wer(0.35), Regressed, true},
		{"one more false accept", fa(0), fa(1), Regressed, true},
		{"same false accepts", fa(0), fa(0), Unchanged, false},
		{"slower but timings are not gated", lat(1), lat(10), Regressed, false},
		{"a leak the baseline also had still fails", zero(2), zero(2), Unchanged, true},
		{"no leak", zero(0), zero(0), Unchanged, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := &Report{Evaluations: []*Evaluation{{Name: "e", Metrics: []Metric{tt.base}}}}
			cur := &Report{Evaluations: []*Evaluation{{Name: "e", Metrics: []Metric{tt.cur}}}}
			c := Compare(&Suite{}, base, cur)
			if len(c.Deltas) != 1 || c.Deltas[0].Change != tt.want {
				t.Fatalf("deltas %+v, want one %s", c.Deltas, tt.want)
			}
			if c.Passed() == tt.gateFailed {
				t.Errorf("gate passed = %v, want %v (failures %v)", c.Passed(), !tt.gateFailed, c.Failures)
			}
		})
	}
}

func TestCompareMissingAndFailedEvaluations(t *testing.T) {
	m := quality("accuracy", 0.9, HigherIsBetter, 10)
	base := &Report{Evaluations: []*Evaluation{{Name: "a", Metrics: []Metric{m}}, {Name: "b", Metrics: []Metric{m}}}}
	cur := &Report{Evaluations: []*Evaluation{{Name: "a", Error: "dataset missing"}}}
	c := Compare(&Suite{}, base, cur)
	got := strings.Join(c.Failures, "\n")
	for _, want := range []string{"a: did not run: dataset missing", "b: in the baseline but not run"} {
		if !strings.Contains(got, want) {
			t.Errorf("failures %q lack %q", got, want)
		}
	}
}

// TestGateFailsOnPerturbedASR: the same clips scored with a recognizer
// that drops every third word regress beyond the suite's WER tolerance.
func TestGateFailsOnPerturbedASR(t *testing.T) {
	items := []ASRItem{
		{File: "1.wav", Language: call.LangEnglish, Reference: "my phone will not turn on after the update"},
		{File: "2.wav", Language: call.LangEnglish, Reference: "i would like to check the status of my order"},
		{File: "3.wav", Language: call.LangEnglish, Reference: "the screen is cracked and does not respond"},
	}
	clean := func(_ context.Context, it ASRItem) (ASRHypothesis, error) {
		return ASRHypothesis{Text: it.Reference, Audio: time.Second}, nil
	}
	perturbed := func(_ context.Context, it ASRItem) (ASRHypothesis, error) {
		var keep []string
		for i, w := range strings.Fields(it.Reference) {
			if i%3 != 2 {
				keep = append(keep, w)
			}
		}
		return ASRHypothesis{Text: strings.Join(keep, " "), Audio: time.Second}, nil
	}
	run := func(tr Transcriber) *Report {
		rep, err := RunASR(context.Background(), "fixture", "clips", items, tr)
		if err != nil {
			t.Fatal(err)
		}
		return &Report{Evaluations: []*Evaluation{ASREvaluation("asr", rep, nil)}}
	}
	suite := &Suite{Evaluations: []EvalSpec{{Name: "asr", Kind: "asr", Tolerances: map[string]float64{"wer": 0.02}}}}
	base := run(clean)
	if c := Compare(suite, base, run(clean)); !c.Passed() {
		t.Fatalf("the clean recognizer fails against itself: %v", c.Failures)
	}
	c := Compare(suite, base, run(perturbed))
	if c.Passed() {
		t.Fatal("a recognizer dropping a third of the words passed the gate")
	}
	if !strings.Contains(strings.Join(c.Failures, ";"), "asr: wer") {
		t.Errorf("failures %v do not name the WER", c.Failures)
	}
}

func TestParseSuite(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"ok", "evaluations:\n  - {name: a, kind: intent}\n", ""},
		{"unknown key", "evaluations:\n  - {name: a, kind: intent, colour: red}\n", "colour"},
		{"unknown kind", "evaluations:\n  - {name: a, kind: tarot}\n", "kind"},
		{"duplicate name", "evaluations:\n  - {name: a, kind: intent}\n  - {name: a, kind: dialect}\n", "used twice"},
		{"no name", "evaluations:\n  - {kind: intent}\n", "name is required"},
		{"bad mode", "evaluations:\n  - {name: s, kind: scenarios, modes: [video]}\n", "mode"},
		{"empty", "name: x\n", "no evaluations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSuite("suite.yaml", []byte(tt.yaml))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}
