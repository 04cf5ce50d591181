package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/nlu"
	"github.com/callbrief/callbrief/nlu/slots"
	"github.com/callbrief/callbrief/nlu/urgency"
)

// Understand is the Understander over the nlu and classifier stages.
type Understand struct {
	Intents  nlu.IntentClassifier
	Language classifier.LanguageIdentifier
	Taxonomy *taxonomy.Taxonomy
	Now      func() time.Time
	// Prefetch, when set, is told the turn's words and language once its
	// intent is decided, so that work the brief will need (the KB search's
	// query embedding, when it differs from the one the intent used) runs
	// while the call goes on to handoff instead of after it. It must not
	// block.
	Prefetch func(text string, lang call.Language)
	// RefineWait, when positive and the intent model is an nlu.Refiner,
	// lets RefineIntent wait that long for what the first answer lacked.
	RefineWait time.Duration
}

// IntentRefiner is an Understander that can answer a turn's intent a
// second time, just before the handoff, with what was too late for the
// first answer (the e5 embedding). changed is false when the first answer
// stands.
type IntentRefiner interface {
	RefineIntent(ctx context.Context, text string, prev Understanding) (u Understanding, changed bool, err error)
}

// RefineIntent implements IntentRefiner. The language, slots and the
// caller's words stand; the intent, and what follows from it (emergency,
// verification policy, urgency), are the second answer's.
func (u Understand) RefineIntent(ctx context.Context, text string, prev Understanding) (Understanding, bool, error) {
	r, ok := u.Intents.(nlu.Refiner)
	if !ok || u.RefineWait <= 0 || prev.Intent.Engine == nlu.HybridName {
		return prev, false, nil
	}
	ir, ok, err := r.Refine(ctx, text, prev.Language.Language, u.RefineWait)
	if err != nil || !ok {
		return prev, false, err
	}
	ir.Refined = true
	out := prev
	out.Intent = ir
	out.Emergency, out.Policy = false, ""
	if in, ok := u.Taxonomy.Lookup(string(ir.Intent)); ok {
		out.Emergency, out.Policy = in.Emergency, in.Policy
	}
	out.Urgency = urgency.Assess(text, out.Emergency)
	return out, true, nil
}

// Understand implements Understander.
func (u Understand) Understand(ctx context.Context, text string, asrTag call.Language) (Understanding, error) {
	var out Understanding
	lr, err := u.Language.Identify(ctx, text, asrTag)
	if err != nil {
		return out, fmt.Errorf("language: %w", err)
	}
	out.Language = lr
	ir, err := u.Intents.Classify(ctx, text, lr.Language)
	if err != nil {
		return out, fmt.Errorf("intent: %w", err)
	}
	out.Intent = ir
	if u.Prefetch != nil {
		u.Prefetch(text, lr.Language)
	}
	if in, ok := u.Taxonomy.Lookup(string(ir.Intent)); ok {
		out.Emergency, out.Policy = in.Emergency, in.Policy
	}
	now := time.Now
	if u.Now != nil {
		now = u.Now
	}
	out.Slots = slots.Parse(text, now())
	out.Urgency = urgency.Assess(text, out.Emergency)
	return out, nil
}
