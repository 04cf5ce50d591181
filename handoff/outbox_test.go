package handoff_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
)

// flaky stores fail as an unreachable Redis does while down is set.
type flakyKV struct {
	store.Store
	down *atomic.Bool
}

func (f flakyKV) Set(ctx context.Context, k, v string, ttl time.Duration) error {
	if f.down.Load() {
		return store.ErrUnavailable
	}
	return f.Store.Set(ctx, k, v, ttl)
}

func (f flakyKV) Get(ctx context.Context, k string) (string, error) {
	if f.down.Load() {
		return "", store.ErrUnavailable
	}
	return f.Store.Get(ctx, k)
}

type flakyQueue struct {
	queue.Store
	down *atomic.Bool
}

func (f flakyQueue) Enqueue(ctx context.Context, e queue.Entry) error {
	if f.down.Load() {
		return queue.ErrUnavailable
	}
	return f.Store.Enqueue(ctx, e)
}

func (f flakyQueue) Waiting(ctx context.Context, groups ...string) ([]queue.Entry, error) {
	if f.down.Load() {
		return nil, queue.ErrUnavailable
	}
	return f.Store.Waiting(ctx, groups...)
}

// TestOutboxKeepsHandoffsDuringOutage: with the store down a handoff is
// kept (bounded), its brief marked pending; an emergency shows on this
// node's desks at once; a restarted node finds the kept calls on disk; and
// when the store is back every kept call is queued with its brief.
func TestOutboxKeepsHandoffsDuringOutage(t *testing.T) {
	ctx := context.Background()
	r, tx := router(t)
	ro, err := handoff.DemoRoster(r.Groups())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ob, err := handoff.NewOutbox(2, dir)
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	kv, q := memory.New(), queue.NewMemory()
	e, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: flakyQueue{q, &down}, Store: flakyKV{kv, &down}, Taxonomy: tx, Outbox: ob})
	if err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	routine := bootRequest(t, call.NewID(noon))
	b, err := e.Handoff(ctx, routine)
	if err != nil || b.Delivery != handoff.DeliveryPending {
		t.Fatalf("routine call during the outage: %v, delivery %q", err, b.Delivery)
	}
	emergency := bootRequest(t, call.NewID(noon.Add(time.Second)))
	emergency.Urgency = call.Urgency{Level: call.UrgencyEmergency}
	emergency.Verification.Emergency = true
	emergency.Reason = "emergency"
	if b, err := e.Handoff(ctx, emergency); err != nil || b.Delivery != handoff.DeliveryPending {
		t.Fatalf("emergency during the outage: %v, delivery %q", err, b.Delivery)
	}
	if _, err := e.Handoff(ctx, bootRequest(t, call.NewID(noon.Add(2*time.Second)))); !errors.Is(err, handoff.ErrOutboxFull) {
		t.Errorf("third call with an outbox of 2: %v, want ErrOutboxFull", err)
	}

	// The emergency is on this node's desk now, the routine call is not.
	v, err := e.View(ctx, "sam.taylor")
	if err != nil {
		t.Fatalf("desk view during the outage: %v", err)
	}
	if len(v.Waiting) != 1 || v.Waiting[0].CallID != emergency.CallID || v.Waiting[0].State != handoff.StatePending || v.Degraded == "" {
		t.Errorf("desk during the outage: %+v (degraded %q), want the emergency alone, pending", v.Waiting, v.Degraded)
	}
	if got, err := e.Brief(ctx, emergency.CallID); err != nil || got.CallID != emergency.CallID {
		t.Errorf("kept brief not readable on this node: %v", err)
	}

	// A node restarted during the outage finds them on disk.
	again, err := handoff.NewOutbox(2, dir)
	if err != nil || again.Len() != 2 {
		t.Fatalf("outbox reopened: %d calls, %v", again.Len(), err)
	}

	down.Store(false)
	if n, err := e.Flush(ctx); err != nil || n != 2 || ob.Len() != 0 {
		t.Fatalf("flush after the outage: %d delivered, %d left, %v", n, ob.Len(), err)
	}
	for _, id := range []string{routine.CallID, emergency.CallID} {
		if _, err := q.Get(ctx, id); err != nil {
			t.Errorf("call %s not queued after the outage: %v", id, err)
		}
		if b, err := e.Brief(ctx, id); err != nil || b.Delivery != handoff.DeliveryLate {
			t.Errorf("brief of %s after the outage: %v, delivery %q", id, err, b.Delivery)
		}
	}
	if left, _ := handoff.NewOutbox(2, dir); left.Len() != 0 {
		t.Errorf("delivered calls still on disk: %d", left.Len())
	}
}
