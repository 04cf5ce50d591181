package kb

import (
	"slices"
	"testing"
)

func TestBoostIntentMovesAnswersUpNotIn(t *testing.T) {
	mk := func(id string, intents ...string) Hit {
		return Hit{Chunk: Chunk{ArticleID: id, Intents: intents}}
	}
	hits := []Hit{mk("a", "x"), mk("b", "x"), mk("c", "x"), mk("d", "want"), mk("e", "x"), mk("f", "want")}
	ids := func(hs []Hit) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Chunk.ArticleID)
		}
		return out
	}
	// d moves up three places (ahead of a, the hit it ties with); f moves
	// up three too, and nothing is dropped.
	if got, want := ids(boostIntent(hits, "want", 3)), []string{"d", "a", "b", "f", "c", "e"}; !slices.Equal(got, want) {
		t.Fatalf("boost 3: %v, want %v", got, want)
	}
	for _, tc := range []struct {
		intent string
		ranks  int
	}{{"", 3}, {"out_of_scope", 3}, {"want", 0}, {"nobody", 3}} {
		if got := ids(boostIntent(hits, tc.intent, tc.ranks)); !slices.Equal(got, ids(hits)) {
			t.Errorf("intent %q ranks %d reordered: %v", tc.intent, tc.ranks, got)
		}
	}
}
