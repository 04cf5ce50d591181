package handoff

import (
	"context"
	"errors"
	"slices"

	"github.com/callbrief/callbrief/handoff/queue"
)

// Where a caller on hold stands, for the caller's page.
const (
	HoldWaiting = "waiting" // in the queue, at Position (1: next)
	HoldAgent   = "agent"   // an agent has the call (offered or talking)
	HoldGone    = "gone"    // no longer queued (closed, abandoned)
)

// HoldStatus is a caller's place on hold.
type HoldStatus struct {
	State    string `json:"state"`
	Position int    `json:"position,omitempty"`
}

// WatchPosition tells fn where the call stands now, then again each time
// that changes, until ctx ends. It follows the floor's pushed changes
// (Updates) and reads the call's place (its entry and its queue) only
// after a change to the call, to a call that was ahead of it or to one
// now in its queue, or a resync: never by polling.
func (e *Engine) WatchPosition(ctx context.Context, callID string, fn func(HoldStatus)) {
	feed, stop := e.Updates()
	defer stop()
	var last HoldStatus
	group := ""
	ahead := map[string]bool{} // the calls waiting ahead, as last read
	read := func() {
		st := HoldStatus{State: HoldGone}
		q, err := e.cfg.Queue.Get(ctx, callID)
		switch {
		case errors.Is(err, queue.ErrUnknownCall):
		case err != nil:
			return // the store did not answer: the next change or resync reads again
		case q.Owner != "":
			st.State = HoldAgent
		default:
			if _, cb := IsCallback(q.Group); cb {
				break // abandoned: in the call-back list, no longer on hold
			}
			waiting, err := e.cfg.Queue.Waiting(ctx, q.Group)
			if err != nil {
				return
			}
			clear(ahead)
			for _, w := range waiting {
				if w.CallID == callID {
					break
				}
				ahead[w.CallID] = true
			}
			st = HoldStatus{State: HoldWaiting, Position: len(ahead) + 1}
		}
		if err == nil {
			group = q.Group
		}
		if st != last {
			last = st
			fn(st)
		}
	}
	read()
	for {
		select {
		case <-ctx.Done():
			return
		case <-feed.C():
		}
		ups, resync := feed.Take()
		if resync || slices.ContainsFunc(ups, func(u Update) bool {
			return slices.ContainsFunc(u.Calls, func(s CallSnapshot) bool {
				// The call itself, one that was ahead (taken, gone), or
				// one now in its queue (it may have come in ahead).
				return s.ID == callID || ahead[s.ID] || s.Entry.Group == group
			})
		}) {
			read()
		}
	}
}
