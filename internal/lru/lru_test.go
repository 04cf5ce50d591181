package lru

import "testing"

func TestCache(t *testing.T) {
	c := New[string, int](10)
	c.Add("a", 1, 4)
	c.Add("b", 2, 4)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatal("a missing")
	}
	c.Add("c", 3, 4) // over 10: b, the least recently used, goes
	if _, ok := c.Get("b"); ok {
		t.Fatal("b kept past the bound")
	}
	if _, ok := c.Get("a"); !ok {
		t.Fatal("a evicted though used")
	}
	c.Add("a", 9, 4) // present: kept as is
	if v, _ := c.Get("a"); v != 1 {
		t.Fatal("existing entry replaced")
	}
	c.Add("huge", 0, 11)
	if _, ok := c.Get("huge"); ok {
		t.Fatal("entry larger than the bound kept")
	}
	if hits, misses, n, size := c.Stats(); hits != 3 || misses != 2 || n != 2 || size != 8 {
		t.Fatalf("stats %d %d %d %d", hits, misses, n, size)
	}
}
