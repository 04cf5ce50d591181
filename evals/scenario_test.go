package evals

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/callbrief/callbrief/call"
)

func loadCommittedScenarios(t *testing.T) []CallScenario {
	t.Helper()
	scs, err := LoadScenarios(filepath.Join("..", "data", "evals", "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	return scs
}

// TestCommittedScenariosCoverage: the scenario set covers what the issue
// asks for, so that trimming it cannot go unnoticed.
func TestCommittedScenariosCoverage(t *testing.T) {
	scs := loadCommittedScenarios(t)
	if len(scs) < 60 {
		t.Errorf("%d scenarios, want at least 60", len(scs))
	}
	tags, intents := map[string]int{}, map[string]bool{}
	for _, s := range scs {
		for _, tg := range s.Tags {
			tags[tg]++
		}
		intents[s.Expect.Intent] = true
	}
	for _, want := range []string{"cmn", "yue", "en", "night", "emergency", "impostor"} {
		if tags[want] < 2 {
			t.Errorf("only %d scenarios tagged %s", tags[want], want)
		}
	}
	if len(intents) < 14 {
		t.Errorf("%d intents covered, want at least 14", len(intents))
	}
}

// TestScenarioEmergenciesNeverHeldUp: in text mode every emergency
// scenario reaches the front of the queue unverified, without a question:
// the one outcome that must hold whatever the models do elsewhere.
func TestScenarioEmergenciesNeverHeldUp(t *testing.T) {
	ctx := context.Background()
	var em []CallScenario
	for _, s := range loadCommittedScenarios(t) {
		if slices.Contains(s.Tags, "emergency") {
			em = append(em, s)
		}
	}
	st, err := DefaultScenarioStack(ctx, StackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunScenarios(ctx, ScenarioConfig{Stack: st}, em)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rep.Outcomes {
		if o.Error != "" || o.Priority != 500 || o.Verification != "unverified" || o.StagesMS["verifying"] > 100 {
			t.Errorf("%s: priority %d, verification %s, verifying %.1f ms, error %q", o.ID, o.Priority, o.Verification, o.StagesMS["verifying"], o.Error)
		}
	}
}

// alwaysOutOfScope is a broken intent model.
type alwaysOutOfScope struct{}

func (alwaysOutOfScope) Classify(context.Context, string, call.Language) (call.IntentResult, error) {
	return call.IntentResult{Intent: call.IntentOutOfScope, Rejected: true}, nil
}
func (alwaysOutOfScope) Name() string { return "broken" }
func (alwaysOutOfScope) Close() error { return nil }

// TestScenarioGateCatchesBrokenIntentModel: the text-mode scenarios
// against themselves pass; with an intent model that answers out of scope
// to everything, routing drops and the gate fails.
func TestScenarioGateCatchesBrokenIntentModel(t *testing.T) {
	ctx := context.Background()
	scs := loadCommittedScenarios(t)
	run := func(opt StackOptions) *Report {
		st, err := DefaultScenarioStack(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := RunScenarios(ctx, ScenarioConfig{Stack: st}, scs)
		if err != nil {
			t.Fatal(err)
		}
		return &Report{Evaluations: []*Evaluation{ScenarioEvaluation("scenarios", rep)}}
	}
	suite := &Suite{Evaluations: []EvalSpec{{Name: "scenarios", Kind: "scenarios"}}}
	good := run(StackOptions{})
	if c := Compare(suite, good, run(StackOptions{})); !c.Passed() {
		t.Fatalf("the same stack fails against itself: %v", c.Failures)
	}
	c := Compare(suite, good, run(StackOptions{Intents: alwaysOutOfScope{}}))
	if c.Passed() || !strings.Contains(strings.Join(c.Failures, ";"), "text.routing_accuracy") {
		t.Fatalf("a broken intent model passed or routing was not named: %v", c.Failures)
	}
}

func TestParseScenariosRejects(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"no opening", "scenarios:\n  - {id: a, turns: [{dtmf: '1'}], expect: {intent: x}}\n", "first turn"},
		{"two actions in a turn", "scenarios:\n  - {id: a, turns: [{say: hi, lang: en}, {dtmf: '1', silence: true}], expect: {intent: x}}\n", "exactly one"},
		{"genuine without account", "scenarios:\n  - {id: a, turns: [{say: hi, lang: en}, {answer: genuine}], expect: {intent: x}}\n", "account"},
		{"unknown brief field", "scenarios:\n  - {id: a, turns: [{say: hi, lang: en}], expect: {intent: x, brief: [horoscope]}}\n", "horoscope"},
		{"bad time", "scenarios:\n  - {id: a, time: '25:00', turns: [{say: hi, lang: en}], expect: {intent: x}}\n", "HH:MM"},
		{"unknown key", "scenarios:\n  - {id: a, mood: calm, turns: [{say: hi, lang: en}], expect: {intent: x}}\n", "mood"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenarios("s.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
