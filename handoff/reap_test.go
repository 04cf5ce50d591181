package handoff_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue/redisq"
	storeredis "github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
)

// clock is a settable clock shared by the two nodes.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestReapAbsentAgentOfDeadNode: two nodes share Redis. An agent's desk is
// on node A and a call is offered to them; node A dies (its desk's
// presence is never refreshed again, and no disconnection is handled). On
// node B the lease sweep puts the call back in the queue once the lease
// has passed, not before; the call used to stay offered to the dead desk.
func TestReapAbsentAgentOfDeadNode(t *testing.T) {
	ctx := context.Background()
	rd := redistest.Start(t)
	clk := &clock{t: noon}
	node := func() *handoff.Engine {
		r, tx := router(t)
		ro, err := handoff.DemoRoster(r.Groups())
		if err != nil {
			t.Fatal(err)
		}
		kv, err := storeredis.New(storeredis.Config{Addr: rd.Addr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { kv.Close() })
		q, err := redisq.New(redisq.Config{Addr: rd.Addr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		e, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: q, Store: kv, Taxonomy: tx, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a, b := node(), node()
	if err := a.Online(ctx, "sam.taylor"); err != nil {
		t.Fatal(err)
	}
	id := call.NewID(noon)
	if _, err := a.Handoff(ctx, bootRequest(t, id)); err != nil {
		t.Fatal(err)
	}
	v, err := b.View(ctx, "sam.taylor")
	if err != nil || len(v.Mine) != 1 || v.Mine[0].CallID != id || v.Mine[0].State != handoff.StateOffered {
		t.Fatalf("before the node's loss: %+v %v, want the call offered to sam.taylor", v.Mine, err)
	}
	const lease = 21 * time.Second // grace 15 s + two presence refreshes

	clk.Add(lease / 2)
	if gone, err := b.ReapAbsent(ctx, lease); err != nil || len(gone) != 0 {
		t.Fatalf("within the lease: reaped %v (%v), want none", gone, err)
	}
	clk.Add(lease)
	gone, err := b.ReapAbsent(ctx, lease)
	if err != nil || len(gone) != 1 || gone[0] != "sam.taylor" {
		t.Fatalf("past the lease: reaped %v (%v), want sam.taylor", gone, err)
	}
	if pos, err := b.QueuePosition(ctx, id); err != nil || pos != 1 {
		t.Errorf("call after its agent's node died: position %d (%v), want first in the queue", pos, err)
	}
	// A desk seen again (reconnected to node B) is not reaped.
	if err := b.Online(ctx, "sam.taylor"); err != nil {
		t.Fatal(err)
	}
	clk.Add(lease / 2)
	if gone, err := b.ReapAbsent(ctx, lease); err != nil || len(gone) != 0 {
		t.Errorf("a desk seen within the lease: reaped %v (%v)", gone, err)
	}
}
