package app

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff/kb"
)

// TestArticlesReachableByTheirIntents: every article that answers an
// intent passes the filter a brief for that intent asks with. The product
// names of the taxonomy and of the articles once differed ("phones" and
// "phone"), and briefs for phone faults carried only general articles.
func TestArticlesReachableByTheirIntents(t *testing.T) {
	tax, err := taxonomy.Load()
	if err != nil {
		t.Fatal(err)
	}
	arts, err := kb.LoadDir(filepath.Join("..", "data", "kb", "articles"), kb.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckArticles(tax, arts); err != nil {
		t.Fatal(err)
	}
	specific := map[string]int{}
	for _, a := range arts {
		c := kb.Chunk{ArticleID: a.ID, Product: a.Product, Language: a.Language, Intents: a.Intents}
		for _, id := range a.Intents {
			in, _ := tax.Lookup(id)
			// A caller who says what the article's title says, naming its
			// product, gets a filter that passes it.
			said := a.Title
			for _, p := range tax.KBProducts {
				if p.ID == a.Product && len(p.Words) > 0 {
					said = p.Words[0] + " " + said
				}
			}
			product := tax.KBProductFor(in, said)
			f := kb.Filter{Product: product, Language: a.Language, Intent: id}
			if !f.Match(&c) {
				t.Errorf("%s (product %s, %q) answers %s, but a brief for %s naming it filters by product %q and never sees it", a.Source, a.Product, a.Title, id, id, product)
			}
			if a.Product != kb.GeneralProduct {
				specific[id]++
			}
		}
	}
	// The phone lines have product-specific articles to find.
	for _, id := range []string{"hardware_fault", "device_power_boot", "network_sim", "wearable_sync", "smart_home_setup"} {
		if specific[id] == 0 {
			t.Errorf("no product-specific article answers %s", id)
		}
	}
}

func TestCheckArticlesNamesFileAndValue(t *testing.T) {
	tax, err := taxonomy.Load()
	if err != nil {
		t.Fatal(err)
	}
	err = CheckArticles(tax, []kb.Article{
		{ID: "x", Source: "power/x.md:1", Product: "phones", Intents: []string{"hardware_fault"}},
		{ID: "y", Source: "more.jsonl:7", Product: "phone", Intents: []string{"screen_repair"}},
	})
	if err == nil {
		t.Fatal("articles with an unknown product and an unknown intent accepted")
	}
	for _, want := range []string{`power/x.md:1: product "phones"`, `more.jsonl:7: intent "screen_repair"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
