package handoff_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
)

// TestDeskDeltasMatchTheView: several desks follow the floor by deltas
// only, while calls arrive, are offered, accepted, declined, closed and
// abandoned and agents come and go. After each step every desk's state,
// built from its deltas, becomes what a fresh read of its view gives
// (waited for with a deadline: the deltas travel through the store's
// publish/subscribe).
func TestDeskDeltasMatchTheView(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, fakeKB{})
	_, tx := router(t)
	agents := []string{"li.na", "chan.kaman", "wang.jian", "sam.taylor"}
	intents := []string{"device_power_boot", "order_status", "account_login", "warranty_return_refund", "smart_home_setup"}
	type desk struct {
		id   string
		ds   *handoff.DeskState
		feed *handoff.Feed
	}
	var desks []*desk
	for _, a := range agents[:3] {
		f, stop := e.Updates()
		t.Cleanup(stop)
		if err := e.Online(ctx, a); err != nil {
			t.Fatal(err)
		}
		_, ds, err := e.OpenDesk(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		desks = append(desks, &desk{id: a, ds: ds, feed: f})
	}
	r := rand.New(rand.NewPCG(1, 2))
	n := 0
	for step := range 200 {
		var what string
		switch k := r.IntN(8); {
		case k < 3:
			n++
			req := bootRequest(t, fmt.Sprint("call-", n))
			req.Intent.Intent = call.Intent(intents[r.IntN(len(intents))])
			if _, ok := tx.Lookup(string(req.Intent.Intent)); !ok {
				req.Intent.Intent = "device_power_boot"
			}
			what = "handoff " + req.CallID
			if _, err := e.Handoff(ctx, req); err != nil {
				t.Fatal(err)
			}
		default:
			a := agents[r.IntN(len(agents))]
			v, err := e.View(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case k == 3 && len(v.Mine) > 0 && v.Mine[0].State == handoff.StateOffered:
				what = "accept"
				err = e.Accept(ctx, a, v.Mine[0].CallID)
			case k == 4 && len(v.Mine) > 0 && v.Mine[0].State == handoff.StateOffered:
				what = "decline"
				err = e.Decline(ctx, a, v.Mine[0].CallID)
			case k == 5 && len(v.Mine) > 0 && v.Mine[0].State == handoff.StateAccepted:
				what = "outcome"
				_, err = e.RecordOutcome(ctx, a, v.Mine[0].CallID, handoff.Outcome{Resolved: true, Resolution: "fixed"})
			case k == 6 && len(v.Waiting) > 0 && !strings.HasPrefix(v.Waiting[0].CallID, "pending"):
				what = "caller left"
				err = e.CallerLeft(ctx, v.Waiting[0].CallID, "hung up")
			case k == 7 && a != "li.na":
				what = "offline/online " + a
				if err = e.Offline(ctx, a); err == nil && r.IntN(2) == 0 {
					err = e.Online(ctx, a)
				}
			default:
				continue
			}
			if err != nil {
				t.Fatalf("step %d %s: %v", step, what, err)
			}
		}
		t.Log(what)
		for _, d := range desks {
			_, fresh, err := e.OpenDesk(ctx, d.id)
			if err != nil {
				t.Fatal(err)
			}
			want := handoff.DeskShown(fresh)
			deadline := time.Now().Add(5 * time.Second)
			for {
				ups, resync := d.feed.Take()
				if resync {
					if _, err := e.ResyncDesk(ctx, d.ds); err != nil {
						t.Fatal(err)
					}
				}
				for _, u := range ups {
					e.ApplyDesk(ctx, d.ds, u)
				}
				got := handoff.DeskShown(d.ds)
				if slices.Equal(got, want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("step %d (%s): desk %s from deltas:\n%s\nfresh view:\n%s", step, what, d.id,
						strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				select {
				case <-d.feed.C():
				case <-time.After(time.Until(deadline)):
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d calls entered", n)
	}
}
