package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/verify"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/otp"
	"github.com/callbrief/callbrief/verify/policy"
)

// fixedUnderstander classifies every turn as one intent.
type fixedUnderstander struct {
	intent    string
	emergency bool
}

func (f fixedUnderstander) Understand(ctx context.Context, text string, tag call.Language) (Understanding, error) {
	return Understanding{
		Intent:    call.IntentResult{Intent: call.Intent(f.intent), Confidence: 0.9},
		Language:  call.LanguageResult{Language: call.LangEnglish, Confidence: 1},
		Urgency:   call.Urgency{Emotion: call.EmotionNeutral},
		Emergency: f.emergency,
	}, nil
}

// TestVictimNumberAloneShowsNoProfile: an impostor who presents only the
// victim's number (spoofed) and answers no question gets a brief with no
// devices, orders or service history, no name and no account id, for every
// intent of the taxonomy, by day and at night. The brief says why.
func TestVictimNumberAloneShowsNoProfile(t *testing.T) {
	const victim = "+8613812345678" // demo account A10001
	tx, err := taxonomy.Load()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := accounts.Demo()
	if err != nil {
		t.Fatal(err)
	}
	acct, err := dir.ByID(context.Background(), "A10001")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{acct.ID, acct.Name, acct.NameEn, acct.Devices[0].IMEI, acct.Devices[0].Serial, acct.Orders[0].Number, acct.Service[0].Ticket, acct.Service[0].Summary}
	for _, when := range []struct {
		name string
		at   time.Time
	}{{"day", time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC)}, {"night", time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)}} {
		for _, in := range tx.Intents() {
			t.Run(when.name+"/"+in.ID, func(t *testing.T) {
				cfg, _ := testCallConfig(t, "hello")
				pol, err := policy.Default()
				if err != nil {
					t.Fatal(err)
				}
				now := func() time.Time { return when.at }
				cfg.Verifier, err = verify.New(verify.Config{Policy: pol, Directory: dir, Store: memory.New(), Gateway: otp.NewDevGateway(nil, 10), Now: now})
				if err != nil {
					t.Fatal(err)
				}
				cfg.Now = now
				cfg.Understander = fixedUnderstander{intent: in.ID, emergency: in.Emergency}
				sc := Scenario{Caller: victim}
				res, err := RunCall(context.Background(), cfg, fmt.Sprint("imp-", when.name, "-", in.ID), &OfflineIngress{Scenario: &sc})
				if err != nil {
					t.Fatal(err)
				}
				b := res.Brief
				p := b.Caller
				if b.Verification.Verified() || p.Verified || p.Level != call.AssuranceNone || len(p.Devices)+len(p.Orders)+len(p.Service) != 0 {
					t.Fatalf("victim's number alone: verification %+v, profile %+v", b.Verification, p)
				}
				if !in.Emergency && (p.Withheld == "" || p.Access.Withheld["devices"] == "") {
					t.Errorf("the brief does not say why the account is withheld: %+v", p)
				}
				js, _ := json.Marshal(b)
				for _, s := range secrets {
					if s != "" && strings.Contains(string(js), s) {
						t.Errorf("brief carries %q of the victim's account", s)
					}
				}
			})
		}
	}
}
