package openai

import (
	"sync/atomic"
	"time"

	openaiapi "github.com/sashabaranov/go-openai"
)

// defaultCoolOff is how long a server whose request failed is passed
// over while another is up: long enough not to send it the next calls
// while it restarts, short enough to take it back soon after.
const defaultCoolOff = 3 * time.Second

// server is one member of the recognizer's pool. Recognition capacity is
// added by adding servers (asr.openai.base_urls, asr.speechserver.count):
// each utterance goes to the healthy server with the fewest requests in
// flight, so a slow or busy server gets fewer, and a failed attempt is
// retried on another server at once.
type server struct {
	index   int
	baseURL string
	client  *openaiapi.Client
	up      func() bool // nil: up unless it failed lately
	coolOff time.Duration

	inFlight  atomic.Int64
	downUntil atomic.Int64 // unix nanoseconds
	served    atomic.Int64
	failed    atomic.Int64
}

// healthy reports whether the server may take a request now.
func (s *server) healthy(now time.Time) bool {
	if s.up != nil && !s.up() {
		return false
	}
	return now.UnixNano() >= s.downUntil.Load()
}

// begin counts a request in flight; the returned function ends it, and a
// request that failed through the server's fault sets the server aside
// for its cool-off.
func (s *server) begin() func(ok bool) {
	s.inFlight.Add(1)
	return func(ok bool) {
		s.inFlight.Add(-1)
		if ok {
			s.served.Add(1)
			return
		}
		s.failed.Add(1)
		s.downUntil.Store(time.Now().Add(s.coolOff).UnixNano())
	}
}

// pick chooses the server of the next attempt: the healthy one with the
// fewest requests in flight (the earlier one on a tie), other than avoid
// (the server that just failed) when there is a choice. With no healthy
// server it still picks the least loaded: a request that may succeed
// beats certain failure.
func (r *Recognizer) pick(avoid *server) *server {
	if len(r.servers) == 1 {
		return r.servers[0]
	}
	now := time.Now()
	var best, fallback *server
	for _, s := range r.servers {
		if s == avoid {
			continue
		}
		if fallback == nil || s.inFlight.Load() < fallback.inFlight.Load() {
			fallback = s
		}
		if !s.healthy(now) {
			continue
		}
		if best == nil || s.inFlight.Load() < best.inFlight.Load() {
			best = s
		}
	}
	switch {
	case best != nil:
		return best
	case avoid != nil && avoid.healthy(now):
		return avoid
	case fallback != nil:
		return fallback
	}
	return avoid
}

// healthyServers is how many servers may take a request now.
func (r *Recognizer) healthyServers() int {
	now := time.Now()
	n := 0
	for _, s := range r.servers {
		if s.healthy(now) {
			n++
		}
	}
	return n
}

// ServerStats is one pool member's state, for readiness and reports.
type ServerStats struct {
	Index    int   `json:"index"`
	Healthy  bool  `json:"healthy"`
	InFlight int64 `json:"in_flight"`
	Served   int64 `json:"served"`
	Failed   int64 `json:"failed"`
}

// Servers reports every server of the pool (no addresses: readyz is
// public).
func (r *Recognizer) Servers() []ServerStats {
	now := time.Now()
	out := make([]ServerStats, len(r.servers))
	for i, s := range r.servers {
		out[i] = ServerStats{Index: i, Healthy: s.healthy(now), InFlight: s.inFlight.Load(), Served: s.served.Load(), Failed: s.failed.Load()}
	}
	return out
}
