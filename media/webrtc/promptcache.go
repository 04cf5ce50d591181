package webrtc

import (
	"container/list"
	"hash/maphash"
	"sync"
	"unsafe"
)

// promptCache keeps the encoded packets of whole prompts. Encoding is the
// costly part of speaking (Opus at 16 kHz takes about 0.2 ms of a core per
// 20 ms packet), and most prompts are the same sentences on every call, so
// a prompt is encoded once per codec and its packets are sent to every
// later caller. A fresh encoder per prompt makes the packets the same
// whichever call encoded them. Bounded by bytes, least recently used
// first out; safe for concurrent use; nil caches nothing.
type promptCache struct {
	max int

	mu    sync.Mutex
	items map[promptKey]*list.Element
	lru   list.List // of *promptEntry, most recent first
	bytes int
}

// promptKey names a prompt by its audio: codec, input rate, length and a
// 64-bit hash of the samples.
type promptKey struct {
	codec Codec
	rate  int
	n     int
	sum   uint64
}

type promptEntry struct {
	key      promptKey
	payloads [][]byte
	size     int
}

var promptSeed = maphash.MakeSeed()

func promptKeyOf(codec Codec, pcm []int16, rate int) promptKey {
	var sum uint64
	if len(pcm) > 0 {
		sum = maphash.Bytes(promptSeed, unsafe.Slice((*byte)(unsafe.Pointer(&pcm[0])), 2*len(pcm)))
	}
	return promptKey{codec: codec, rate: rate, n: len(pcm), sum: sum}
}

func newPromptCache(maxBytes int) *promptCache {
	if maxBytes <= 0 {
		return nil
	}
	return &promptCache{max: maxBytes, items: map[promptKey]*list.Element{}}
}

// get returns the packets of a prompt sent before. They are shared: not
// to be modified.
func (c *promptCache) get(k promptKey) ([][]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*promptEntry).payloads, true
}

// put keeps a prompt's packets, evicting the least recently used.
func (c *promptCache) put(k promptKey, payloads [][]byte) {
	if c == nil {
		return
	}
	size := 64 // the entry's own bookkeeping, roughly
	for _, p := range payloads {
		size += len(p) + 24
	}
	if size > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok {
		return
	}
	c.items[k] = c.lru.PushFront(&promptEntry{key: k, payloads: payloads, size: size})
	c.bytes += size
	for c.bytes > c.max {
		old := c.lru.Back()
		e := old.Value.(*promptEntry)
		c.lru.Remove(old)
		delete(c.items, e.key)
		c.bytes -= e.size
	}
}
