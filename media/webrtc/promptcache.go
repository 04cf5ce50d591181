package webrtc

import (
	"hash/maphash"
	"unsafe"

	"github.com/callbrief/callbrief/internal/lru"
)

// promptCache keeps the encoded packets of whole prompts. Encoding is the
// costly part of speaking (Opus at 16 kHz takes about 0.2 ms of a core per
// 20 ms packet), and most prompts are the same sentences on every call, so
// a prompt is encoded once per codec and its packets are sent to every
// later caller. A fresh encoder per prompt makes the packets the same
// whichever call encoded them. Bounded by bytes, least recently used
// first out; safe for concurrent use; nil caches nothing.
type promptCache struct {
	packets *lru.Cache[promptKey, [][]byte]
}

// promptKey names a prompt by its audio: codec, input rate, length and a
// 64-bit hash of the samples.
type promptKey struct {
	codec Codec
	rate  int
	n     int
	sum   uint64
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
	return &promptCache{packets: lru.New[promptKey, [][]byte](maxBytes)}
}

// get returns the packets of a prompt sent before. They are shared: not
// to be modified.
func (c *promptCache) get(k promptKey) ([][]byte, bool) {
	if c == nil {
		return nil, false
	}
	return c.packets.Get(k)
}

// put keeps a prompt's packets.
func (c *promptCache) put(k promptKey, payloads [][]byte) {
	if c == nil {
		return
	}
	size := 64 // the entry's own bookkeeping, roughly
	for _, p := range payloads {
		size += len(p) + 24
	}
	c.packets.Add(k, payloads, size)
}

// entries is how many prompts are kept.
func (c *promptCache) entries() int {
	_, _, n, _ := c.packets.Stats()
	return n
}
