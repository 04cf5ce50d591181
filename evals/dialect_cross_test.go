package evals

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/classifier"
)

func TestReadDialectTSV(t *testing.T) {
	items, err := ReadDialectTSV(strings.NewReader("# a comment\nyue\t佢哋今日唔返工\r\n\ncmn\t我们今天不上班\n"), "t.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Variety != call.LangCantonese || items[0].Text != "佢哋今日唔返工" || items[1].Variety != call.LangMandarin {
		t.Fatalf("items %+v", items)
	}
	for in, want := range map[string]string{
		"fr\tbonjour\n": `variety "fr"`,
		"yue 佢哋\n":      "want variety<TAB>text",
		"yue\t   \n":    "want variety<TAB>text",
		"# nothing\n\n": "no sentences",
	} {
		_, err := ReadDialectTSV(strings.NewReader(in), "t.tsv")
		if !errors.Is(err, ErrDataset) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want one saying %q", in, err, want)
		}
	}
}

func FuzzReadDialectTSV(f *testing.F) {
	f.Add([]byte("yue\t佢哋今日唔返工\ncmn\t我们\n"))
	f.Add([]byte("\t\n#\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := ReadDialectTSV(strings.NewReader(string(b)), "fuzz")
		if err == nil && len(items) == 0 {
			t.Fatal("no error and no sentences")
		}
	})
}

// TestDialectCrossMatrix checks the cross-corpus bookkeeping on the
// built-in corpora: every sentence is counted once in the pooled matrix,
// and the marker rule is scored on the same sentences.
func TestDialectCrossMatrix(t *testing.T) {
	ctx := context.Background()
	cs, err := classifier.LoadCorpora("")
	if err != nil {
		t.Fatal(err)
	}
	served, err := classifier.ServedVariety(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := classifier.NewIdentifier(served, nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func(ctx context.Context, cs []classifier.Corpus) (*classifier.VarietyModel, error) {
		return classifier.BuildVariety(ctx, cs, served.Options)
	}
	rep, err := RunDialectCross(ctx, cs, id, build, nil)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range cs {
		total += len(c.All())
	}
	n := 0
	for _, row := range rep.Pooled.Matrix {
		for _, k := range row {
			n += k
		}
	}
	if n != total || rep.MarkerRulePooled.Test != total {
		t.Errorf("pooled matrix counts %d, rule %d, corpora hold %d", n, rep.MarkerRulePooled.Test, total)
	}
	md := rep.Markdown()
	for _, want := range []string{"Cross-corpus (headline)", "| gold \\ answer |", "In-corpus"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if _, err := RunDialectCross(ctx, cs[:1], id, build, nil); !errors.Is(err, ErrDataset) {
		t.Errorf("one corpus: %v", err)
	}
}
