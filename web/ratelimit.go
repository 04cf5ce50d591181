package web

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// AddressLimit limits the requests of each client address with a token
// bucket: Burst at once, then PerMinute. It guards what a caller's device
// reaches without signing in (the caller page, its WHIP offers), where
// there is no account or key to count against. Over the limit: 429 with
// Retry-After and a JSON reason. Addresses are the connection's (the
// proxy's own when behind one: set the limit for the proxy's share).
// Buckets live in this process; a node behind a load balancer limits its
// share.
type AddressLimit struct {
	perSec float64
	burst  float64
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBuckets bounds the memory a flood from many addresses can take: past
// it, full buckets are dropped at once, not only once a minute.
const maxBuckets = 100_000

// NewAddressLimit returns a limit of perMinute requests per address with
// burst at once; perMinute 0 turns it off.
func NewAddressLimit(perMinute, burst int) *AddressLimit {
	return &AddressLimit{perSec: float64(perMinute) / 60, burst: float64(max(burst, 1)), now: time.Now, buckets: map[string]*bucket{}}
}

// Allow takes a token for addr; when none is left it says how long until
// one is.
func (l *AddressLimit) Allow(addr string) (bool, time.Duration) {
	if l == nil || l.perSec <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.buckets) >= maxBuckets {
		l.sweep(now)
	}
	b, ok := l.buckets[addr]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[addr] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.perSec)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.perSec * float64(time.Second))
}

// sweep drops the buckets that have refilled: they hold nothing a fresh
// one would not.
func (l *AddressLimit) sweep(now time.Time) {
	l.swept = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.perSec >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// Wrap limits next; only requests whose method is in methods count (all
// when none are given).
func (l *AddressLimit) Wrap(next http.Handler, methods ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		counted := len(methods) == 0
		for _, m := range methods {
			counted = counted || r.Method == m
		}
		if counted {
			if ok, wait := l.Allow(clientAddr(r)); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]string{
					"code": "too_many_requests", "message": "too many requests from this address; retry after the time in Retry-After"}})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
