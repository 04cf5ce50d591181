package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/callbrief/callbrief/verify/accounts"
)

// Scenario is a scripted caller for offline calls: who calls, from where,
// and how they answer the questions, in order.
type Scenario struct {
	Caller  string           `yaml:"caller"`
	Region  string           `yaml:"region"`
	Answers []ScenarioAnswer `yaml:"answers"`
	// AnswerTimeout overrides the call's wait for each answer.
	AnswerTimeout time.Duration `yaml:"answer_timeout"`
	dir           string
}

// ScenarioAnswer is one reply: exactly one of DTMF, Say, WAV, Silence,
// Hangup. Kind applies to identification answers.
type ScenarioAnswer struct {
	DTMF    string          `yaml:"dtmf"`
	Say     string          `yaml:"say"` // text, as if already recognised
	WAV     string          `yaml:"wav"` // a spoken clip, relative to the scenario file
	Silence bool            `yaml:"silence"`
	Hangup  bool            `yaml:"hangup"`
	Kind    accounts.IDKind `yaml:"kind"`
}

// LoadScenario reads a scenario file strictly.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: scenario: %w", err)
	}
	s, err := ParseScenario(path, b)
	if err != nil {
		return nil, err
	}
	s.dir = filepath.Dir(path)
	return s, nil
}

// ParseScenario reads scenario YAML; name is for messages.
func ParseScenario(name string, b []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("pipeline: scenario %s: %w", name, err)
	}
	for i, a := range s.Answers {
		n := 0
		for _, set := range []bool{a.DTMF != "", a.Say != "", a.WAV != "", a.Silence, a.Hangup} {
			if set {
				n++
			}
		}
		if n != 1 {
			return nil, fmt.Errorf("pipeline: scenario %s: answers[%d]: want exactly one of dtmf, say, wav, silence, hangup", name, i)
		}
	}
	return &s, nil
}

// OfflineIngress plays a recorded opening turn and answers from a
// scenario. Answers past the end of the scenario are silence.
type OfflineIngress struct {
	Opening16k []int16
	Scenario   *Scenario
	// ReadWAV loads a scenario clip as 16 kHz mono.
	ReadWAV func(path string) ([]int16, error)

	mu sync.Mutex
	i  int
}

// Caller implements Ingress.
func (o *OfflineIngress) Caller() (string, string) {
	if o.Scenario == nil {
		return "", ""
	}
	return o.Scenario.Caller, o.Scenario.Region
}

// Opening implements Ingress.
func (o *OfflineIngress) Opening(ctx context.Context) ([]int16, error) {
	return o.Opening16k, ctx.Err()
}

// Answer implements Ingress.
func (o *OfflineIngress) Answer(ctx context.Context, p Prompt) (Answer, error) {
	o.mu.Lock()
	var a ScenarioAnswer
	ok := o.Scenario != nil && o.i < len(o.Scenario.Answers)
	if ok {
		a = o.Scenario.Answers[o.i]
		o.i++
	}
	o.mu.Unlock()
	if !ok {
		// A recording has said all it will: every further question gets
		// no input at once, rather than each waiting out its timeout with
		// nobody there to answer (six seconds on every upload's brief).
		return Answer{}, ctx.Err()
	}
	if a.Silence {
		<-ctx.Done() // the caller says nothing until the call gives up
		return Answer{}, ctx.Err()
	}
	switch {
	case a.Hangup:
		return Answer{Hangup: true}, nil
	case a.DTMF != "":
		return Answer{DTMF: a.DTMF, Kind: a.Kind}, nil
	case a.WAV != "":
		if o.ReadWAV == nil {
			return Answer{}, fmt.Errorf("pipeline: scenario clip %s: no WAV reader", a.WAV)
		}
		path := a.WAV
		if !filepath.IsAbs(path) && o.Scenario.dir != "" {
			path = filepath.Join(o.Scenario.dir, path)
		}
		pcm, err := o.ReadWAV(path)
		if err != nil {
			return Answer{}, err
		}
		return Answer{Audio: pcm, Kind: a.Kind}, nil
	}
	return Answer{Text: a.Say, Kind: a.Kind}, nil
}
