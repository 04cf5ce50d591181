package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff/queue"
)

// DeliveryPending marks a brief kept on this node because the shared store
// did not answer: it reaches the shared queue when the store returns.
const DeliveryPending = "pending delivery"

// DeliveryLate marks a brief delivered from the outbox, so the agent knows
// the caller waited through a store outage.
const DeliveryLate = "delivered late: kept on the answering node during a store outage"

// ErrOutboxFull: the store is down and the outbox holds as many calls as
// it may; the call could not be kept.
var ErrOutboxFull = errors.New("handoff: store unavailable and the outbox is full")

// pending is one handoff the shared store did not take: the brief and the
// queue entry, delivered together when the store answers again.
type pending struct {
	Brief Brief       `json:"brief"`
	Entry queue.Entry `json:"entry"`
	Since time.Time   `json:"since"`
}

func (p pending) emergency() bool {
	return p.Brief.Urgency.Level >= call.UrgencyEmergency || p.Brief.Verification.Emergency
}

// Outbox keeps handoffs made while the shared store is unavailable, up to
// a bound, in memory and (when it has a folder) on disk, one file per
// call, so that a node restarted during the outage still delivers them.
// Safe for concurrent use.
type Outbox struct {
	max int
	dir string
	mu  sync.Mutex
	m   map[string]pending
}

// NewOutbox opens an outbox holding at most max calls (default 1000); dir,
// when not empty, is created and the calls a previous run left there are
// loaded. The bound is what a node may owe the store: at a few kilobytes a
// brief, 1000 calls is a few megabytes, and several minutes of a busy
// node's calls.
func NewOutbox(max int, dir string) (*Outbox, error) {
	if max <= 0 {
		max = 1000
	}
	o := &Outbox{max: max, dir: dir, m: map[string]pending{}}
	if dir == "" {
		return o, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox %s: %w", dir, err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("outbox %s: %w", f, err)
		}
		var p pending
		if err := json.Unmarshal(b, &p); err != nil || p.Brief.CallID == "" || !call.ValidID(p.Brief.CallID) {
			return nil, fmt.Errorf("outbox %s: not a kept handoff (move it away to start): %v", f, err)
		}
		o.m[p.Brief.CallID] = p
	}
	return o, nil
}

// Len is the number of calls waiting for the store.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.m)
}

// Full reports whether the outbox is at its bound.
func (o *Outbox) Full() bool { return o.Len() >= o.max }

func (o *Outbox) path(id string) string { return filepath.Join(o.dir, id+".json") }

// put keeps p; ErrOutboxFull past the bound.
func (o *Outbox) put(p pending) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.m[p.Brief.CallID]; !ok && len(o.m) >= o.max {
		return ErrOutboxFull
	}
	if o.dir != "" {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		// Written then renamed: a crash mid-write leaves no half file.
		tmp := o.path(p.Brief.CallID) + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		if err := os.Rename(tmp, o.path(p.Brief.CallID)); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	o.m[p.Brief.CallID] = p
	return nil
}

func (o *Outbox) remove(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.m, id)
	if o.dir != "" {
		_ = os.Remove(o.path(id))
	}
}

func (o *Outbox) get(id string) (pending, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, ok := o.m[id]
	return p, ok
}

// list returns the kept calls, emergencies first, then oldest first.
func (o *Outbox) list() []pending {
	o.mu.Lock()
	out := make([]pending, 0, len(o.m))
	for _, p := range o.m {
		out = append(out, p)
	}
	o.mu.Unlock()
	slices.SortFunc(out, func(a, b pending) int {
		if a.emergency() != b.emergency() {
			if a.emergency() {
				return -1
			}
			return 1
		}
		return a.Since.Compare(b.Since)
	})
	return out
}

// keep puts a handoff the store did not take in the outbox and marks its
// brief; the caller's upload is answered with it rather than an error.
func (e *Engine) keep(b Brief, entry queue.Entry, cause error) (Brief, error) {
	if e.cfg.Outbox == nil {
		return b, cause
	}
	b.Delivery = DeliveryPending
	p := pending{Brief: b, Entry: entry, Since: e.cfg.Now()}
	if err := e.cfg.Outbox.put(p); err != nil {
		return b, fmt.Errorf("%w (keeping it: %w)", cause, err)
	}
	log := e.cfg.Log.With("call_id", b.CallID)
	if p.emergency() {
		// This node's desks see it at once (View lists the outbox's
		// emergencies), whatever becomes of the store.
		log.Error("EMERGENCY kept on this node: the shared store is unavailable; shown on this node's desks now, queued when the store returns", "err", cause)
	} else {
		log.Warn("store unavailable: call kept in the outbox until it returns", "err", cause, "outbox", e.cfg.Outbox.Len())
	}
	e.changedHere()
	return b, nil
}

// Flush delivers the outbox: each kept brief is stored and its call queued,
// emergencies first. It stops at the first call the store still refuses and
// returns how many were delivered.
func (e *Engine) Flush(ctx context.Context) (int, error) {
	if e.cfg.Outbox == nil {
		return 0, nil
	}
	n := 0
	var delivered []string
	for _, p := range e.cfg.Outbox.list() {
		b := p.Brief
		b.Delivery = DeliveryLate
		if err := e.saveBrief(ctx, b); err != nil {
			return n, err
		}
		if err := e.cfg.Queue.Enqueue(ctx, p.Entry); err != nil {
			return n, unavailable(err)
		}
		e.cfg.Outbox.remove(b.CallID)
		e.cfg.Log.Info("kept call delivered to the shared queue", "call_id", b.CallID, "kept_for", e.cfg.Now().Sub(p.Since).Round(time.Millisecond))
		n++
		delivered = append(delivered, b.CallID)
	}
	if n > 0 {
		if err := e.Dispatch(ctx); err != nil {
			e.cfg.Log.Warn("dispatch after delivering kept calls failed", "err", err)
		}
		e.changed(ctx, Change{Calls: delivered})
	}
	return n, nil
}

// RunOutbox flushes the outbox every interval until ctx ends.
func (e *Engine) RunOutbox(ctx context.Context, interval time.Duration) {
	if e.cfg.Outbox == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if e.cfg.Outbox.Len() == 0 {
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if _, err := e.Flush(fctx); err != nil && ctx.Err() == nil {
			e.cfg.Log.Debug("outbox not delivered yet", "err", err, "outbox", e.cfg.Outbox.Len())
		}
		cancel()
	}
}

// pendingItems are the kept calls this agent's desk shows: emergencies,
// which must reach a person at once even while the shared queue cannot be
// read.
func (e *Engine) pendingItems(a queue.Agent) []QueueItem {
	if e.cfg.Outbox == nil {
		return nil
	}
	var out []QueueItem
	for _, p := range e.cfg.Outbox.list() {
		if !p.emergency() {
			continue
		}
		b := p.Brief
		it := QueueItem{CallID: b.CallID, State: StatePending, Group: p.Entry.Group, Priority: p.Entry.Priority,
			Language: p.Entry.Language, Line: p.Entry.Line, Waiting: p.Entry.Enqueued, Eligible: false,
			Intent: b.Intent.Intent, Urgency: b.Urgency.Level.String(), Verified: b.Verification.Status,
			Headline: quote(b.Transcript.Text())}
		if r := []rune(it.Headline); len(r) > 80 {
			it.Headline = string(r[:80]) + "…"
		}
		out = append(out, it)
	}
	return out
}
