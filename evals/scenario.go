package evals

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/verify/accounts"
)

// Scenario modes: how the caller's words reach the understanding stage.
const (
	// ModeText feeds each turn's text as the transcript: it measures
	// understanding, verification and routing without recognition errors.
	ModeText = "text"
	// ModeAudio synthesizes each turn, passes it through a telephone
	// channel and the configured recognizer: the whole call as deployed.
	ModeAudio = "audio"
)

// ErrScenario wraps problems with a scenario file.
var ErrScenario = errors.New("evals: scenario")

// CallScenario is one scripted call with what the hotline should do
// with it. The format is documented in docs/evals.md.
type CallScenario struct {
	ID          string `yaml:"id"`
	Description string `yaml:"description"`
	// Caller is the number the network presents; empty: withheld.
	Caller string `yaml:"caller"`
	Region string `yaml:"region"`
	// Account is whose details a genuine caller answers with.
	Account string `yaml:"account"`
	// Time is the local time of the call, "HH:MM" in the policy's time
	// zone (night mode runs 22:00-06:00); default 10:00.
	Time  string         `yaml:"time"`
	Voice Voice          `yaml:"voice"`
	Turns []ScenarioTurn `yaml:"turns"`
	// Expect is what the brief and route must say.
	Expect ScenarioExpect `yaml:"expect"`
	Tags   []string       `yaml:"tags"`
	// Audio is a recording of the opening turn (a WAV file, relative to
	// the scenario file); the first turn's say is then what the recording
	// says, the reference its transcript is scored against. Without it,
	// audio-mode and served calls synthesize the turn.
	Audio string `yaml:"audio"`
	// dir is the folder of the scenario's file, for Audio.
	dir string
}

// AudioPath is the recording of the opening turn, or "" when the turn is
// to be synthesized.
func (s *CallScenario) AudioPath() string {
	if s.Audio == "" || filepath.IsAbs(s.Audio) {
		return s.Audio
	}
	return filepath.Join(s.dir, s.Audio)
}

// HasTag reports whether the scenario carries tag.
func (s *CallScenario) HasTag(tag string) bool {
	for _, t := range s.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// ScenarioTurn is one thing the caller does. The first turn is the
// opening (Say and Lang); the rest answer the call's questions in order.
type ScenarioTurn struct {
	Say  string        `yaml:"say"`
	Lang call.Language `yaml:"lang"`
	DTMF string        `yaml:"dtmf"`
	// Answer is "genuine" (the account holder's right answer, looked up
	// from Account and the one-time code sent to them) or "wrong".
	Answer string `yaml:"answer"`
	// Via is how an Answer is given: dtmf (default) or speech.
	Via     string          `yaml:"via"`
	Silence bool            `yaml:"silence"`
	Hangup  bool            `yaml:"hangup"`
	Kind    accounts.IDKind `yaml:"kind"`
}

// ScenarioExpect is the expected outcome; empty fields are not scored.
type ScenarioExpect struct {
	Intent       string  `yaml:"intent"`
	Variety      string  `yaml:"variety"`
	Verification string  `yaml:"verification"` // verified, unverified, failed, locked
	Group        string  `yaml:"group"`
	Priority     *int    `yaml:"priority"`
	Line         *string `yaml:"line"`
	// Brief names fields the brief must fill (see BriefFields).
	Brief []string `yaml:"brief"`
	// KBArticle is an article the brief's top five suggestions must
	// include (scored when a knowledge base is configured).
	KBArticle string `yaml:"kb_article"`
}

// scenarioFile is one YAML file: a list of scenarios.
type scenarioFile struct {
	Scenarios []CallScenario `yaml:"scenarios"`
}

// LoadScenarios reads every *.yaml file of a folder (or one file) and
// checks each scenario; ids must be unique across files.
func LoadScenarios(path string) ([]CallScenario, error) {
	files := []string{path}
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScenario, err)
	} else if st.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.yaml"))
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("%w: no .yaml files in %s", ErrScenario, path)
		}
	}
	var out []CallScenario
	seen := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrScenario, err)
		}
		scs, err := ParseScenarios(filepath.Base(f), b)
		if err != nil {
			return nil, err
		}
		for i := range scs {
			scs[i].dir = filepath.Dir(f)
		}
		for _, s := range scs {
			if prev, dup := seen[s.ID]; dup {
				return nil, fmt.Errorf("%w: %s: id %q already used in %s", ErrScenario, filepath.Base(f), s.ID, prev)
			}
			seen[s.ID] = filepath.Base(f)
		}
		out = append(out, scs...)
	}
	return out, nil
}

// ParseScenarios parses one scenario file strictly; name is for messages.
func ParseScenarios(name string, b []byte) ([]CallScenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f scenarioFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrScenario, name, err)
	}
	if len(f.Scenarios) == 0 {
		return nil, fmt.Errorf("%w: %s: no scenarios", ErrScenario, name)
	}
	for i := range f.Scenarios {
		if err := f.Scenarios[i].check(); err != nil {
			return nil, fmt.Errorf("%w: %s: scenarios[%d] %s: %w", ErrScenario, name, i, f.Scenarios[i].ID, err)
		}
	}
	return f.Scenarios, nil
}

var validStatus = map[string]bool{"": true, "verified": true, "unverified": true, "failed": true, "locked": true}

func (s *CallScenario) check() error {
	switch {
	case s.ID == "":
		return errors.New("id is required")
	case len(s.Turns) == 0 || s.Turns[0].Say == "" || s.Turns[0].Lang == "":
		return errors.New("the first turn must say something in a language (say, lang)")
	case s.Expect.Intent == "":
		return errors.New("expect.intent is required")
	case !validStatus[s.Expect.Verification]:
		return fmt.Errorf("expect.verification %q is not verified, unverified, failed or locked", s.Expect.Verification)
	}
	if _, err := s.clock(); err != nil {
		return err
	}
	for _, f := range s.Expect.Brief {
		if _, ok := BriefFields[f]; !ok {
			return fmt.Errorf("expect.brief: unknown field %q (known: %s)", f, strings.Join(briefFieldNames(), ", "))
		}
	}
	for i, t := range s.Turns[1:] {
		n := 0
		for _, set := range []bool{t.Say != "", t.DTMF != "", t.Answer != "", t.Silence, t.Hangup} {
			if set {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("turns[%d]: want exactly one of say, dtmf, answer, silence, hangup", i+1)
		}
		if t.Answer != "" && t.Answer != "genuine" && t.Answer != "wrong" {
			return fmt.Errorf("turns[%d]: answer %q is not genuine or wrong", i+1, t.Answer)
		}
		if t.Answer == "genuine" && s.Account == "" {
			return fmt.Errorf("turns[%d]: a genuine answer needs the scenario's account", i+1)
		}
		if t.Via != "" && t.Via != "dtmf" && t.Via != "speech" {
			return fmt.Errorf("turns[%d]: via %q is not dtmf or speech", i+1, t.Via)
		}
	}
	return nil
}

// clock parses Time into minutes after midnight.
func (s *CallScenario) clock() (int, error) {
	if s.Time == "" {
		return 10 * 60, nil
	}
	var h, m int
	if _, err := fmt.Sscanf(s.Time, "%d:%d", &h, &m); err != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("time %q is not HH:MM", s.Time)
	}
	return h*60 + m, nil
}

// WithTags keeps the scenarios carrying one of tags; no tags keeps all.
func WithTags(scs []CallScenario, tags []string) []CallScenario {
	if len(tags) == 0 {
		return scs
	}
	var out []CallScenario
	for _, sc := range scs {
		for _, t := range tags {
			if sc.HasTag(t) {
				out = append(out, sc)
				break
			}
		}
	}
	return out
}
