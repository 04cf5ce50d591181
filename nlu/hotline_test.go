package nlu_test

import (
	"context"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/nlu"
)

// TestHotlineHeldOut trains on our taxonomy's training utterances and
// scores the held-out file: overall accuracy, and recall 1.0 on the
// emergency intents (model plus rules).
func TestHotlineHeldOut(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	m, err := nlu.TrainHotline(ctx, nlu.HotlineOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	c, err := nlu.NewEmbedded(m, nlu.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tax, err := taxonomy.Load()
	if err != nil {
		t.Fatal(err)
	}
	test, err := tax.Test()
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	emerg, emergHit := 0, 0
	for _, u := range test {
		r, err := c.Classify(ctx, u.Text, call.Language(u.Lang))
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Intent) == u.Intent {
			correct++
		} else {
			t.Logf("miss: %s %q -> %s (%.2f) %s", u.Intent, u.Text, r.Intent, r.Confidence, r.Rule)
		}
		in, _ := tax.Lookup(u.Intent)
		if in.Emergency {
			emerg++
			if string(r.Intent) == u.Intent {
				emergHit++
			}
		}
	}
	acc := float64(correct) / float64(len(test))
	t.Logf("held-out accuracy %.4f (%d/%d), emergency recall %d/%d, trained in %v, T=%.3f thr=%.2f", acc, correct, len(test), emergHit, emerg, took, m.Temperature, m.Threshold)
	if emergHit != emerg {
		t.Errorf("emergency recall %d/%d, want 1.0", emergHit, emerg)
	}
	if acc < 0.85 {
		t.Errorf("held-out accuracy %.4f < 0.85", acc)
	}
}
