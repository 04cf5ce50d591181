package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callbrief/callbrief/evals"
)

// TestEvalRunGate runs the CI suite's hotline intent evaluation against
// the committed baseline: the model as trained passes, the same model
// trained on a tenth of the data fails the gate.
func TestEvalRunGate(t *testing.T) {
	suitePath := filepath.Join("..", "..", "data", "evals", "ci.yaml")
	baseline := filepath.Join("..", "..", "data", "evals", "baseline.json")
	tests := []struct {
		name     string
		fraction float64
		wantGate bool
	}{
		{"model as trained passes", 0, false},
		{"model trained on 10% of the data fails", 0.1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := evals.LoadSuite(suitePath)
			if err != nil {
				t.Fatal(err)
			}
			if s, err = onlySuite(s, []string{"intent-hotline"}); err != nil {
				t.Fatal(err)
			}
			s.Evaluations[0].TrainFraction = tt.fraction
			var stdout, stderr bytes.Buffer
			c := &common{}
			if _, err := c.parse(newFlagSet("test", c, &stderr), nil, &stderr); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			err = runSuite(context.Background(), c, s, suiteOptions{out: out, baseline: baseline, gate: true}, &stdout, &stderr)
			if got := errors.Is(err, errGate); got != tt.wantGate {
				t.Fatalf("gate failed = %v, want %v (err %v)\n%s", got, tt.wantGate, err, stdout.String())
			}
			if tt.wantGate && !strings.Contains(stdout.String(), "regressed intent-hotline accuracy") {
				t.Errorf("the comparison does not name the regression:\n%s", stdout.String())
			}
			for _, f := range []string{"report.json", "report.html"} {
				if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
					t.Errorf("%s not written: %v", f, err)
				}
			}
		})
	}
}

func TestEvalRunUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no suite", nil},
		{"gate without baseline", []string{"suite.yaml", "--gate"}},
		{"two suites", []string{"a.yaml", "b.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := cmdEvalRun(context.Background(), tt.args, &stdout, &stderr); !errors.Is(err, errUsage) {
				t.Fatalf("err = %v, want a usage error", err)
			}
		})
	}
}
