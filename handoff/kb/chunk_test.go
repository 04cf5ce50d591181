package kb

import (
	"strings"
	"testing"
)

func TestEstimateTokens(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"手机无法开机", 6},
		{"hold the power button", 4},
		{"长按 power 键 15 秒。", 7},
		{"Wi-Fi 2.4GHz", 6},
	}
	for _, tc := range tests {
		if got := EstimateTokens(tc.in); got != tc.want {
			t.Errorf("EstimateTokens(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestChunkArticle(t *testing.T) {
	a := Article{ID: "a1", Title: "T", Product: "phone", Intents: []string{"x"}, Language: "en"}
	para := func(word string, n int) string { return strings.TrimSpace(strings.Repeat(word+" ", n)) }
	tests := []struct {
		name     string
		body     string
		opts     ChunkOptions
		chunks   int
		headings []string
	}{
		{"one small article is one chunk", "# Title\n\n## Steps\n1. a\n2. b", ChunkOptions{}, 1, []string{"Title"}},
		{"paragraphs packed to the budget", para("a", 30) + "\n\n" + para("b", 30) + "\n\n" + para("c", 30), ChunkOptions{MaxTokens: 70, Overlap: -1}, 2, []string{"", ""}},
		{"heading travels with its section", "## One\n" + para("a", 40) + "\n## Two\n" + para("b", 40), ChunkOptions{MaxTokens: 50, Overlap: -1}, 2, []string{"One", "Two"}},
		{"oversized paragraph split at sentences", strings.Repeat("这是一句话。", 40), ChunkOptions{MaxTokens: 50, Overlap: -1}, 5, nil},
		{"no sentence ends: hard split", strings.Repeat("字", 120), ChunkOptions{MaxTokens: 50, Overlap: -1}, 3, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.Body = tc.body
			cs := ChunkArticle(a, tc.opts)
			if len(cs) != tc.chunks {
				t.Fatalf("%d chunks, want %d: %+v", len(cs), tc.chunks, cs)
			}
			budget := tc.opts.withDefaults().MaxTokens
			for i, c := range cs {
				if c.ID != "a1#"+string(rune('0'+i)) || c.Ord != i || c.Product != "phone" || c.Language != "en" {
					t.Errorf("chunk %d metadata: %+v", i, c)
				}
				if n := EstimateTokens(c.Text); n > budget {
					t.Errorf("chunk %d has %d tokens, budget %d", i, n, budget)
				}
				if tc.headings != nil && c.Heading != tc.headings[i] {
					t.Errorf("chunk %d heading %q, want %q", i, c.Heading, tc.headings[i])
				}
			}
		})
	}
}

func TestChunkOverlap(t *testing.T) {
	a := Article{ID: "a", Body: "p1 " + strings.Repeat("x ", 20) + "\n\np2 " + strings.Repeat("y ", 20) + "\n\np3 " + strings.Repeat("z ", 20)}
	cs := ChunkArticle(a, ChunkOptions{MaxTokens: 45, Overlap: 25})
	if len(cs) != 2 {
		t.Fatalf("%d chunks: %+v", len(cs), cs)
	}
	if !strings.HasPrefix(cs[1].Text, "p2 ") {
		t.Errorf("second chunk should repeat the paragraph before the cut: %q", cs[1].Text)
	}
	noOverlap := ChunkArticle(a, ChunkOptions{MaxTokens: 45, Overlap: -1})
	if strings.HasPrefix(noOverlap[1].Text, "p2 ") && len(noOverlap) == 2 && strings.Contains(noOverlap[0].Text, "p2") {
		t.Errorf("overlap -1 must not repeat text: %+v", noOverlap)
	}
}
