package tts

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/callbrief/callbrief/call"
)

// counting is a synthesizer whose audio is the text's bytes, counting
// requests.
type counting struct{ n atomic.Int64 }

func (c *counting) Name() string { return "counting" }
func (c *counting) Synthesize(_ context.Context, text string, _ call.Language, _ Rate) ([]int16, error) {
	c.n.Add(1)
	if text == "" {
		return nil, ErrEmptyText
	}
	pcm := make([]int16, len(text))
	for i := range text {
		pcm[i] = int16(text[i])
	}
	return pcm, nil
}

func TestCache(t *testing.T) {
	next := &counting{}
	c := NewCache(next, 20) // 10 samples
	ctx := context.Background()
	a, _ := c.Synthesize(ctx, "hello", call.LangEnglish, Normal)
	a[0] = 0 // the caller's copy: must not reach the cache
	b, _ := c.Synthesize(ctx, "hello", call.LangEnglish, 0)
	if next.n.Load() != 1 || b[0] != 'h' {
		t.Fatalf("second request: engine called %d times, audio %v", next.n.Load(), b)
	}
	// Another rate, language or text is another prompt.
	c.Synthesize(ctx, "hello", call.LangEnglish, Slow)
	c.Synthesize(ctx, "hello", call.LangMandarin, Normal)
	if next.n.Load() != 3 {
		t.Fatalf("engine called %d times, want 3", next.n.Load())
	}
	// The bound: the oldest entries go.
	if _, _, bytes := c.Stats(); bytes > 20 {
		t.Fatalf("%d bytes held, bound 20", bytes)
	}
	c.Synthesize(ctx, "hello", call.LangEnglish, Normal)
	if next.n.Load() != 4 {
		t.Fatalf("evicted prompt not synthesized again: %d calls", next.n.Load())
	}
	// Errors are not cached.
	if _, err := c.Synthesize(ctx, "", call.LangEnglish, Normal); !errors.Is(err, ErrEmptyText) {
		t.Fatal(err)
	}
	if _, err := c.Synthesize(ctx, "", call.LangEnglish, Normal); !errors.Is(err, ErrEmptyText) || next.n.Load() != 6 {
		t.Fatalf("error cached: %v, %d calls", err, next.n.Load())
	}
}
