package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/store"
)

// Changes reach every node's desks by the store's publish/subscribe: each
// change publishes the ids of what it touched (never the whole floor);
// each node, once per change, reads those calls and hands them to its
// open desks, which work out in memory what changed for them (DeskState).
// The store's load then grows with the changes, not with the desks times
// the queued calls.

// ChangesChannel is the store channel changes are published on.
const ChangesChannel = "handoff:changes"

// Change names what changed on the floor: calls (their queue, state or
// brief) and agents (presence, readiness).
type Change struct {
	Calls  []string `json:"calls,omitempty"`
	Agents []string `json:"agents,omitempty"`
}

// CallSnapshot is one call as every desk needs it, read once per change
// per node.
type CallSnapshot struct {
	ID string
	// Gone: the call left the queues (closed, or unknown).
	Gone  bool
	Entry queue.Entry
	State CallState
	Agent string
	Since time.Time
	brief *Brief
}

// Update is what a node's desks are handed after changes.
type Update struct {
	Calls  []CallSnapshot
	Agents []string
	// Resync: changes may have been missed (the subscription was
	// re-established, a call could not be read): re-read the whole view.
	Resync bool
}

// Feed is one desk's subscription to the updates of this node. Updates
// queue without bound in memory (they are small) until the desk takes
// them; a desk far behind is told to resync instead.
type Feed struct {
	c       chan struct{}
	mu      sync.Mutex
	pending []Update
	resync  bool
}

// maxPending bounds the updates kept for a desk that does not read them.
const maxPending = 256

// C receives a signal when updates are waiting (coalesced).
func (f *Feed) C() <-chan struct{} { return f.c }

// Take returns the waiting updates; resync true means the desk must
// re-read its whole view (some were dropped, or missed upstream).
func (f *Feed) Take() (ups []Update, resync bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ups, resync = f.pending, f.resync
	f.pending, f.resync = nil, false
	for _, u := range ups {
		resync = resync || u.Resync
	}
	if resync {
		ups = nil
	}
	return ups, resync
}

func (f *Feed) put(u Update) {
	f.mu.Lock()
	if len(f.pending) >= maxPending {
		f.pending, f.resync = nil, true
	} else {
		f.pending = append(f.pending, u)
	}
	f.mu.Unlock()
	select {
	case f.c <- struct{}{}:
	default:
	}
}

// changes is the node's side: one store subscription while any desk is
// open, shared by all of them.
type changes struct {
	ps    store.PubSub
	mu    sync.Mutex
	feeds map[*Feed]struct{}
	stop  context.CancelFunc
	done  chan struct{}
	local chan Change // changes not published (the store down): this node's desks still see them
}

// Updates subscribes a desk to this node's updates. The first desk starts
// the node's subscription to the store; the last one to stop ends it.
func (e *Engine) Updates() (*Feed, func()) {
	c := &e.changes
	f := &Feed{c: make(chan struct{}, 1)}
	c.mu.Lock()
	if c.feeds == nil {
		c.feeds = map[*Feed]struct{}{}
	}
	c.feeds[f] = struct{}{}
	if c.stop == nil {
		ctx, stop := context.WithCancel(context.Background())
		c.stop, c.done = stop, make(chan struct{})
		go e.runChanges(ctx, c.done)
	}
	c.mu.Unlock()
	return f, func() {
		c.mu.Lock()
		delete(c.feeds, f)
		var done chan struct{}
		if len(c.feeds) == 0 && c.stop != nil {
			c.stop()
			done = c.done
			c.stop, c.done = nil, nil
		}
		c.mu.Unlock()
		if done != nil {
			<-done
		}
	}
}

func (e *Engine) fanOut(u Update) {
	c := &e.changes
	c.mu.Lock()
	defer c.mu.Unlock()
	for f := range c.feeds {
		f.put(u)
	}
}

// runChanges listens to the store's channel, batches what arrived
// together, reads each changed call once and fans the snapshots out.
func (e *Engine) runChanges(ctx context.Context, done chan struct{}) {
	defer close(done)
	for ctx.Err() == nil {
		msgs, err := e.changes.ps.Subscribe(ctx, ChangesChannel)
		if err != nil {
			e.cfg.Log.Warn("desk changes: subscription failed; desks resync until it is back", "err", err)
			e.fanOut(Update{Resync: true})
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		e.relay(ctx, msgs)
	}
}

func (e *Engine) relay(ctx context.Context, msgs <-chan store.Message) {
	for {
		var batch []Change
		resync := false
		add := func(m store.Message) {
			if m.Resync {
				resync = true
				return
			}
			var ch Change
			if err := json.Unmarshal([]byte(m.Payload), &ch); err != nil {
				e.cfg.Log.Warn("desk changes: malformed message ignored", "err", err)
				return
			}
			batch = append(batch, ch)
		}
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			add(m)
		case ch := <-e.changes.local:
			batch = append(batch, ch)
		}
		// Whatever else has arrived goes in the same batch: a burst of
		// changes costs one read per call, not one per message.
	more:
		for len(batch) < 512 {
			select {
			case m, ok := <-msgs:
				if !ok {
					break more
				}
				add(m)
			case ch := <-e.changes.local:
				batch = append(batch, ch)
			default:
				break more
			}
		}
		e.fanOut(e.load(ctx, batch, resync))
	}
}

// load reads the changed calls.
func (e *Engine) load(ctx context.Context, batch []Change, resync bool) Update {
	u := Update{Resync: resync}
	var ids []string
	for _, ch := range batch {
		for _, id := range ch.Calls {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		for _, a := range ch.Agents {
			if !slices.Contains(u.Agents, a) {
				u.Agents = append(u.Agents, a)
			}
		}
	}
	for _, id := range ids {
		s, err := e.snapshot(ctx, id)
		if err != nil {
			e.cfg.Log.Warn("desk changes: call not read; desks resync", "call_id", id, "err", err)
			u.Resync = true
			continue
		}
		u.Calls = append(u.Calls, s)
	}
	return u
}

// snapshot reads one call: its queue entry, state and brief.
func (e *Engine) snapshot(ctx context.Context, id string) (CallSnapshot, error) {
	q, err := e.cfg.Queue.Get(ctx, id)
	if errors.Is(err, queue.ErrUnknownCall) {
		return CallSnapshot{ID: id, Gone: true}, nil
	}
	if err != nil {
		return CallSnapshot{}, unavailable(err)
	}
	return e.snapshotOf(ctx, q, true), nil
}

// snapshotOf completes an entry already read; the brief only when asked
// (a desk that may not read it does not pay for it).
func (e *Engine) snapshotOf(ctx context.Context, q queue.Entry, withBrief bool) CallSnapshot {
	s := CallSnapshot{ID: q.CallID, Entry: q, State: StateWaiting}
	if q.Owner != "" {
		s.State, s.Agent, s.Since = e.stateAt(ctx, q.CallID)
		if s.State == StateWaiting {
			s.State = StateOffered
		}
	}
	if withBrief {
		if b, err := e.Brief(ctx, q.CallID); err == nil {
			s.brief = &b
		}
	}
	return s
}

// changed tells every node's desks what changed. Published through the
// store; if that fails (the store down), this node's desks still hear of
// it, and the others resync when their subscription comes back.
func (e *Engine) changed(ctx context.Context, ch Change) {
	e.hub.Publish()
	js, _ := json.Marshal(ch)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	err := e.changes.ps.Publish(pctx, ChangesChannel, string(js))
	cancel()
	if err == nil {
		return
	}
	e.cfg.Log.Warn("desk change not published; this node's desks only", "err", err)
	select {
	case e.changes.local <- ch:
	default:
		e.fanOut(Update{Resync: true})
	}
}

// changedHere tells this node's desks only to re-read their views: for
// what only this node holds (calls kept in its outbox).
func (e *Engine) changedHere() {
	e.hub.Publish()
	e.fanOut(Update{Resync: true})
}
