package evals

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestRetrievalMetrics(t *testing.T) {
	tests := []struct {
		name     string
		got, rel []string
		k        int
		recall   float64
		ndcg     float64
	}{
		{"first", []string{"a", "b"}, []string{"a"}, 10, 1, 1},
		{"second", []string{"b", "a"}, []string{"a"}, 10, 1, 1 / math.Log2(3)},
		{"beyond k", []string{"b", "c", "a"}, []string{"a"}, 2, 0, 0},
		{"half of two", []string{"a", "x"}, []string{"a", "b"}, 10, 0.5, 1 / (1 + 1/math.Log2(3))},
		{"duplicate counted once", []string{"a", "a"}, []string{"a", "b"}, 10, 0.5, 1 / (1 + 1/math.Log2(3))},
		{"nothing", nil, []string{"a"}, 10, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := RecallAt(tc.got, tc.rel, tc.k); math.Abs(r-tc.recall) > 1e-9 {
				t.Errorf("recall = %v, want %v", r, tc.recall)
			}
			if n := NDCGAt(tc.got, tc.rel, tc.k); math.Abs(n-tc.ndcg) > 1e-9 {
				t.Errorf("ndcg = %v, want %v", n, tc.ndcg)
			}
		})
	}
}

func TestRunRetrieval(t *testing.T) {
	qs := []RetrievalQuery{
		{ID: "1", Text: "x", Language: "zh", Relevant: []string{"a"}},
		{ID: "2", Text: "y", Language: "en", Relevant: []string{"b"}},
		{ID: "3", Text: "z", Language: "en", Relevant: []string{"c"}},
	}
	answers := map[string][]string{"1": {"a"}, "2": {"x", "b"}, "3": {"x"}}
	rep, err := RunRetrieval(context.Background(), "sys", "q.jsonl", qs, func(_ context.Context, q RetrievalQuery) ([]string, error) {
		if q.ID == "3" {
			return answers[q.ID], errors.New("boom")
		}
		return answers[q.ID], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	o := rep.Overall
	if o.N != 3 || math.Abs(o.Recall[1]-1.0/3) > 1e-9 || math.Abs(o.Recall[3]-2.0/3) > 1e-9 || math.Abs(o.MRR-0.5) > 1e-9 || rep.Errors != 1 {
		t.Fatalf("overall %+v errors %d", o, rep.Errors)
	}
	if rep.ByLanguage["en"].N != 2 || rep.ByLanguage["zh"].Recall[1] != 1 {
		t.Fatalf("by language %+v", rep.ByLanguage)
	}
	md := RetrievalMarkdown([]*RetrievalReport{rep})
	for _, want := range []string{"| sys | all | 3 | 0.333 | 0.667", "2 queries not answered at rank 1", "| 3 | c | x | 0 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestParseRetrievalQueries(t *testing.T) {
	good := `{"id":"q1","text":"手机开不了机","lang":"zh","relevant":["zh-power-001"]}`
	tests := []struct {
		name, in, msg string
	}{
		{"bad json", good + "\n{", "q.jsonl:2"},
		{"unknown field", `{"id":"q1","text":"t","relevant":["a"],"extra":1}`, "q.jsonl:1"},
		{"no text", `{"id":"q1","text":" ","relevant":["a"]}`, "q.jsonl:1: text is empty"},
		{"no relevant", `{"id":"q1","text":"t"}`, "q.jsonl:1: no relevant"},
		{"duplicate id", good + "\n" + good, "q.jsonl:2: id \"q1\" already used on line 1"},
		{"empty", "\n# comment\n", "no queries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRetrievalQueries(strings.NewReader(tc.in), "q.jsonl")
			if !errors.Is(err, ErrDataset) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want ErrDataset containing %q", err, tc.msg)
			}
		})
	}
	qs, err := ParseRetrievalQueries(strings.NewReader(good+"\n\n"), "q.jsonl")
	if err != nil || len(qs) != 1 || qs[0].Language != "zh" {
		t.Fatalf("%v %v", qs, err)
	}
}

// The labelled demo set shipped with the repository must parse.
func TestDemoRetrievalQueries(t *testing.T) {
	qs, err := LoadRetrievalQueries("../data/kb/queries.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	langs := map[string]int{}
	for _, q := range qs {
		langs[q.Language]++
	}
	if len(qs) < 80 || langs["zh"] == 0 || langs["yue"] == 0 || langs["en"] == 0 {
		t.Fatalf("%d queries, languages %v", len(qs), langs)
	}
}
