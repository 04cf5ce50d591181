package verify

import (
	"fmt"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/policy"
)

// TestNumberAloneNeverVerifies: an impostor who presents the victim's
// number (spoofed) and answers nothing is never verified, for any intent,
// by day or at night; the outcome reaches no assurance and carries neither
// the account's name nor its id, only the masked number and that an
// account exists.
func TestNumberAloneNeverVerifies(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			for _, at := range []struct {
				name string
				t    time.Time
			}{{"day", day()}, {"night", night()}} {
				f := newFixture(t, b, at.t)
				a := f.acct[0]
				for _, intent := range policy.DefaultIntents {
					t.Run(at.name+"/"+intent, func(t *testing.T) {
						ctx := t.Context()
						vf, err := f.v.Start(ctx, Request{CallID: at.name + intent, Caller: a.Phones[0], Intent: intent})
						if err != nil {
							t.Fatal(err)
						}
						checkNoIdentity(t, vf.Outcome(), a)
						// The impostor says nothing usable to every question.
						asked := run(t, ctx, vf, func(Challenge) (Source, string) { return Speech, "uh" })
						o := vf.Outcome()
						if o.Verified() || o.Level != call.AssuranceNone {
							t.Fatalf("number alone: %+v after %d questions", o, len(asked))
						}
						checkNoIdentity(t, o, a)
						if !o.Emergency && !o.AccountFound {
							t.Errorf("the outcome should say an account exists: %+v", o)
						}
						if !o.Emergency && len(asked) == 0 {
							t.Errorf("%s: no question asked of a caller known only by number", intent)
						}
					})
				}
			}
		})
	}
}

func checkNoIdentity(t *testing.T, o call.VerificationOutcome, a accounts.Account) {
	t.Helper()
	id := o.Identity
	if id.Name != "" || id.AccountID != "" || id.MaskedPhone != "" || id.Language != "" {
		t.Errorf("unverified outcome carries the account's identity: %+v", id)
	}
	if id.CallerMasked == "" || id.CallerMasked == a.Phones[0] {
		t.Errorf("caller number %q: want it masked", id.CallerMasked)
	}
}

// TestAssuranceLevels: one knowledge factor gives level one and the
// account's identity; a sensitive intent reaches two factors.
func TestAssuranceLevels(t *testing.T) {
	b := backends(t)[0]
	for _, tc := range []struct {
		intent string
		want   call.Assurance
	}{{"troubleshooting", call.AssuranceOne}, {"order_status", call.AssuranceOne}, {"device_unlock", call.AssuranceTwo}} {
		for _, at := range []time.Time{day(), night()} {
			f := newFixture(t, b, at)
			a := f.acct[1]
			ctx := t.Context()
			vf, _ := f.v.Start(ctx, Request{CallID: "l" + tc.intent, Caller: a.Phones[0], Intent: tc.intent})
			run(t, ctx, vf, func(ch Challenge) (Source, string) { return DTMF, f.genuine(t, a, ch) })
			o := vf.Outcome()
			if !o.Verified() || o.Level != tc.want || o.Identity.AccountID != a.ID || o.Identity.Name != a.Name {
				t.Errorf("%s at %s: %+v; want verified at %s with the identity", tc.intent, at.Format("15:04"), o, tc.want)
			}
		}
	}
}

// TestFailedAnswerKeepsNoLevel: a caller who passes the knowledge check
// but fails the code keeps no assurance (and so no profile).
func TestFailedAnswerKeepsNoLevel(t *testing.T) {
	f := newFixture(t, backends(t)[0], day())
	a := f.acct[2]
	ctx := t.Context()
	vf, _ := f.v.Start(ctx, Request{CallID: "fo", Caller: a.Phones[0], Intent: "data_recovery"})
	run(t, ctx, vf, func(ch Challenge) (Source, string) {
		if ch.Method == call.MethodOTP {
			return wrong(ch)
		}
		return DTMF, f.genuine(t, a, ch)
	})
	o := vf.Outcome()
	if o.Status != call.StatusFailed || o.Level != call.AssuranceNone || o.Identity.Name != "" {
		t.Fatalf("failed code: %+v", o)
	}
}

// TestIdentifierGuessesLock: order numbers (or account ids, IMEIs) that
// name no account count as guesses against the caller, across calls, and
// lock like wrong answers; a locked caller cannot look up even a real one.
func TestIdentifierGuessesLock(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			for _, caller := range []string{"+8613900001234", ""} {
				f := newFixture(t, b, day())
				ctx := t.Context()
				lim := f.v.pol.Lockout.Caller.Failures
				guesses, locked := 0, false
				for i := 0; i < 10 && !locked; i++ {
					vf, err := f.v.Start(ctx, Request{CallID: fmt.Sprint("g", i), Caller: caller, Intent: "order_status"})
					if err != nil {
						t.Fatal(err)
					}
					for vf.Next().Kind == StepIdentify {
						r, err := vf.Identify(ctx, accounts.KindOrder, fmt.Sprintf("9%011d", guesses))
						if err != nil {
							t.Fatal(err)
						}
						guesses++
						if r == Ended {
							break
						}
					}
					if o := vf.Outcome(); o.Status == call.StatusLocked {
						locked = true
					} else if guesses >= lim {
						t.Fatalf("caller %q: %d wrong identifiers, status %s; want locked", caller, guesses, o.Status)
					}
				}
				if !locked {
					t.Fatalf("caller %q: never locked after %d guesses", caller, guesses)
				}
				// Even the right order number is refused while locked.
				vf, _ := f.v.Start(ctx, Request{CallID: "hit", Caller: caller, Intent: "order_status"})
				if vf.Next().Kind == StepIdentify {
					vf.Identify(ctx, accounts.KindOrder, f.acct[6].Orders[0].Number)
				}
				if o := vf.Outcome(); o.Status != call.StatusLocked || o.AccountFound || o.Identity.Name != "" {
					t.Fatalf("locked caller %q looked up an order: %+v", caller, o)
				}
			}
		})
	}
}

// TestAnswerRecheckedAgainstLockout: a call that began before its account
// was locked (by calls from other numbers, racing it) cannot pass with an
// answer given after the lock.
func TestAnswerRecheckedAgainstLockout(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b, day())
			ctx := t.Context()
			a := f.acct[4]
			early, _ := f.v.Start(ctx, Request{CallID: "early", Caller: "+8613600000000", Intent: "order_status"})
			if _, err := early.Identify(ctx, accounts.KindAccountID, a.ID); err != nil {
				t.Fatal(err)
			}
			ch := early.Next()
			if ch.Kind != StepChallenge {
				t.Fatalf("early call: %+v", early.Outcome())
			}
			for i := 0; ; i++ {
				vf, _ := f.v.Start(ctx, Request{CallID: fmt.Sprint("race", i), Caller: fmt.Sprintf("+86135%08d", i), Intent: "order_status"})
				if vf.Next().Kind == StepIdentify {
					vf.Identify(ctx, accounts.KindAccountID, a.ID)
				}
				run(t, ctx, vf, wrong)
				if vf.Outcome().Status == call.StatusLocked {
					break
				}
				if i > 20 {
					t.Fatal("account never locked")
				}
			}
			r, err := early.Answer(ctx, DTMF, f.genuine(t, a, ch.Challenge))
			if err != nil {
				t.Fatal(err)
			}
			if o := early.Outcome(); r != Ended || o.Verified() || o.Status != call.StatusLocked {
				t.Fatalf("answer after the lock: %s %+v; want locked", r, o)
			}
		})
	}
}

// TestLockoutSharedByNodes: two verifiers (two nodes) on one Redis with
// the shared secret: a caller locked through node A is locked on node B,
// and still after both are rebuilt (a restart of both nodes).
func TestLockoutSharedByNodes(t *testing.T) {
	srv := redistest.Start(t)
	node := func() *fixture {
		b := backend{"redis", func(t *testing.T, clk *clock) store.Store {
			s, err := redis.New(redis.Config{Addr: srv.Addr, Prefix: "shared:"})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}}
		return newFixture(t, b, day())
	}
	a, b := node(), node()
	ctx := t.Context()
	acct := a.acct[9]
	for i := 0; ; i++ {
		vf, _ := a.v.Start(ctx, Request{CallID: fmt.Sprint("na", i), Caller: acct.Phones[0], Intent: "order_status"})
		run(t, ctx, vf, wrong)
		if vf.Outcome().Status == call.StatusLocked {
			break
		}
		if i > 10 {
			t.Fatal("never locked on node A")
		}
	}
	for name, n := range map[string]*fixture{"node B": b, "node A rebuilt": node(), "node B rebuilt": node()} {
		vf, err := n.v.Start(ctx, Request{CallID: "nb", Caller: acct.Phones[0], Intent: "order_status"})
		if err != nil || vf.Outcome().Status != call.StatusLocked {
			t.Fatalf("%s: %v %+v; want the lock set through node A", name, err, vf.Outcome())
		}
	}
}
