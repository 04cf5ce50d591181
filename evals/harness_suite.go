package evals

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// ErrSuite wraps problems with a suite file.
var ErrSuite = errors.New("evals: suite")

// Suite is a list of evaluations run by `callbrief eval run`, with the
// tolerances a comparison against a baseline allows.
type Suite struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Tolerances by metric name, absolute (0.01 is one point of accuracy);
	// an evaluation's own tolerances win.
	Tolerances  map[string]float64 `yaml:"tolerances"`
	Evaluations []EvalSpec         `yaml:"evaluations"`
	// Dir is the suite file's folder: relative paths in specs are resolved
	// against it, so a suite runs the same from any working directory.
	Dir string `yaml:"-"`
}

// EvalSpec is one evaluation of a suite. Which fields apply depends on
// Kind; the runner for the kind says so in its error when one is wrong.
type EvalSpec struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"` // asr, intent, dialect, verify, adversarial, retrieval, scenarios, served
	// Dataset names a built-in or public dataset (intent: hotline,
	// banking77, clinc150, hwu64; dialect: embedded, shared).
	Dataset string `yaml:"dataset"`
	// Data is a folder or file of the evaluator's own data; relative to
	// the suite file.
	Data string `yaml:"data"`
	// Dense (intent) is the embedder beside the sparse model: "e5" for
	// the served hybrid, "" or "none" for the sparse model alone.
	Dense string `yaml:"dense"`
	// Limit keeps the first N test items (0: all), for fast suites.
	Limit int `yaml:"limit"`
	// TrainFraction trains on this share of the training data (0: all);
	// used to show that a weaker model fails the gate.
	TrainFraction float64  `yaml:"train_fraction"`
	Guesses       int      `yaml:"guesses"`  // verify: brute-force guesses per scenario
	Modes         []string `yaml:"modes"`    // scenarios: text, audio; served: upload, live
	Language      string   `yaml:"language"` // asr: only clips of this language
	// System names the retrieval system (lexical, e5, e5+lexical...).
	System string `yaml:"system"`
	// KB gives scenario briefs the configured knowledge base; off by
	// default so that a baseline does not depend on a locally built index.
	KB bool `yaml:"kb"`
	// Tags keeps the scenarios carrying one of these tags (scenarios,
	// served); empty: all.
	Tags []string `yaml:"tags"`
	// Binary is the callbrief executable a served evaluation starts
	// (relative to the suite file); default: the running one.
	Binary string `yaml:"binary"`
	// Set are extra configuration overrides for the served service
	// (KEY=VALUE); the report lists them.
	Set []string `yaml:"set"`
	// APIKeyEnv names the environment variable holding the API key a
	// served evaluation sends on the call endpoints (the key itself never
	// goes in a suite file); default CALLBRIEF_EVAL_API_KEY.
	APIKeyEnv  string             `yaml:"api_key_env"`
	Tolerances map[string]float64 `yaml:"tolerances"`
}

// Kinds are the evaluation kinds a suite may list.
var Kinds = []string{"asr", "intent", "dialect", "verify", "adversarial", "retrieval", "scenarios", "served"}

// LoadSuite reads a suite file strictly: unknown keys are errors.
func LoadSuite(path string) (*Suite, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSuite, err)
	}
	s, err := ParseSuite(path, b)
	if err != nil {
		return nil, err
	}
	s.Dir = filepath.Dir(path)
	return s, nil
}

// ParseSuite parses suite YAML; name is for messages.
func ParseSuite(name string, b []byte) (*Suite, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var s Suite
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSuite, name, err)
	}
	if len(s.Evaluations) == 0 {
		return nil, fmt.Errorf("%w: %s: no evaluations", ErrSuite, name)
	}
	if s.Name == "" {
		s.Name = filepath.Base(name)
	}
	seen := map[string]bool{}
	for i, e := range s.Evaluations {
		switch {
		case e.Name == "":
			return nil, fmt.Errorf("%w: %s: evaluations[%d]: name is required (runs are compared by name)", ErrSuite, name, i)
		case seen[e.Name]:
			return nil, fmt.Errorf("%w: %s: evaluations[%d]: name %q used twice", ErrSuite, name, i, e.Name)
		case !known(e.Kind):
			return nil, fmt.Errorf("%w: %s: evaluations[%d] (%s): kind %q is not one of %v", ErrSuite, name, i, e.Name, e.Kind, Kinds)
		case e.TrainFraction < 0 || e.TrainFraction > 1:
			return nil, fmt.Errorf("%w: %s: evaluations[%d] (%s): train_fraction must be in [0, 1]", ErrSuite, name, i, e.Name)
		case e.Dense != "" && e.Dense != "e5" && e.Dense != "none":
			return nil, fmt.Errorf("%w: %s: evaluations[%d] (%s): dense %q is not e5 or none", ErrSuite, name, i, e.Name, e.Dense)
		case e.Limit < 0:
			return nil, fmt.Errorf("%w: %s: evaluations[%d] (%s): limit must not be negative", ErrSuite, name, i, e.Name)
		}
		for _, m := range e.Modes {
			if e.Kind == "served" {
				if m != ModeUpload && m != ModeLive {
					return nil, fmt.Errorf("%w: %s: evaluations[%d] (%s): mode %q is not upload or live", ErrSuite, name, i, e.Name, m)
				}
			} else if m != ModeText && m != ModeAudio {
				return nil, fmt.Errorf("%w: %s: evaluations[%d] (%s): mode %q is not text or audio", ErrSuite, name, i, e.Name, m)
			}
		}
		seen[e.Name] = true
	}
	return &s, nil
}

func known(kind string) bool {
	for _, k := range Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Path resolves a spec path against the suite's folder.
func (s *Suite) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || s.Dir == "" {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// Tolerance is the absolute tolerance of a metric: the evaluation's own,
// then the suite's, then DefaultTolerance.
func (s *Suite) Tolerance(spec EvalSpec, m Metric) float64 {
	if t, ok := spec.Tolerances[m.Name]; ok {
		return t
	}
	if t, ok := s.Tolerances[m.Name]; ok {
		return t
	}
	return DefaultTolerance(m)
}

// DefaultTolerance is what a change must exceed to count: nothing for
// counts of bad events (one more false accept is a regression), one point
// for rates, half the baseline for machine-dependent timings (shown, never
// gated).
func DefaultTolerance(m Metric) float64 {
	switch {
	case m.Unit == "count":
		return 0
	case !m.Gate:
		return 0.5 * m.Value
	}
	return 0.01
}
