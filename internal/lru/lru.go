// Package lru is a cache bounded by the size of what it holds, evicting
// the least recently used entries first. Safe for concurrent use.
package lru

import (
	"container/list"
	"sync"
)

// Cache maps K to V. Sizes are whatever unit the owner bounds (bytes).
type Cache[K comparable, V any] struct {
	max int

	mu    sync.Mutex
	items map[K]*list.Element
	order list.List // of *entry[K, V], most recent first
	size  int
	hits  uint64
	miss  uint64
}

type entry[K comparable, V any] struct {
	key  K
	val  V
	size int
}

// New makes a cache holding up to max units.
func New[K comparable, V any](max int) *Cache[K, V] {
	return &Cache[K, V]{max: max, items: map[K]*list.Element{}}
}

// Get returns the value under k and marks it recently used.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		c.miss++
		var zero V
		return zero, false
	}
	c.hits++
	c.order.MoveToFront(el)
	return el.Value.(*entry[K, V]).val, true
}

// Add keeps v under k (unless k is there already, or v alone is larger
// than the bound), evicting the least recently used to stay in bounds.
func (c *Cache[K, V]) Add(k K, v V, size int) {
	if size > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok {
		return
	}
	c.items[k] = c.order.PushFront(&entry[K, V]{key: k, val: v, size: size})
	c.size += size
	for c.size > c.max {
		old := c.order.Back()
		e := old.Value.(*entry[K, V])
		c.order.Remove(old)
		delete(c.items, e.key)
		c.size -= e.size
	}
}

// Stats returns hits, misses, entries and the size held.
func (c *Cache[K, V]) Stats() (hits, misses uint64, entries, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.miss, len(c.items), c.size
}
