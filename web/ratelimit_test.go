package web

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAddressLimit: a burst, then 429 with Retry-After and a reason;
// another address is not held up; tokens come back with time; only the
// methods named count.
func TestAddressLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewAddressLimit(6, 2) // one every 10 s, two at once
	l.now = func() time.Time { return now }
	h := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }), http.MethodPost)
	do := func(method, addr string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(method, "/", nil)
		r.RemoteAddr = addr
		h.ServeHTTP(rec, r)
		return rec
	}
	for i := range 2 {
		if c := do("POST", "10.0.0.1:5000").Code; c != http.StatusNoContent {
			t.Fatalf("request %d of the burst: %d", i, c)
		}
	}
	rec := do("POST", "10.0.0.1:5001") // same address, another port
	ra, _ := strconv.Atoi(rec.Header().Get("Retry-After"))
	if rec.Code != http.StatusTooManyRequests || ra < 1 || ra > 10 || !strings.Contains(rec.Body.String(), "too_many_requests") {
		t.Fatalf("over the limit: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if c := do("DELETE", "10.0.0.1:5000").Code; c != http.StatusNoContent {
		t.Fatalf("a hang-up is not counted: %d", c)
	}
	if c := do("POST", "10.0.0.2:5000").Code; c != http.StatusNoContent {
		t.Fatalf("another address: %d", c)
	}
	now = now.Add(time.Duration(ra) * time.Second)
	if c := do("POST", "10.0.0.1:5000").Code; c != http.StatusNoContent {
		t.Fatalf("after Retry-After: %d", c)
	}
	if c := do("POST", "10.0.0.1:5000").Code; c != http.StatusTooManyRequests {
		t.Fatalf("one token came back, not two: %d", c)
	}
	off := NewAddressLimit(0, 1).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for range 100 {
		rec := httptest.NewRecorder()
		off.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("limit off: %d", rec.Code)
		}
	}
}

// TestAddressLimitBounded: a flood from many addresses keeps the buckets
// bounded.
func TestAddressLimitBounded(t *testing.T) {
	l := NewAddressLimit(60, 5)
	now := time.Unix(0, 0)
	l.now = func() time.Time { return now }
	for i := range 3 * maxBuckets {
		now = now.Add(time.Millisecond)
		l.Allow(strconv.Itoa(i))
	}
	if n := len(l.buckets); n > maxBuckets {
		t.Fatalf("%d buckets, want at most %d", n, maxBuckets)
	}
}
