package handoff_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/store/memory"
)

type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock(t time.Time) *fakeClock    { c := &fakeClock{}; c.ns.Store(t.UnixNano()); return c }
func floorEngine(t *testing.T, ring time.Duration, clk *fakeClock) *handoff.Engine {
	t.Helper()
	r, tx := router(t)
	ro, err := handoff.ParseRoster("test", []byte(`agents:
  - {id: a1, name: A1, level: 3, groups: [phone_tech], languages: [en], token: token-a1-0123456789}
  - {id: a2, name: A2, level: 3, groups: [phone_tech], languages: [en], token: token-a2-0123456789}
  - {id: boss, name: Boss, level: 5, role: supervisor, token: token-boss-0123456789}
`), r.Groups())
	if err != nil {
		t.Fatal(err)
	}
	e, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: queue.NewMemory(), Store: memory.New(), Taxonomy: tx,
		OfferTimeout: ring, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestRingOut: an offer not answered within the offer timeout goes to the
// next eligible agent; the agent who let it ring is not ready, with the
// reason, and is offered nothing until ready again.
func TestRingOut(t *testing.T) {
	ctx := context.Background()
	clk := newClock(noon)
	e := floorEngine(t, 10*time.Second, clk)
	if err := e.Online(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Second)
	if err := e.Online(ctx, "a2"); err != nil {
		t.Fatal(err)
	}
	req := bootRequest(t, "c1")
	req.At = clk.now()
	if _, err := e.Handoff(ctx, req); err != nil {
		t.Fatal(err)
	}
	holder := func(id string) string {
		for _, a := range []string{"a1", "a2"} {
			v, _ := e.View(ctx, a)
			for _, it := range v.Mine {
				if it.CallID == id {
					return a
				}
			}
		}
		return ""
	}
	if h := holder("c1"); h != "a1" {
		t.Fatalf("offered to %q, want a1 (longest idle)", h)
	}
	clk.add(9 * time.Second)
	if moved, _ := e.RingOut(ctx); len(moved) != 0 {
		t.Fatalf("rang out early: %v", moved)
	}
	clk.add(2 * time.Second)
	moved, err := e.RingOut(ctx)
	if err != nil || len(moved) != 1 {
		t.Fatalf("ring out: %v %v", moved, err)
	}
	if h := holder("c1"); h != "a2" {
		t.Fatalf("after ring-out offered to %q, want a2", h)
	}
	v, _ := e.View(ctx, "a1")
	if v.NotReady != handoff.NotReadyRangOut {
		t.Fatalf("a1 not ready = %q", v.NotReady)
	}
	// a2 lets it ring too: nobody is ready, the call waits.
	clk.add(11 * time.Second)
	if _, err := e.RingOut(ctx); err != nil {
		t.Fatal(err)
	}
	if h := holder("c1"); h != "" {
		t.Fatalf("offered to not-ready %q", h)
	}
	if err := e.Ready(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if h := holder("c1"); h != "a1" {
		t.Fatalf("after ready offered to %q", h)
	}
	w, err := e.Wallboard(ctx, "boss")
	if err != nil || w.Floor.RangOut != 2 || w.AgentsByState["not_ready"] != 1 || w.AgentsByState["offered"] != 1 {
		t.Fatalf("wallboard %+v %v", w, err)
	}
}

// TestAbandonedNeverLive: a caller who hung up is in the call-back list,
// never offered, and Accept refuses it; calling back closes it.
func TestAbandonedNeverLive(t *testing.T) {
	ctx := context.Background()
	clk := newClock(noon)
	e := floorEngine(t, 0, clk)
	req := bootRequest(t, "c1")
	req.At = clk.now()
	if _, err := e.Handoff(ctx, req); err != nil {
		t.Fatal(err)
	}
	clk.add(30 * time.Second)
	if err := e.CallerLeft(ctx, "c1", "the caller hung up while waiting for an agent"); err != nil {
		t.Fatal(err)
	}
	if err := e.Online(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	v, _ := e.View(ctx, "a1")
	if len(v.Mine) != 0 || len(v.Waiting) != 0 || len(v.Callbacks) != 1 || v.Callbacks[0].State != handoff.StateAbandoned || v.Callbacks[0].Group != "phone_tech" {
		t.Fatalf("view %+v", v)
	}
	if err := e.Accept(ctx, "a1", "c1"); !errors.Is(err, handoff.ErrConflict) {
		t.Fatalf("accept of an abandoned call: %v", err)
	}
	if _, err := e.BriefFor(ctx, "a1", "c1"); err != nil {
		t.Fatalf("brief of a call-back: %v", err)
	}
	w, err := e.Wallboard(ctx, "boss")
	if err != nil || w.Floor.Abandoned != 1 || w.Floor.CallbacksOpen != 1 || w.Floor.Waiting != 0 {
		t.Fatalf("wallboard %+v %v", w.Floor, err)
	}
	if _, err := e.Wallboard(ctx, "a1"); !errors.Is(err, handoff.ErrForbidden) {
		t.Fatalf("wallboard for an agent: %v", err)
	}
	if err := e.CalledBack(ctx, "a1", "c1", handoff.Outcome{Resolved: true, Resolution: "called back, fixed"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.View(ctx, "a1"); len(v.Callbacks) != 0 {
		t.Fatalf("call-back still listed: %+v", v.Callbacks)
	}
	audit, _ := e.DeskAudit(ctx, 10)
	reads := 0
	for _, a := range audit {
		if a["kind"] == "wallboard_read" && a["agent"] == "boss" {
			reads++
		}
	}
	if reads != 1 {
		t.Fatalf("wallboard reads audited: %d, want 1 (%v)", reads, audit)
	}
}

// TestServiceLevel: answers within 20 s count toward the service level;
// the handle time (accepted to outcome) averages over the closed calls;
// the hour's timeline holds every answer.
func TestServiceLevel(t *testing.T) {
	ctx := context.Background()
	clk := newClock(noon)
	e := floorEngine(t, 0, clk)
	for i, wait := range []time.Duration{5 * time.Second, 40 * time.Second} {
		id := []string{"c1", "c2"}[i]
		req := bootRequest(t, id)
		req.At = clk.now()
		if _, err := e.Handoff(ctx, req); err != nil {
			t.Fatal(err)
		}
		clk.add(wait)
		if err := e.Accept(ctx, "a1", id); err != nil {
			// a1 must be online to claim
			if err := e.Online(ctx, "a1"); err != nil {
				t.Fatal(err)
			}
			if err := e.Accept(ctx, "a1", id); err != nil {
				t.Fatal(err)
			}
		}
		clk.add([]time.Duration{90 * time.Second, 150 * time.Second}[i]) // talk and wrap-up
		if _, err := e.RecordOutcome(ctx, "a1", id, handoff.Outcome{Resolved: true, Resolution: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := e.Wallboard(ctx, "boss")
	if err != nil || w.Floor.Answered != 2 || w.Floor.AnsweredInSL != 1 || w.Floor.ServiceLevel != 50 {
		t.Fatalf("floor %+v %v", w.Floor, err)
	}
	if w.Floor.Handled != 2 || w.Floor.AvgHandleS != 120 {
		t.Fatalf("handled %d, average handle %v s, want 2 and 120", w.Floor.Handled, w.Floor.AvgHandleS)
	}
	var answered, inSL int
	for _, b := range w.Timeline {
		answered += b.Answered
		inSL += b.AnsweredInSL
	}
	if len(w.Timeline) != handoff.TimelineBuckets || answered != 2 || inSL != 1 {
		t.Fatalf("timeline %+v", w.Timeline)
	}
	for _, g := range w.Groups {
		if g.Group == "phone_tech" && (g.Handled != 2 || g.AvgHandleS != 120) {
			t.Fatalf("group %+v", g)
		}
	}
}
