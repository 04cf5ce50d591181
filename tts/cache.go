package tts

import (
	"container/list"
	"context"
	"sync"

	"github.com/callbrief/callbrief/call"
)

// Cache remembers what a Synthesizer said: most prompts (the greeting,
// the questions, the hold announcement) are the same few sentences on
// every call, and a remote speech endpoint takes hundreds of milliseconds
// per request. It is safe for concurrent use; entries are evicted least
// recently used first once their audio exceeds the bound.
type Cache struct {
	next     Synthesizer
	maxBytes int

	mu    sync.Mutex
	items map[cacheKey]*list.Element
	lru   list.List // of *cacheEntry, most recent first
	bytes int
	hits  uint64
	miss  uint64
}

type cacheKey struct {
	text string
	lang call.Language
	rate float64
}

type cacheEntry struct {
	key cacheKey
	pcm []int16
}

// NewCache wraps next, keeping up to maxBytes of audio (16 MiB when 0 or
// less: about nine minutes of prompts).
func NewCache(next Synthesizer, maxBytes int) *Cache {
	if maxBytes <= 0 {
		maxBytes = 16 << 20
	}
	return &Cache{next: next, maxBytes: maxBytes, items: map[cacheKey]*list.Element{}}
}

// Name implements Synthesizer.
func (c *Cache) Name() string { return c.next.Name() }

// Synthesize implements Synthesizer. The slice returned is a copy, the
// caller's to keep, as the interface promises.
func (c *Cache) Synthesize(ctx context.Context, text string, lang call.Language, rate Rate) ([]int16, error) {
	k := cacheKey{text, lang, rate.Of()}
	c.mu.Lock()
	if el, ok := c.items[k]; ok {
		c.lru.MoveToFront(el)
		c.hits++
		pcm := append([]int16(nil), el.Value.(*cacheEntry).pcm...)
		c.mu.Unlock()
		return pcm, nil
	}
	c.miss++
	c.mu.Unlock()
	// Two calls asking for the same new prompt at once both synthesize
	// it; rare, and cheaper than making one wait on the other's engine.
	pcm, err := c.next.Synthesize(ctx, text, lang, rate)
	if err != nil {
		return nil, err
	}
	size := 2 * len(pcm)
	if size > c.maxBytes {
		return pcm, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; !ok {
		c.items[k] = c.lru.PushFront(&cacheEntry{key: k, pcm: append([]int16(nil), pcm...)})
		c.bytes += size
		for c.bytes > c.maxBytes {
			old := c.lru.Back()
			e := old.Value.(*cacheEntry)
			c.lru.Remove(old)
			delete(c.items, e.key)
			c.bytes -= 2 * len(e.pcm)
		}
	}
	return pcm, nil
}

// Stats returns hits, misses and the bytes of audio held.
func (c *Cache) Stats() (hits, misses uint64, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.miss, c.bytes
}
