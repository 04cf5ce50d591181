package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/verify/accounts"
)

// noon is a weekday noon in Shanghai, outside every demo rule.
var noon = time.Date(2026, 3, 2, 12, 0, 0, 0, time.FixedZone("CST", 8*3600))

func router(t testing.TB) (*handoff.Router, *taxonomy.Taxonomy) {
	t.Helper()
	tx, err := taxonomy.Load()
	if err != nil {
		t.Fatal(err)
	}
	r, err := handoff.DefaultRouter(tx)
	if err != nil {
		t.Fatal(err)
	}
	return r, tx
}

func demoAccount(t testing.TB, id string) *accounts.Account {
	t.Helper()
	as, err := accounts.DemoAccounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if a.ID == id {
			return &a
		}
	}
	t.Fatalf("no demo account %s", id)
	return nil
}

func TestRoute(t *testing.T) {
	r, _ := router(t)
	elderly := demoAccount(t, "A10003")
	student := demoAccount(t, "A10005")
	verified := call.VerificationOutcome{Status: call.StatusVerified, Level: call.AssuranceOne}
	cases := []struct {
		name string
		req  handoff.Request
		want handoff.Decision // fields compared: Group, MinLevel, Language, Line, Priority
		rule string
	}{
		{"plain phone problem", handoff.Request{Intent: call.IntentResult{Intent: "device_power_boot"}, Language: call.LanguageResult{Language: call.LangMandarin}, At: noon},
			handoff.Decision{Group: "phone_tech", MinLevel: 1, Language: "cmn", Priority: 0}, ""},
		{"english caller", handoff.Request{Intent: call.IntentResult{Intent: "order_status"}, Language: call.LanguageResult{Language: call.LangEnglish}, At: noon},
			handoff.Decision{Group: "orders", MinLevel: 1, Language: "en", Priority: 0}, ""},
		{"cantonese: dialect line", handoff.Request{Intent: call.IntentResult{Intent: "hardware_fault"}, Language: call.LanguageResult{Language: call.LangCantonese}, At: noon},
			handoff.Decision{Group: "phone_tech", MinLevel: 1, Language: "yue", Line: "dialect", Priority: 0}, ""},
		{"elderly caller: dialect line", handoff.Request{Intent: call.IntentResult{Intent: "hardware_fault"}, Language: call.LanguageResult{Language: call.LangMandarin}, Account: elderly, Verification: verified, At: noon},
			handoff.Decision{Group: "phone_tech", MinLevel: 1, Language: "cmn", Line: "dialect", Priority: 0}, ""},
		{"unlock needs level 3", handoff.Request{Intent: call.IntentResult{Intent: "account_device_unlock"}, Language: call.LanguageResult{Language: call.LangMandarin}, At: noon},
			handoff.Decision{Group: "account", MinLevel: 3, Language: "cmn", Priority: 0}, ""},
		{"high urgency", handoff.Request{Intent: call.IntentResult{Intent: "device_power_boot"}, Urgency: call.Urgency{Level: call.UrgencyHigh}, Language: call.LanguageResult{Language: call.LangMandarin}, At: noon},
			handoff.Decision{Group: "phone_tech", MinLevel: 3, Language: "cmn", Priority: 20}, ""},
		{"emergency first", handoff.Request{Intent: call.IntentResult{Intent: "safety_emergency"}, Urgency: call.Urgency{Level: call.UrgencyEmergency}, Verification: call.VerificationOutcome{Emergency: true}, Language: call.LanguageResult{Language: call.LangMandarin}, At: noon},
			handoff.Decision{Group: "security", MinLevel: 4, Language: "cmn", Priority: 500}, ""},
		{"disaster region raised", handoff.Request{Caller: "+8675512345678", Intent: call.IntentResult{Intent: "device_power_boot"}, Language: call.LanguageResult{Language: call.LangMandarin}, At: time.Date(2026, 9, 3, 12, 0, 0, 0, time.UTC)},
			handoff.Decision{Group: "phone_tech", MinLevel: 1, Language: "cmn", Priority: 100}, "typhoon-guangdong"},
		{"disaster over", handoff.Request{Caller: "+8675512345678", Intent: call.IntentResult{Intent: "device_power_boot"}, Language: call.LanguageResult{Language: call.LangMandarin}, At: time.Date(2026, 9, 20, 12, 0, 0, 0, time.UTC)},
			handoff.Decision{Group: "phone_tech", MinLevel: 1, Language: "cmn", Priority: 0}, ""},
		{"student in exam season", handoff.Request{Intent: call.IntentResult{Intent: "network_sim"}, Account: student, Verification: verified, Language: call.LanguageResult{Language: call.LangMandarin}, At: time.Date(2026, 6, 5, 12, 0, 0, 0, time.UTC)},
			handoff.Decision{Group: "phone_tech", MinLevel: 1, Language: "cmn", Priority: 30}, "exam-season-students"},
		{"night experts", handoff.Request{Intent: call.IntentResult{Intent: "device_power_boot"}, Urgency: call.Urgency{Level: call.UrgencyHigh}, Language: call.LanguageResult{Language: call.LangMandarin}, At: time.Date(2026, 3, 2, 23, 30, 0, 0, time.FixedZone("CST", 8*3600))},
			handoff.Decision{Group: "night_experts", MinLevel: 4, Language: "cmn", Priority: 20}, "night-experts"},
		{"asks for a human, nothing understood", handoff.Request{Intent: call.IntentResult{Intent: call.IntentOutOfScope}, WantsHuman: true, At: noon},
			handoff.Decision{Group: "general", MinLevel: 1, Language: "cmn", Priority: 0}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := r.Route(c.req)
			got := handoff.Decision{Group: d.Group, MinLevel: d.MinLevel, Language: d.Language, Line: d.Line, Priority: d.Priority}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("Route = %+v\nwant    %+v\nreasons %v", got, c.want, d.Reasons)
			}
			if c.rule != "" && !slices.Contains(d.Rules, c.rule) {
				t.Fatalf("rules %v, want %s", d.Rules, c.rule)
			}
		})
	}
}

func TestParseRoutingErrors(t *testing.T) {
	_, tx := router(t)
	cases := map[string]string{
		"unknown key":    "timezone: UTC\nbogus: 1\n",
		"unknown intent": "timezone: UTC\ngroups: [{id: g, intents: [nope, out_of_scope]}]\nlevels: {default: 1}\npriority: {emergency: 500}\n",
		"bad level":      "timezone: UTC\ngroups: [{id: g, intents: [out_of_scope]}]\nlevels: {default: 9}\npriority: {emergency: 500}\n",
		"bad hours":      "timezone: UTC\ngroups: [{id: g, intents: [out_of_scope]}]\nlevels: {default: 1}\npriority: {emergency: 500}\nrules: [{name: r, hours: '25:00-01:00'}]\n",
		"bad time zone":  "timezone: Mars/Base\n",
		"skill no group": "timezone: UTC\ngroups: [{id: g, intents: [out_of_scope]}]\nlevels: {default: 1}\npriority: {emergency: 500}\n",
	}
	for name, y := range cases {
		t.Run(name, func(t *testing.T) {
			known := tx
			if name == "bad level" || name == "bad hours" {
				known = nil
			}
			if _, err := handoff.ParseRouting("r.yaml", []byte(y), known); !errors.Is(err, handoff.ErrConfig) || !strings.Contains(err.Error(), "r.yaml") {
				t.Fatalf("err = %v, want ErrConfig naming the file", err)
			}
		})
	}
}

type fakeKB struct{ err error }

func (f fakeKB) Suggest(ctx context.Context, q string, fl handoff.KBFilter, k int) ([]handoff.KBSuggestion, error) {
	if f.err != nil {
		return nil, f.err
	}
	return []handoff.KBSuggestion{{ArticleID: "kb-boot-01", Title: "Phone will not turn on", Score: 0.9, Why: "intent " + fl.Intent}}, nil
}

func newEngine(t testing.TB, kb handoff.KB) *handoff.Engine {
	t.Helper()
	r, tx := router(t)
	ro, err := handoff.DemoRoster(r.Groups())
	if err != nil {
		t.Fatal(err)
	}
	e, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: queue.NewMemory(), Store: memory.New(), Taxonomy: tx, KB: kb})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func bootRequest(t testing.TB, id string) handoff.Request {
	return handoff.Request{
		CallID: id, Caller: "+8613812345678", At: noon,
		Transcript:   call.Transcript{CallID: id, Segments: []call.Segment{{Text: "my Phone 14 Pro will not turn on since this morning", End: 3 * time.Second, Final: true}}},
		Intent:       call.IntentResult{Intent: "device_power_boot", Confidence: 0.91, Alternatives: []call.IntentScore{{Intent: "device_power_boot", Confidence: 0.91}, {Intent: "hardware_fault", Confidence: 0.05}}},
		Slots:        []call.Slot{{Kind: call.SlotDeviceModel, Value: "Phone 14 Pro", Text: "Phone 14 Pro", Valid: true}},
		Language:     call.LanguageResult{Language: call.LangEnglish, Confidence: 0.99},
		Verification: call.VerificationOutcome{Status: call.StatusVerified, Level: call.AssuranceOne, Identity: call.Identity{AccountID: "A10001", Name: "王小明"}, Passed: []call.Method{call.MethodANIMatch, call.MethodIMEI}},
		Account:      demoAccount(t, "A10001"),
	}
}

func TestBriefAndDeskFlow(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, fakeKB{})
	if err := e.Online(ctx, "sam.taylor"); err != nil {
		t.Fatal(err)
	}
	b, err := e.Handoff(ctx, bootRequest(t, "call-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Caller.Verified || len(b.Caller.Devices) != 2 || b.Ticket == nil || b.Ticket.Type != "repair" ||
		b.Ticket.Fields["imei"] != "867693067951602" || len(b.KB) != 1 || b.Summary.Engine != "template" {
		t.Fatalf("brief = %+v", b)
	}
	if err := handoff.Grounded(b.Summary.Text, b.Transcript.Text(), "device_power_boot", "Phone 14 Pro", fmt.Sprintf("%.0f", b.Intent.Confidence*100)); err != nil {
		t.Fatalf("template summary not grounded: %v: %q", err, b.Summary.Text)
	}
	v, err := e.View(ctx, "sam.taylor")
	if err != nil || len(v.Mine) != 1 || v.Mine[0].State != handoff.StateOffered {
		t.Fatalf("view = %+v, %v (want the call offered to the only idle agent)", v, err)
	}
	if err := e.Accept(ctx, "li.na", "call-1"); !errors.Is(err, handoff.ErrConflict) {
		t.Fatalf("accept by another agent: %v, want ErrConflict", err)
	}
	if err := e.Accept(ctx, "sam.taylor", "call-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.Feedback(ctx, "sam.taylor", "call-1", "kb-boot-01", true); err != nil {
		t.Fatal(err)
	}
	if err := e.Feedback(ctx, "sam.taylor", "call-1", "kb-other", true); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("feedback on an article not suggested: %v", err)
	}
	d, err := e.RecordOutcome(ctx, "sam.taylor", "call-1", handoff.Outcome{Resolved: true, Resolution: "forced restart: hold power and volume down 15 s", DraftArticle: true})
	if err != nil || d == nil || d.Status != "awaiting_review" {
		t.Fatalf("outcome: %+v, %v", d, err)
	}
	ds, _ := e.Drafts(ctx, 10)
	fb, _ := e.FeedbackLog(ctx, 10)
	if len(ds) != 1 || len(fb) != 1 || fb[0]["helpful"] != "true" {
		t.Fatalf("drafts %v feedback %v", ds, fb)
	}
}

func TestUnverifiedBriefWithholdsAccount(t *testing.T) {
	e := newEngine(t, fakeKB{err: errors.New("index down")})
	req := bootRequest(t, "call-2")
	req.Verification = call.VerificationOutcome{Status: call.StatusFailed, Identity: call.Identity{AccountID: "A10001", Name: "王小明", CallerMasked: "138****5678"}}
	b, err := e.Handoff(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if b.Caller.Verified || len(b.Caller.Devices) != 0 || b.Caller.Identity.Name != "" || b.Caller.Withheld == "" {
		t.Fatalf("unverified profile leaks: %+v", b.Caller)
	}
	if _, ok := b.Ticket.Fields["imei"]; ok {
		t.Fatalf("ticket filled from an unverified account: %+v", b.Ticket)
	}
	if b.KBError == "" || b.KB != nil {
		t.Fatalf("KB failure not reported: %+v", b)
	}
}

func TestDeclineAndDisconnect(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, nil)
	for _, a := range []string{"sam.taylor", "li.na"} {
		if err := e.Online(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Handoff(ctx, bootRequest(t, "call-3")); err != nil {
		t.Fatal(err)
	}
	holder := func() string {
		for _, a := range []string{"sam.taylor", "li.na"} {
			v, _ := e.View(ctx, a)
			if len(v.Mine) == 1 {
				return a
			}
		}
		return ""
	}
	first := holder()
	if first != "sam.taylor" { // online first, so idle longest
		t.Fatalf("offered to %q, want the longest-idle agent sam.taylor", first)
	}
	if err := e.Decline(ctx, first, "call-3"); err != nil {
		t.Fatal(err)
	}
	if h := holder(); h != "li.na" {
		t.Fatalf("after decline offered to %q, want li.na", h)
	}
	if err := e.Offline(ctx, "li.na"); err != nil {
		t.Fatal(err)
	}
	v, _ := e.View(ctx, "sam.taylor")
	if len(v.Waiting) != 1 || v.Waiting[0].CallID != "call-3" || v.Waiting[0].Eligible {
		t.Fatalf("after disconnect: %+v (want the call waiting, not offered again to the agent who declined)", v)
	}
}

func TestGrounded(t *testing.T) {
	src := []string{"my order 5201 3148 8088 15 has not arrived", "account A10001 device Phone 14 Pro imei 867693067951602"}
	cases := []struct {
		summary string
		ok      bool
	}{
		{"Order 52013148808815 has not arrived.", true},
		{"Caller's Phone 14 Pro (IMEI 867693067951602) is dead.", true},
		{"Order 52013148808899 is late.", false},
		{"Refund of 300 yuan promised.", false},
		{"Ticket T2409999 opened.", false},
		{"No numbers at all.", true},
	}
	for _, c := range cases {
		if err := handoff.Grounded(c.summary, src...); (err == nil) != c.ok {
			t.Errorf("Grounded(%q) = %v, want ok=%v", c.summary, err, c.ok)
		}
	}
}

// TestCallerLeft: a caller gone before any agent talked to them is shown
// as abandoned on the brief, which keeps the rest; the call stays queued.
func TestCallerLeft(t *testing.T) {
	eng := newEngine(t, nil)
	ctx := context.Background()
	if _, err := eng.Handoff(ctx, bootRequest(t, "c1")); err != nil {
		t.Fatal(err)
	}
	if err := eng.CallerLeft(ctx, "c1", "the caller hung up while waiting for an agent"); err != nil {
		t.Fatal(err)
	}
	b, err := eng.Brief(ctx, "c1")
	if err != nil || !strings.HasPrefix(b.Reason, "abandoned: the caller hung up") || b.Intent.Intent == "" {
		t.Fatalf("brief %+v %v", b, err)
	}
	if err := eng.CallerLeft(ctx, "nope", "x"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("unknown call: %v", err)
	}
}

// TestQueuePosition: waiting calls are numbered in their group's order
// (1 is next); a call offered to an agent is at 0.
func TestQueuePosition(t *testing.T) {
	eng := newEngine(t, nil)
	ctx := context.Background()
	for _, id := range []string{"c1", "c2", "c3"} {
		if _, err := eng.Handoff(ctx, bootRequest(t, id)); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range []string{"c1", "c2", "c3"} {
		if pos, err := eng.QueuePosition(ctx, id); err != nil || pos != i+1 {
			t.Fatalf("%s at %d (%v), want %d", id, pos, err, i+1)
		}
	}
	if err := eng.Online(ctx, "li.na"); err != nil { // offered the first
		t.Fatal(err)
	}
	if pos, _ := eng.QueuePosition(ctx, "c1"); pos != 0 {
		t.Fatalf("offered call at %d, want 0", pos)
	}
	if pos, _ := eng.QueuePosition(ctx, "c3"); pos != 2 {
		t.Fatalf("c3 at %d once c1 is offered, want 2", pos)
	}
	if _, err := eng.QueuePosition(ctx, "nope"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("unknown call: %v", err)
	}
}

// TestOfflineUnlessSeen: a desk connection closing takes its agent
// offline only if no desk of theirs has been seen since (one reconnected,
// or another still open refreshed its presence).
func TestOfflineUnlessSeen(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, nil)
	if err := e.Online(ctx, "li.na"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Handoff(ctx, bootRequest(t, "call-9")); err != nil {
		t.Fatal(err)
	}
	if err := e.Accept(ctx, "li.na", "call-9"); err != nil {
		t.Fatal(err)
	}
	closed := time.Now().Add(-time.Second)
	if err := e.Seen(ctx, "li.na"); err != nil { // reconnected after the close
		t.Fatal(err)
	}
	if went, err := e.OfflineUnlessSeen(ctx, "li.na", closed); err != nil || went {
		t.Fatalf("seen after the close: went offline %v (%v)", went, err)
	}
	if err := e.CheckAccepted(ctx, "li.na", "call-9"); err != nil {
		t.Fatalf("the agent lost the call: %v", err)
	}
	if went, err := e.OfflineUnlessSeen(ctx, "li.na", time.Now().Add(time.Second)); err != nil || !went {
		t.Fatalf("not seen since: went offline %v (%v)", went, err)
	}
	if err := e.CheckAccepted(ctx, "li.na", "call-9"); err == nil {
		t.Fatal("an agent gone offline still holds the call")
	}
}
