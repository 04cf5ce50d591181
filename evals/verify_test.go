package evals

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/policy"
)

func TestRunVerify(t *testing.T) {
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	accts, err := accounts.DemoAccounts()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunVerify(t.Context(), VerifyConfig{
		Policy: pol, Accounts: accts, Guesses: 10000, Seed: 1,
		NewStore: func(_ string, now func() time.Time) (store.Store, error) {
			return memory.New(memory.WithClock(now)), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.FalseAccepts != 0 || rep.FalseRejects != 0 {
		t.Errorf("false accepts %d, false rejects %d; want 0 and 0", rep.FalseAccepts, rep.FalseRejects)
	}
	by := map[string]VerifyScenario{}
	for _, s := range rep.Scenarios {
		by[s.Name] = s
		if s.Errors != 0 {
			t.Errorf("%s: %d errors", s.Name, s.Errors)
		}
	}
	for _, name := range []string{"brute_force_one_number", "brute_force_many_numbers"} {
		s := by[name]
		if s.Guesses < 10000 || s.Statuses["verified"] != 0 || s.LockoutsTriggered == 0 || s.RefusedLocked == 0 {
			t.Errorf("%s: %+v; want 10,000 guesses, no accept, lockouts", name, s)
		}
		// Escalating locks leave only a sliver of the guesses checked.
		if s.Questions > 200 {
			t.Errorf("%s: %d guesses reached a question; lockouts too weak", name, s.Questions)
		}
	}
	if s := by["emergency_night"]; s.Calls == 0 || s.Questions != 0 || s.FalseRejects != 0 {
		t.Errorf("emergency: %+v", s)
	}
	var md, js bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "| brute_force_one_number |") {
		t.Errorf("markdown: %v\n%s", err, md.String())
	}
	if err := rep.WriteJSON(&js); err != nil || !json.Valid(js.Bytes()) {
		t.Errorf("json: %v", err)
	}
}
