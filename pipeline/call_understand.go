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
