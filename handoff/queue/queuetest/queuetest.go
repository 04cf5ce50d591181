// Package queuetest is the suite every queue.Store must pass.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/handoff/queue"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func entry(id, group string, prio int, at time.Duration) queue.Entry {
	return queue.Entry{CallID: id, Group: group, MinLevel: 1, Priority: prio, Enqueued: t0.Add(at)}
}

var basic = queue.Agent{ID: "a1", Level: 2, Groups: []string{"phone_tech", "orders"}, Languages: []string{"cmn", "en"}}

// Run runs the suite; fresh returns an empty store.
func Run(t *testing.T, fresh func(t *testing.T) queue.Store) {
	ctx := context.Background()

	t.Run("order: priority, then waiting time, across groups", func(t *testing.T) {
		s := fresh(t)
		for _, e := range []queue.Entry{
			entry("late-normal", "phone_tech", 0, 3*time.Second),
			entry("early-normal", "orders", 0, time.Second),
			entry("urgent", "phone_tech", 20, 5*time.Second),
			entry("emergency", "orders", 100, 9*time.Second),
		} {
			if err := s.Enqueue(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Online(ctx, basic, t0); err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			e, err := s.Claim(ctx, basic.ID)
			if errors.Is(err, queue.ErrEmpty) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e.CallID)
		}
		want := []string{"emergency", "urgent", "early-normal", "late-normal"}
		if !slices.Equal(got, want) {
			t.Fatalf("claim order %v, want %v", got, want)
		}
	})

	t.Run("eligibility", func(t *testing.T) {
		cases := []struct {
			name string
			e    queue.Entry
			ok   bool
		}{
			{"plain", entry("c", "phone_tech", 0, 0), true},
			{"other group", entry("c", "security", 0, 0), false},
			{"level too low", func() queue.Entry { e := entry("c", "phone_tech", 0, 0); e.MinLevel = 3; return e }(), false},
			{"language spoken", func() queue.Entry { e := entry("c", "phone_tech", 0, 0); e.Language = "en"; return e }(), true},
			{"language not spoken", func() queue.Entry { e := entry("c", "phone_tech", 0, 0); e.Language = "yue"; return e }(), false},
			{"line not staffed", func() queue.Entry { e := entry("c", "phone_tech", 0, 0); e.Line = "dialect"; return e }(), false},
			{"declined before", func() queue.Entry { e := entry("c", "phone_tech", 0, 0); e.Declined = []string{"a1"}; return e }(), false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s := fresh(t)
				if got := basic.Eligible(c.e); got != c.ok {
					t.Fatalf("Eligible = %v, want %v", got, c.ok)
				}
				if err := s.Enqueue(ctx, c.e); err != nil {
					t.Fatal(err)
				}
				if err := s.Online(ctx, basic, t0); err != nil {
					t.Fatal(err)
				}
				_, err := s.Claim(ctx, basic.ID)
				if c.ok != (err == nil) {
					t.Fatalf("Claim err = %v, want ok=%v (store disagrees with Agent.Eligible)", err, c.ok)
				}
				if !c.ok && !errors.Is(err, queue.ErrEmpty) {
					t.Fatalf("Claim err = %v, want ErrEmpty", err)
				}
			})
		}
	})

	t.Run("claim call: taken, not eligible, unknown", func(t *testing.T) {
		s := fresh(t)
		b := basic
		b.ID = "a2"
		for _, a := range []queue.Agent{basic, b} {
			if err := s.Online(ctx, a, t0); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Enqueue(ctx, entry("c1", "phone_tech", 0, 0)); err != nil {
			t.Fatal(err)
		}
		hi := entry("c2", "phone_tech", 0, 0)
		hi.MinLevel = 5
		if err := s.Enqueue(ctx, hi); err != nil {
			t.Fatal(err)
		}
		if e, err := s.ClaimCall(ctx, "a1", "c1"); err != nil || e.Owner != "a1" {
			t.Fatalf("ClaimCall = %+v, %v", e, err)
		}
		if _, err := s.ClaimCall(ctx, "a2", "c1"); !errors.Is(err, queue.ErrTaken) {
			t.Fatalf("second ClaimCall err = %v, want ErrTaken", err)
		}
		if _, err := s.ClaimCall(ctx, "a2", "c2"); !errors.Is(err, queue.ErrNotEligible) {
			t.Fatalf("err = %v, want ErrNotEligible", err)
		}
		if _, err := s.ClaimCall(ctx, "a2", "nope"); !errors.Is(err, queue.ErrUnknownCall) {
			t.Fatalf("err = %v, want ErrUnknownCall", err)
		}
		if _, err := s.Claim(ctx, "ghost"); !errors.Is(err, queue.ErrUnknownAgent) {
			t.Fatalf("err = %v, want ErrUnknownAgent", err)
		}
	})

	t.Run("agent offline: held calls go back to the head, never lost", func(t *testing.T) {
		s := fresh(t)
		if err := s.Online(ctx, basic, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.Enqueue(ctx, entry("first", "phone_tech", 0, 0)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Claim(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Enqueue(ctx, entry("later", "phone_tech", 0, time.Minute)); err != nil {
			t.Fatal(err)
		}
		held, err := s.Offline(ctx, "a1")
		if err != nil || !slices.Equal(held, []string{"first"}) {
			t.Fatalf("Offline = %v, %v", held, err)
		}
		w, err := s.Waiting(ctx, "phone_tech")
		if err != nil {
			t.Fatal(err)
		}
		if len(w) != 2 || w[0].CallID != "first" || w[0].Owner != "" {
			t.Fatalf("waiting after disconnect = %+v, want first at the head", w)
		}
		ps, _ := s.Agents(ctx)
		if len(ps) != 0 {
			t.Fatalf("agents after offline = %+v", ps)
		}
	})

	t.Run("decline: requeued, not offered to the same agent", func(t *testing.T) {
		s := fresh(t)
		if err := s.Online(ctx, basic, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.Enqueue(ctx, entry("c", "phone_tech", 0, 0)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Claim(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Requeue(ctx, "c", "a1"); err != nil {
			t.Fatal(err)
		}
		e, err := s.Get(ctx, "c")
		if err != nil || e.Owner != "" || !slices.Equal(e.Declined, []string{"a1"}) {
			t.Fatalf("Get = %+v, %v", e, err)
		}
		if _, err := s.Claim(ctx, "a1"); !errors.Is(err, queue.ErrEmpty) {
			t.Fatalf("claim after decline err = %v, want ErrEmpty", err)
		}
		if err := s.Done(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "c"); !errors.Is(err, queue.ErrUnknownCall) {
			t.Fatalf("Get after Done err = %v", err)
		}
	})

	t.Run("presence: longest idle first, busy last", func(t *testing.T) {
		s := fresh(t)
		for i, id := range []string{"x", "y", "z"} {
			a := basic
			a.ID = id
			if err := s.Online(ctx, a, t0.Add(time.Duration(3-i)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Enqueue(ctx, entry("c", "phone_tech", 0, 0)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClaimCall(ctx, "z", "c"); err != nil {
			t.Fatal(err)
		}
		ps, err := s.Agents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.Agent.ID)
		}
		if !slices.Equal(got, []string{"y", "x", "z"}) || !ps[2].IdleSince.IsZero() || !slices.Equal(ps[2].Calls, []string{"c"}) {
			t.Fatalf("agents = %+v", ps)
		}
	})

	t.Run("concurrent claims never hand one call to two agents", func(t *testing.T) {
		s := fresh(t)
		const calls, agents = 300, 16
		for i := range calls {
			if err := s.Enqueue(ctx, entry(fmt.Sprintf("c%03d", i), "phone_tech", i%3*10, time.Duration(i)*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range agents {
			a := basic
			a.ID = fmt.Sprintf("agent%02d", i)
			if err := s.Online(ctx, a, t0); err != nil {
				t.Fatal(err)
			}
		}
		var (
			mu   sync.Mutex
			got  = map[string]string{}
			dups []string
			wg   sync.WaitGroup
			errs = make(chan error, agents)
		)
		for i := range agents {
			wg.Add(1)
			go func(id string, byID bool) {
				defer wg.Done()
				for n := 0; ; n++ {
					var e queue.Entry
					var err error
					if byID {
						// Half the agents race for named calls, as the
						// desk's "take" button does.
						e, err = s.ClaimCall(ctx, id, fmt.Sprintf("c%03d", n%calls))
						if errors.Is(err, queue.ErrTaken) {
							if n > 2*calls {
								return
							}
							continue
						}
					} else {
						e, err = s.Claim(ctx, id)
					}
					if errors.Is(err, queue.ErrEmpty) {
						return
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					if prev, ok := got[e.CallID]; ok {
						dups = append(dups, e.CallID+" to "+prev+" and "+id)
					}
					got[e.CallID] = id
					mu.Unlock()
				}
			}(fmt.Sprintf("agent%02d", i), i%2 == 1)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(dups) > 0 {
			t.Fatalf("calls given to two agents: %v", dups)
		}
		if len(got) != calls {
			t.Fatalf("%d calls claimed, want %d", len(got), calls)
		}
		if w, _ := s.Waiting(ctx); len(w) != 0 {
			t.Fatalf("%d calls still waiting", len(w))
		}
	})

	t.Run("every group's waiting calls follow each move; idle agents", func(t *testing.T) {
		s := fresh(t)
		ids := func(es []queue.Entry) []string {
			var out []string
			for _, e := range es {
				out = append(out, e.CallID)
			}
			return out
		}
		check := func(step string, want ...string) {
			t.Helper()
			all, err := s.Waiting(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(all), want) {
				t.Fatalf("%s: waiting %v, want %v", step, ids(all), want)
			}
			// The floor's list is the groups' lists merged.
			var byGroup []queue.Entry
			for _, g := range []string{"phone_tech", "orders", "callback:orders"} {
				es, err := s.Waiting(ctx, g)
				if err != nil {
					t.Fatal(err)
				}
				byGroup = append(byGroup, es...)
			}
			slices.SortStableFunc(byGroup, func(a, b queue.Entry) int {
				if a.Score() < b.Score() {
					return -1
				}
				if a.Score() > b.Score() {
					return 1
				}
				return 0
			})
			if !slices.Equal(ids(byGroup), want) {
				t.Fatalf("%s: groups' lists %v, floor's %v", step, ids(byGroup), want)
			}
		}
		check("empty")
		for _, e := range []queue.Entry{entry("p1", "phone_tech", 0, 1*time.Second), entry("o1", "orders", 0, 2*time.Second),
			entry("p2", "phone_tech", 10, 3*time.Second)} {
			if err := s.Enqueue(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		check("enqueued", "p2", "p1", "o1")
		a2 := basic
		a2.ID = "a2"
		if err := s.Online(ctx, basic, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.Online(ctx, a2, t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		idle, err := s.IdleAgents(ctx)
		if err != nil || len(idle) != 2 || idle[0].Agent.ID != "a1" || idle[1].Agent.ID != "a2" || idle[0].IdleSince.IsZero() {
			t.Fatalf("idle agents %+v %v, want a1 then a2", idle, err)
		}
		if _, err := s.ClaimCall(ctx, "a1", "p1"); err != nil {
			t.Fatal(err)
		}
		check("claimed", "p2", "o1")
		if idle, _ := s.IdleAgents(ctx); len(idle) != 1 || idle[0].Agent.ID != "a2" {
			t.Fatalf("idle agents after a claim %+v, want a2", idle)
		}
		if err := s.Requeue(ctx, "p1", "a1"); err != nil {
			t.Fatal(err)
		}
		check("requeued", "p2", "p1", "o1")
		if _, err := s.Claim(ctx, "a2"); err != nil {
			t.Fatal(err)
		}
		check("claimed by the best", "p1", "o1")
		if _, err := s.Offline(ctx, "a2"); err != nil {
			t.Fatal(err)
		}
		check("agent gone", "p2", "p1", "o1")
		// A call moved to another group (a call-back list) leaves the first.
		o1, _ := s.Get(ctx, "o1")
		if err := s.Done(ctx, "o1"); err != nil {
			t.Fatal(err)
		}
		check("done", "p2", "p1")
		o1.Group = "callback:orders"
		if err := s.Enqueue(ctx, o1); err != nil {
			t.Fatal(err)
		}
		check("moved to the call-back list", "p2", "p1", "o1")
		if err := s.Enqueue(ctx, entry("p1", "orders", 0, 1*time.Second)); err != nil {
			t.Fatal(err)
		}
		check("re-enqueued in another group", "p2", "p1", "o1")
		if w, _ := s.Waiting(ctx, "phone_tech"); !slices.Equal(ids(w), []string{"p2"}) {
			t.Fatalf("phone_tech after the move: %v", ids(w))
		}
	})

	t.Run("offers: held and not answered; seen and unseen", func(t *testing.T) {
		s := fresh(t)
		offerIDs := func() []string {
			t.Helper()
			es, err := s.Offers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range es {
				out = append(out, e.CallID+"@"+e.Owner)
			}
			return out
		}
		for i, id := range []string{"c1", "c2", "c3"} {
			if err := s.Enqueue(ctx, entry(id, "phone_tech", 0, time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		a2 := basic
		a2.ID = "a2"
		for _, a := range []queue.Agent{basic, a2} {
			if err := s.Online(ctx, a, t0); err != nil {
				t.Fatal(err)
			}
		}
		if got := offerIDs(); len(got) != 0 {
			t.Fatalf("offers before any claim: %v", got)
		}
		if _, err := s.ClaimCall(ctx, "a1", "c1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Claim(ctx, "a2"); err != nil { // c2
			t.Fatal(err)
		}
		if got := offerIDs(); !slices.Equal(got, []string{"c1@a1", "c2@a2"}) {
			t.Fatalf("offers %v", got)
		}
		if err := s.Answer(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		if got := offerIDs(); !slices.Equal(got, []string{"c2@a2"}) {
			t.Fatalf("offers after an answer %v", got)
		}
		if err := s.Answer(ctx, "nope"); !errors.Is(err, queue.ErrUnknownCall) {
			t.Fatalf("answer of an unknown call: %v", err)
		}
		// Requeued, taken again: it rings anew; closed or its agent gone:
		// no longer.
		if err := s.Requeue(ctx, "c1", ""); err != nil {
			t.Fatal(err)
		}
		if err := s.Idle(ctx, "a1", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClaimCall(ctx, "a1", "c1"); err != nil {
			t.Fatal(err)
		}
		if got := offerIDs(); !slices.Equal(got, []string{"c1@a1", "c2@a2"}) {
			t.Fatalf("offers after a requeue and a claim %v", got)
		}
		if err := s.Done(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Offline(ctx, "a2"); err != nil {
			t.Fatal(err)
		}
		if got := offerIDs(); len(got) != 0 {
			t.Fatalf("offers after close and offline %v", got)
		}

		// Seen: the last time wins; unseen lists online agents only.
		if at, err := s.LastSeen(ctx, "a1"); err != nil || !at.IsZero() {
			t.Fatalf("never seen: %v %v", at, err)
		}
		at := t0.Add(90 * time.Second).Add(123 * time.Microsecond)
		for _, id := range []string{"a1", "a2", "a3"} {
			if err := s.Seen(ctx, id, t0); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Seen(ctx, "a1", at); err != nil {
			t.Fatal(err)
		}
		if got, err := s.LastSeen(ctx, "a1"); err != nil || !got.Equal(at) {
			t.Fatalf("last seen %v (%v), want %v", got, err, at)
		}
		if err := s.Online(ctx, a2, t0); err != nil {
			t.Fatal(err)
		}
		un, err := s.Unseen(ctx, t0.Add(time.Minute))
		if err != nil || !slices.Equal(un, []string{"a2"}) {
			t.Fatalf("unseen %v (%v), want a2 (a1 seen since, a3 not online)", un, err)
		}
		if un, _ := s.Unseen(ctx, t0); len(un) != 0 {
			t.Fatalf("unseen before t0: %v", un)
		}
		if err := s.Seen(ctx, "", t0); !errors.Is(err, queue.ErrInvalid) {
			t.Fatalf("seen without an agent: %v", err)
		}
	})
}
