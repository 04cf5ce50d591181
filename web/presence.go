package web

import (
	"context"
	"sync"
	"time"
)

// PresenceRefresh is how often an open desk refreshes its agent's
// presence (handoff.Engine.Seen). A reconnect grace shorter than twice
// this could take an agent with another desk still open offline.
const PresenceRefresh = 3 * time.Second

// presence tracks this node's desk feeds and the agents whose feed
// closed: each keeps their calls for the grace, then goes offline unless
// a desk of theirs was seen since (handoff.Engine.OfflineUnlessSeen).
type presence struct {
	grace time.Duration

	mu      sync.Mutex
	pending map[*time.Timer]func() // checks waiting for their time
	feeds   int                    // live feeds open
	closed  bool                   // Close has run: checks run at once

	feedsCtx context.Context // done: every feed ends (EndFeeds)
	endFeeds context.CancelFunc
}

// WithReconnectGrace keeps the calls of an agent whose desk disconnected
// for g before they go back to the queue, unless the desk reconnects (on
// any node) meanwhile. Zero: at once.
func (d *Desk) WithReconnectGrace(g time.Duration) *Desk {
	d.grace = g
	return d
}

// EndFeeds ends every desk's live feed, telling the desks to reconnect
// (to another node): for http.Server.RegisterOnShutdown, since Shutdown
// does not end a WebSocket.
func (d *Desk) EndFeeds() { d.endFeeds() }

// Close is for the node's shutdown: it ends the feeds and waits for them
// (up to 5 s), then for the disconnection checks waiting for their grace
// until ctx ends, then runs the rest at once: agents' calls must not stay
// held by desks nobody serves. With a shared store, waiting for the grace
// lets agents whose desks reconnect to another node keep their calls.
func (d *Desk) Close(ctx context.Context) {
	d.EndFeeds()
	d.waitFor(ctx, func() bool { return d.feeds == 0 && len(d.pending) == 0 })
	d.mu.Lock()
	d.closed = true
	var run []func()
	for t, f := range d.pending {
		if t.Stop() { // else it is running now
			run = append(run, f)
			delete(d.pending, t)
		}
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, f := range run {
		wg.Go(f)
	}
	wg.Wait()
	bounded, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.waitFor(bounded, func() bool { return len(d.pending) == 0 })
}

// waitFor polls done (under d.mu) until it holds or ctx ends; feeds that
// do not end within 5 s are not waited for.
func (d *Desk) waitFor(ctx context.Context, done func() bool) {
	feedsEnd := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		d.mu.Lock()
		ok, feeds := done(), d.feeds
		d.mu.Unlock()
		if ok || ctx.Err() != nil && (feeds == 0 || time.Now().After(feedsEnd)) {
			return
		}
		<-tick.C
	}
}

// disconnected is one of the agent's desk feeds closing at at (the
// engine's clock).
func (d *Desk) disconnected(agent string, at time.Time) {
	d.mu.Lock()
	grace := d.grace
	d.mu.Unlock()
	d.schedule(agent, at, grace)
}

// schedule runs the agent's disconnection check after wait. A check that
// fails (the store unreachable) is tried again, so that an agent who has
// gone does not keep their calls for good.
func (d *Desk) schedule(agent string, at time.Time, wait time.Duration) {
	retry := max(wait, PresenceRefresh)
	d.mu.Lock()
	if wait <= 0 || d.closed {
		closed := d.closed
		d.mu.Unlock()
		if err := d.checkGone(agent, at); err != nil && !closed {
			d.schedule(agent, at, retry)
		}
		return
	}
	if d.pending == nil {
		d.pending = map[*time.Timer]func(){}
	}
	// The check stays pending while it runs, so that whoever waits for
	// the pending checks waits for it to finish.
	var t *time.Timer
	t = time.AfterFunc(wait, func() {
		err := d.checkGone(agent, at)
		d.mu.Lock()
		delete(d.pending, t)
		again := err != nil && !d.closed
		d.mu.Unlock()
		if again {
			d.schedule(agent, at, retry)
		}
	})
	d.pending[t] = func() { _ = d.checkGone(agent, at) }
	d.mu.Unlock()
}

// checkGone takes the agent offline unless a desk of theirs was seen after
// at.
func (d *Desk) checkGone(agent string, at time.Time) error {
	// No request to take a context from; requeueing must still happen.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	log := d.log.With("agent", agent)
	went, err := d.eng.OfflineUnlessSeen(ctx, agent, at)
	switch {
	case err != nil:
		log.Error("agent offline: requeue failed; trying again", "err", err)
	case went:
		log.Info("agent offline: no desk of theirs reconnected")
	}
	return err
}

// AbsentLease is how long an online agent may go unseen on every node
// before any node takes them offline: the grace a closed desk gets, plus
// two of an open desk's refreshes (one may be late).
func (d *Desk) AbsentLease() time.Duration { return d.grace + 2*PresenceRefresh }

// SweepAbsent takes offline, every PresenceRefresh until ctx ends, the
// agents no node has seen within AbsentLease: those whose desks were on a
// node that died, whose disconnection no node will ever handle. Their
// offered and held calls go back to the queue.
func (d *Desk) SweepAbsent(ctx context.Context) {
	t := time.NewTicker(PresenceRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if _, err := d.eng.ReapAbsent(sctx, d.AbsentLease()); err != nil && ctx.Err() == nil {
			d.log.Warn("presence sweep failed", "err", err)
		}
		cancel()
	}
}
