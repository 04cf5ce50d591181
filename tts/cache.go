package tts

import (
	"context"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/internal/lru"
)

// Cache remembers what a Synthesizer said: most prompts (the greeting,
// the questions, the hold announcement) are the same few sentences on
// every call, and a remote speech endpoint takes hundreds of milliseconds
// per request. It is safe for concurrent use; entries are evicted least
// recently used first once their audio exceeds the bound.
type Cache struct {
	next  Synthesizer
	audio *lru.Cache[cacheKey, []int16]
}

type cacheKey struct {
	text string
	lang call.Language
	rate float64
}

// NewCache wraps next, keeping up to maxBytes of audio (16 MiB when 0 or
// less: about nine minutes of prompts).
func NewCache(next Synthesizer, maxBytes int) *Cache {
	if maxBytes <= 0 {
		maxBytes = 16 << 20
	}
	return &Cache{next: next, audio: lru.New[cacheKey, []int16](maxBytes)}
}

// Name implements Synthesizer.
func (c *Cache) Name() string { return c.next.Name() }

// Synthesize implements Synthesizer. The slice returned is a copy, the
// caller's to keep, as the interface promises.
func (c *Cache) Synthesize(ctx context.Context, text string, lang call.Language, rate Rate) ([]int16, error) {
	k := cacheKey{text, lang, rate.Of()}
	if pcm, ok := c.audio.Get(k); ok {
		return append([]int16(nil), pcm...), nil
	}
	// Two calls asking for the same new prompt at once both synthesize
	// it; rare, and cheaper than making one wait on the other's engine.
	pcm, err := c.next.Synthesize(ctx, text, lang, rate)
	if err != nil {
		return nil, err
	}
	c.audio.Add(k, append([]int16(nil), pcm...), 2*len(pcm))
	return pcm, nil
}

// Stats returns hits, misses and the bytes of audio held.
func (c *Cache) Stats() (hits, misses uint64, bytes int) {
	hits, misses, _, bytes = c.audio.Stats()
	return hits, misses, bytes
}
