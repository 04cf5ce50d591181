package classifier_test

import (
	"context"
	"testing"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/evals"
	"github.com/callbrief/callbrief/internal/testenv"
)

func items(ex []classifier.VarietyExample) []evals.DialectItem {
	out := make([]evals.DialectItem, len(ex))
	for i, e := range ex {
		out[i] = evals.DialectItem{Text: e.Text, Variety: e.Variety, Source: e.Source}
	}
	return out
}

// TestVarietyHeldOut trains on the training parts of HKCanCor, Tatoeba and
// our text and scores the held-out parts.
func TestVarietyHeldOut(t *testing.T) {
	root := testenv.SharedData(t, "")
	ctx := context.Background()
	train, err := classifier.SharedCorpus(root, classifier.SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	test, err := classifier.SharedCorpus(root, classifier.SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := classifier.TrainVariety(ctx, train)
	if err != nil {
		t.Fatal(err)
	}
	id, err := classifier.NewIdentifier(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := evals.RunDialect(ctx, "identifier", "held-out", items(test), id.Identify)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("train %d, test %d\n%s", len(train), len(test), rep.Markdown())
	if rep.Accuracy < 0.80 {
		t.Errorf("held-out variety accuracy %.4f < 0.80", rep.Accuracy)
	}
}

func TestIdentifyCases(t *testing.T) {
	ctx := context.Background()
	train, err := classifier.EmbeddedCorpus(classifier.SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	m, err := classifier.TrainVariety(ctx, train)
	if err != nil {
		t.Fatal(err)
	}
	id, err := classifier.NewIdentifier(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		text   string
		tag    call.Language
		want   call.Language
		script call.Script
	}{
		{"", "", call.LangUndetermined, call.ScriptNone},
		{"嗯", "", call.LangUndetermined, call.ScriptAmbiguous},
		{"嗯", call.LangCantonese, call.LangCantonese, call.ScriptAmbiguous},
		{"ok", "", call.LangUndetermined, call.ScriptNone},
		{"my phone will not turn on since this morning", "", call.LangEnglish, call.ScriptNone},
		{"我的手机开不了机了怎么办", "", call.LangMandarin, call.ScriptSimplified},
		{"我部電話開唔到機點算好", "", call.LangCantonese, call.ScriptTraditional},
		{"佢話部機壞咗唔得", "", call.LangCantonese, call.ScriptTraditional},
		{"侬好阿拉额手机勿好用了", "", call.LangWu, call.ScriptSimplified},
		{"我的iPhone开不了机", "", call.LangMandarin, call.ScriptSimplified},
		{"\xff\xfe我的手机\xc3", "", call.LangMandarin, call.ScriptSimplified},
	}
	for _, c := range cases {
		r, err := id.Identify(ctx, c.text, c.tag)
		if err != nil {
			t.Fatal(err)
		}
		if r.Language != c.want || r.Script != c.script {
			t.Errorf("%q (tag %q): got %s/%q (%.2f), want %s/%q", c.text, c.tag, r.Language, r.Script, r.Confidence, c.want, c.script)
		}
	}
}
