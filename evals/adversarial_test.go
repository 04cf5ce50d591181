package evals

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/handoff"
)

var (
	advOnce  sync.Once
	advStack *AdversarialStack
	advErr   error
)

// adversarialStack is built once for the package's tests (training the
// served intent model is most of the cost); each test moves its clock to
// epochs of its own. It lives as long as the test binary.
func adversarialStack(t *testing.T) *AdversarialStack {
	t.Helper()
	advOnce.Do(func() { advStack, advErr = BuildAdversarialStack(context.Background(), config.Default(), nil) })
	if advErr != nil {
		t.Fatal(advErr)
	}
	return advStack
}

// TestAdversarial: every attack, by day and night, through the served
// stack, on intents of each kind (one factor, two factors, an emergency,
// a request for a person): no impostor is accepted and no brief shows them
// anything of the victim's account. The CI gate (verify-adversarial) runs
// every intent.
func TestAdversarial(t *testing.T) {
	st := adversarialStack(t)
	intents := []string{"order_status", "account_device_unlock", "safety_emergency", "human_agent"}
	rep, err := RunAdversarial(t.Context(), AdversarialConfig{Stack: st, Seed: 1, Intents: intents})
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + md.String())
	if rep.FalseAccepts != 0 || rep.LeakedFields != 0 || rep.Errors != 0 {
		t.Errorf("false accepts %d, leaked fields %d, errors %d; want 0", rep.FalseAccepts, rep.LeakedFields, rep.Errors)
	}
	if n := len(intents); rep.Intents != n || len(rep.Cells) != 2*n {
		t.Errorf("%d intents, %d cells; want %d and %d", rep.Intents, len(rep.Cells), n, 2*n)
	}
	if rep.Covered < len(rep.Cells) {
		t.Errorf("only %d of %d cells covered (the opening landed elsewhere)", rep.Covered, len(rep.Cells))
	}
	for _, a := range rep.Attacks {
		if a.Calls == 0 {
			t.Errorf("%s: no call placed", a.Attack)
		}
	}
}

// TestAdversarialCanFail: the same attacks catch a broken defence. Without
// the wrong answers before them, the race's late callers (who have the
// right answers) are accepted, and the brief of a verified caller shows
// the account: so the suite's zeros are not the detector's blindness.
func TestAdversarialCanFail(t *testing.T) {
	st := adversarialStack(t)
	rep, err := RunAdversarial(t.Context(), AdversarialConfig{Stack: st, Seed: 2, Intents: []string{"order_status"}, noRace: true})
	if err != nil {
		t.Fatal(err)
	}
	var race AttackResult
	for _, a := range rep.Attacks {
		if a.Attack == AttackRace {
			race = a
		}
	}
	if race.FalseAccepts == 0 || race.LeakedFields == 0 {
		t.Errorf("race without the lock: %+v; want the late callers accepted and the account shown", race)
	}
	r := &advRun{cfg: AdversarialConfig{Stack: st}, st: st.Stack, clk: st.Clock, cc: st.Stack.CallConfig(st.Engines, nil, false, nil), accts: st.Stack.Data.Accounts}
	r.at(false) // after every epoch of the run above
	v := st.Stack.Data.Accounts[0]
	g := r.genuine(t.Context(), opening{text: "我想查一下我的订单到哪了"}, v)
	if !g.verified {
		t.Fatalf("the account holder was not verified: %+v", g.brief.Verification)
	}
	got := Readable(g.brief, v, nil)
	for _, want := range []string{"name", "account_id", "devices", "imei", "orders", "history"} {
		if !slices.Contains(got, want) {
			t.Errorf("verified brief: readable %v, want %s among them", got, want)
		}
	}
	// A value only in the summary or ticket is found too.
	b := handoff.Brief{Summary: handoff.Summary{Text: "IMEI " + v.Devices[0].IMEI}}
	if got := Readable(b, v, nil); !slices.Equal(got, []string{"imei"}) {
		t.Errorf("IMEI in the summary: readable %v, want [imei]", got)
	}
	if got := Readable(b, v, []string{v.Devices[0].IMEI}); len(got) != 0 {
		t.Errorf("IMEI the caller said: readable %v, want nothing", got)
	}
}
