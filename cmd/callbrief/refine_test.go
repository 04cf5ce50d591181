package main

import (
	"context"
	"testing"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/pipeline"
)

type stubRefiner struct{ second call.Intent }

func (stubRefiner) Understand(ctx context.Context, text string, tag call.Language) (pipeline.Understanding, error) {
	return pipeline.Understanding{Intent: call.IntentResult{Intent: "order_status", Engine: "embedded"}}, nil
}

func (s stubRefiner) RefineIntent(ctx context.Context, text string, prev pipeline.Understanding) (pipeline.Understanding, bool, error) {
	prev.Intent = call.IntentResult{Intent: s.second, Engine: "embedded+e5", Refined: true}
	return prev, true, nil
}

// The served calls wrap the understander to trace them; the wrapper must
// not hide the second intent answer (pipeline finds it by a type
// assertion), and a brief kept at a cut must carry it.
func TestTracedUnderstanderPassesTheSecondAnswer(t *testing.T) {
	tr := &liveTrace{}
	var u pipeline.Understander = tracedUnderstander{stubRefiner{second: "hardware_fault"}, tr}
	r, ok := u.(pipeline.IntentRefiner)
	if !ok {
		t.Fatal("the traced understander hides the second intent answer")
	}
	first, err := u.Understand(context.Background(), "x", call.LangEnglish)
	if err != nil {
		t.Fatal(err)
	}
	second, changed, err := r.RefineIntent(context.Background(), "x", first)
	if err != nil || !changed || second.Intent.Intent != "hardware_fault" {
		t.Fatalf("second answer %+v changed=%v err=%v", second.Intent, changed, err)
	}
	if tr.understood == nil || tr.understood.Intent.Intent != "hardware_fault" {
		t.Fatalf("trace keeps %+v, want the second answer", tr.understood)
	}
}
