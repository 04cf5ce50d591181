package nlu_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/nlu"
	"github.com/callbrief/callbrief/nlu/linear"
)

// conceptEmbedder stands in for a sentence embedder: it knows that words
// the training data never uses mean the same as words it does, which is
// what a sparse model cannot know.
type conceptEmbedder struct {
	block chan struct{} // non-nil: never answers until closed
}

var concepts = [][]string{
	{"refund", "money", "cash", "reimburse", "repay"},
	{"screen", "display", "cracked", "glass", "shattered"},
	{"battery", "charge", "charging", "power", "drains"},
}

func (c conceptEmbedder) vec(text string) []float32 {
	v := make([]float32, len(concepts)+1)
	v[len(concepts)] = 1
	for _, w := range strings.Fields(strings.ToLower(text)) {
		for i, ws := range concepts {
			for _, x := range ws {
				if w == x {
					v[i]++
				}
			}
		}
	}
	return v
}

func (c conceptEmbedder) one(ctx context.Context, text string) ([]float32, error) {
	if c.block != nil {
		select {
		case <-c.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.vec(text), nil
}

func (c conceptEmbedder) bulk(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = c.vec(t)
	}
	return out, nil
}

func conceptData() []linear.Example {
	labels := []string{"refund", "screen", "battery"}
	fillers := []string{"i want", "please help with", "my phone", "about the", "there is a problem with", "can you check", "hello", "the new"}
	var ex []linear.Example
	for c, l := range labels {
		// Training uses only the first two words of each concept.
		for i, f := range fillers {
			for _, w := range concepts[c][:2] {
				ex = append(ex, linear.Example{Text: fmt.Sprintf("%s %s %d", f, w, i%3), Label: l})
			}
		}
	}
	return ex
}

func TestHybridUsesTheEmbeddingForUnseenWords(t *testing.T) {
	ctx := context.Background()
	emb := conceptEmbedder{}
	// Validation phrased with words training never uses, as callers do:
	// that is what makes the weight of the embedding worth fitting.
	opt := linear.DefaultOptions()
	for c, l := range []string{"refund", "screen", "battery"} {
		for _, w := range concepts[c][2:4] {
			opt.Validation = append(opt.Validation, linear.Example{Text: "i have a question " + w, Label: l})
		}
	}
	h, err := nlu.TrainHybrid(ctx, conceptData(), opt, nlu.EmbeddedOptions{},
		nlu.DenseTraining{Embeddings: emb.bulk, Embed: emb.one})
	if err != nil {
		t.Fatal(err)
	}
	if h.Dense() == nil || h.Dense().Weight <= 0 {
		t.Fatalf("dense side %+v: want a positive weight fitted on validation", h.Dense())
	}
	for text, want := range map[string]call.Intent{"repay": "refund", "shattered": "screen", "drains": "battery"} {
		r, err := h.Classify(ctx, text, call.LangEnglish)
		if err != nil {
			t.Fatal(err)
		}
		if r.Intent != want || r.Engine != nlu.HybridName {
			t.Errorf("%q: %s by %s, want %s by %s", text, r.Intent, r.Engine, want, nlu.HybridName)
		}
	}
	// The sparse model alone has seen none of these words.
	sparse, err := nlu.TrainEmbedded(ctx, conceptData(), linear.DefaultOptions(), nlu.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := sparse.Classify(ctx, "repay", call.LangEnglish); r.Intent == "refund" && !r.Rejected {
		t.Fatalf("the sparse model alone placed an unseen word: the test shows nothing")
	}
}

func TestHybridFallsBackWhenTheEmbeddingIsLate(t *testing.T) {
	ctx := context.Background()
	block := make(chan struct{})
	defer close(block)
	emb := conceptEmbedder{}
	late := conceptEmbedder{block: block}
	h, err := nlu.TrainHybrid(ctx, conceptData(), linear.DefaultOptions(), nlu.EmbeddedOptions{},
		nlu.DenseTraining{Embeddings: emb.bulk, Embed: late.one, Wait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := h.Classify(ctx, "i want money back", call.LangEnglish)
	if err != nil {
		t.Fatal(err)
	}
	if r.Engine != nlu.EmbeddedName || r.Intent != "refund" {
		t.Fatalf("late embedding: %s by %s, want refund by the sparse model", r.Intent, r.Engine)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Classify waited %v for a late embedding (budget 20ms)", d)
	}
}

// The second answer (Refine, just before the handoff) takes the embedding
// that was late for the first, and gives nothing while it is still late.
func TestRefineAnswersWithTheLateEmbedding(t *testing.T) {
	ctx := context.Background()
	emb := conceptEmbedder{}
	block := make(chan struct{})
	late := conceptEmbedder{block: block}
	opt := linear.DefaultOptions()
	for c, l := range []string{"refund", "screen", "battery"} {
		for _, w := range concepts[c][2:4] {
			opt.Validation = append(opt.Validation, linear.Example{Text: "i have a question " + w, Label: l})
		}
	}
	h, err := nlu.TrainHybrid(ctx, conceptData(), opt, nlu.EmbeddedOptions{},
		nlu.DenseTraining{Embeddings: emb.bulk, Embed: late.one, Wait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	first, err := h.Classify(ctx, "shattered", call.LangEnglish)
	if err != nil {
		t.Fatal(err)
	}
	if first.Engine != nlu.EmbeddedName || first.Intent == "screen" && !first.Rejected {
		t.Fatalf("first answer %s by %s: want the sparse model's, which has never seen the word", first.Intent, first.Engine)
	}
	if _, ok, err := h.Refine(ctx, "shattered", call.LangEnglish, 10*time.Millisecond); ok || err != nil {
		t.Fatalf("Refine with the embedding still late: ok=%v err=%v, want no second answer", ok, err)
	}
	close(block)
	r, ok, err := h.Refine(ctx, "shattered", call.LangEnglish, 5*time.Second)
	if err != nil || !ok {
		t.Fatalf("Refine: ok=%v err=%v", ok, err)
	}
	if r.Intent != "screen" || r.Engine != nlu.HybridName {
		t.Fatalf("second answer %s by %s, want screen by %s", r.Intent, r.Engine, nlu.HybridName)
	}
	sparse, err := nlu.TrainEmbedded(ctx, conceptData(), linear.DefaultOptions(), nlu.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := sparse.Refine(ctx, "shattered", call.LangEnglish, time.Second); ok {
		t.Fatal("a classifier with no embedding head gave a second answer")
	}
}
