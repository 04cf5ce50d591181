package pipeline

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/verify"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/otp"
	"github.com/callbrief/callbrief/verify/policy"
)

// textTranscriber treats the samples' length as an index into texts: the
// state machine is tested here; real audio is tested in cmd/callbrief.
type textTranscriber struct{ opening string }

func (f textTranscriber) Transcribe(ctx context.Context, s []int16, mode asr.Mode) (call.Transcript, error) {
	if err := ctx.Err(); err != nil {
		return call.Transcript{}, err
	}
	if f.opening == "" {
		return call.Transcript{}, nil
	}
	return call.Transcript{Segments: []call.Segment{{Text: f.opening, End: time.Second, Final: true, Language: call.LangEnglish}}}, nil
}

// keywordUnderstander stands in for nlu/classifier, whose own tests cover
// them.
type keywordUnderstander struct{}

func (keywordUnderstander) Understand(ctx context.Context, text string, tag call.Language) (Understanding, error) {
	u := Understanding{Language: call.LanguageResult{Language: call.LangEnglish, Confidence: 1}, Urgency: call.Urgency{Emotion: call.EmotionNeutral}}
	tax, err := taxonomy.Load()
	if err != nil {
		return u, err
	}
	set := func(in string) {
		u.Intent = call.IntentResult{Intent: call.Intent(in), Confidence: 0.9}
		t, _ := tax.Lookup(in)
		u.Policy = t.Policy // the taxonomy names each intent's verification policy
	}
	switch {
	case strings.Contains(text, "smoke"):
		set("safety_emergency")
		u.Emergency, u.Urgency.Level = true, call.UrgencyEmergency
	case strings.Contains(text, "order"):
		set("order_status")
	case strings.Contains(text, "turn on"):
		set("device_power_boot")
	default:
		set(string(call.IntentOutOfScope))
	}
	return u, nil
}

// countingIngress wraps the offline ingress to count prompts.
type countingIngress struct {
	*OfflineIngress
	prompts []Prompt
}

func (c *countingIngress) Answer(ctx context.Context, p Prompt) (Answer, error) {
	c.prompts = append(c.prompts, p)
	return c.OfflineIngress.Answer(ctx, p)
}

func testCallConfig(t *testing.T, opening string) (CallConfig, *handoff.Engine) {
	t.Helper()
	tx, err := taxonomy.Load()
	if err != nil {
		t.Fatal(err)
	}
	r, err := handoff.DefaultRouter(tx)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := handoff.DemoRoster(r.Groups())
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	eng, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: queue.NewMemory(), Store: st, Taxonomy: tx})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := accounts.Demo()
	if err != nil {
		t.Fatal(err)
	}
	noon := time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC) // 12:00 in Shanghai: day policy
	v, err := verify.New(verify.Config{Policy: pol, Directory: dir, Store: st, Gateway: otp.NewDevGateway(nil, 10), Now: func() time.Time { return noon }})
	if err != nil {
		t.Fatal(err)
	}
	return CallConfig{Transcriber: textTranscriber{opening}, Understander: keywordUnderstander{}, Verifier: v, Handoff: eng,
		AnswerTimeout: 50 * time.Millisecond, Now: func() time.Time { return noon }}, eng
}

func TestRunCall(t *testing.T) {
	const wangs = "+8613812345678" // demo account A10001; first IMEI ends 951602
	cases := []struct {
		name     string
		opening  string
		sc       Scenario
		status   call.VerificationStatus
		prompts  int
		reason   string
		group    string
		wantErr  error
		verified bool
	}{
		// The caller number alone never verifies: troubleshooting asks one
		// question too (it used to verify on the number).
		{name: "troubleshooting: number alone is not enough", opening: "my phone will not turn on",
			sc: Scenario{Caller: wangs}, status: call.StatusUnverified, prompts: 3, group: "phone_tech", reason: "understood"},
		{name: "troubleshooting: one question", opening: "my phone will not turn on",
			sc: Scenario{Caller: wangs, Answers: []ScenarioAnswer{{DTMF: "951602#"}}}, status: call.StatusVerified, prompts: 1, group: "phone_tech", reason: "understood"},
		{name: "order status: IMEI digits keyed", opening: "where is my order",
			sc: Scenario{Caller: wangs, Answers: []ScenarioAnswer{{DTMF: "951602#"}}}, status: call.StatusVerified, prompts: 1, group: "orders"},
		{name: "order status: IMEI digits spoken", opening: "where is my order",
			sc: Scenario{Caller: wangs, Answers: []ScenarioAnswer{{Say: "nine five one six zero two"}}}, status: call.StatusVerified, prompts: 1, group: "orders"},
		{name: "wrong answers fail", opening: "where is my order",
			sc: Scenario{Caller: wangs, Answers: []ScenarioAnswer{{DTMF: "111111"}, {DTMF: "222222"}, {DTMF: "333333"}}}, status: call.StatusFailed, prompts: 3, group: "orders"},
		{name: "silence times out, unverified", opening: "where is my order",
			sc: Scenario{Caller: wangs}, status: call.StatusUnverified, prompts: 3, group: "orders"},
		{name: "asks for a human mid-verification", opening: "where is my order",
			sc: Scenario{Caller: wangs, Answers: []ScenarioAnswer{{Say: "just put me through to a human please"}}}, status: call.StatusUnverified, prompts: 1, reason: "asked for a human", group: "orders"},
		{name: "asks for a human at once", opening: "I want to talk to a real person",
			sc: Scenario{Caller: wangs}, status: call.StatusUnverified, reason: "asked for a human", group: "general"},
		{name: "emergency skips verification", opening: "there is smoke coming from my phone",
			sc: Scenario{Caller: wangs, Answers: []ScenarioAnswer{{DTMF: "951602"}}}, status: call.StatusUnverified, reason: "emergency", group: "security"},
		{name: "no speech: general queue", opening: "", sc: Scenario{Caller: wangs}, status: call.StatusUnverified, prompts: 3, reason: "no speech", group: "general"},
		// A number not on the account is a risk signal: one more question.
		{name: "unknown number identifies by order", opening: "where is my order",
			sc: Scenario{Caller: "+8613000000001", Answers: []ScenarioAnswer{{DTMF: "52013148808815#", Kind: accounts.KindOrder}, {DTMF: "951602"}, {DTMF: "52013148808815"}}}, prompts: 3, status: call.StatusVerified, group: "orders"},
		{name: "hangup", opening: "where is my order", sc: Scenario{Caller: wangs, Answers: []ScenarioAnswer{{Hangup: true}}}, prompts: 1, wantErr: ErrHangup},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			cfg, eng := testCallConfig(t, c.opening)
			sc := c.sc
			in := &countingIngress{OfflineIngress: &OfflineIngress{Scenario: &sc}}
			res, err := RunCall(context.Background(), cfg, "call-"+strings.ReplaceAll(c.name, " ", "-"), in)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || res.Transitions[len(res.Transitions)-1].State != StateFailed {
					t.Fatalf("err = %v, transitions %v; want %v", err, res.Transitions, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := res.Brief
			if b.Verification.Status != c.status || len(in.prompts) != c.prompts || b.Route.Group != c.group {
				t.Fatalf("status %s prompts %d group %s (reason %q, verification %+v); want %s %d %s",
					b.Verification.Status, len(in.prompts), b.Route.Group, b.Reason, b.Verification, c.status, c.prompts, c.group)
			}
			if c.reason != "" && b.Reason != c.reason {
				t.Fatalf("reason %q, want %q", b.Reason, c.reason)
			}
			if got, err := eng.Brief(context.Background(), res.CallID); err != nil || got.CallID != res.CallID {
				t.Fatalf("brief not on the desk: %v", err)
			}
			if last := res.Transitions[len(res.Transitions)-1]; last.State != StateDone {
				t.Fatalf("transitions %v", res.Transitions)
			}
			waitGoroutines(t, before)
		})
	}
}

func TestRunCallCancelled(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg, _ := testCallConfig(t, "where is my order")
	cfg.AnswerTimeout = time.Hour // only cancellation can end the wait
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := RunCall(ctx, cfg, "call-cancel", &OfflineIngress{Scenario: &Scenario{Caller: "+8613812345678", Answers: []ScenarioAnswer{{Silence: true}}}})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("call did not end on cancellation")
	}
	waitGoroutines(t, before)
}

func TestParseScenario(t *testing.T) {
	cases := map[string]bool{
		"caller: '+8613812345678'\nanswers: [{dtmf: '1234#'}, {say: 'one two'}]\n": true,
		"answers: [{dtmf: '1', say: 'x'}]\n":                                       false,
		"answers: [{}]\n":                                                          false,
		"callr: x\n":                                                               false,
	}
	for y, ok := range cases {
		if _, err := ParseScenario("s.yaml", []byte(y)); (err == nil) != ok {
			t.Errorf("ParseScenario(%q) = %v, want ok=%v", y, err, ok)
		}
	}
}

// adaptingIngress records what the pipeline tells it about the caller.
type adaptingIngress struct {
	*OfflineIngress
	got []Adaptation
}

func (a *adaptingIngress) Adapt(ad Adaptation) { a.got = append(a.got, ad) }

// TestAdapt: the prompts follow the caller's language once understood,
// slow down when the caller asks or their account is flagged elderly, and
// say so once.
func TestAdapt(t *testing.T) {
	const chans = "+8613602881234" // demo account A10003, flagged elderly
	for _, c := range []struct {
		name, opening, caller string
		slower                bool
		why                   string
	}{
		{"language only", "where is my order", "+8613812345678", false, "caller's language"},
		{"asked to slow down", "please speak slower, where is my order", "+8613812345678", true, "asked to speak slower"},
		{"elderly account", "where is my order", chans, true, "account flagged elderly"},
		{"asked, and elderly", "could you slow down please, where is my order", chans, true, "asked to speak slower"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, _ := testCallConfig(t, c.opening)
			in := &adaptingIngress{OfflineIngress: &OfflineIngress{Scenario: &Scenario{Caller: c.caller}}}
			if _, err := RunCall(context.Background(), cfg, "call-adapt", in); err != nil {
				t.Fatal(err)
			}
			if len(in.got) == 0 || in.got[0].Language != call.LangEnglish {
				t.Fatalf("adaptations %+v: want the caller's language first", in.got)
			}
			slower, whys := false, ""
			for _, a := range in.got {
				slower = slower || a.Slower
				whys += a.Why + "; "
			}
			if slower != c.slower || !strings.Contains(whys, c.why) {
				t.Fatalf("adaptations %+v: slower %v (%q), want %v (%q)", in.got, slower, whys, c.slower, c.why)
			}
			if n := strings.Count(whys, "elderly"); n > 1 {
				t.Fatalf("told %d times", n)
			}
		})
	}
	for text, want := range map[string]bool{"讲慢啲得唔得": true, "你说慢一点": true, "Too fast!": true, "my phone is slow": false, "快递到哪了": false} {
		if SlowerRequested(text) != want {
			t.Errorf("SlowerRequested(%q) = %v", text, !want)
		}
	}
}

// failingTranscriber is a recognizer whose server timed out.
type failingTranscriber struct{}

func (failingTranscriber) Transcribe(context.Context, []int16, asr.Mode) (call.Transcript, error) {
	return call.Transcript{}, errors.New("speech server: context deadline exceeded")
}

// TestRecognitionFailureHandsOverUnheard: when the opening turn cannot be
// recognised the caller still reaches a human, and the brief says why;
// the call used to end with an error (a 500 for an upload) and no brief.
func TestRecognitionFailureHandsOverUnheard(t *testing.T) {
	cfg, _ := testCallConfig(t, "")
	cfg.Transcriber = failingTranscriber{}
	res, err := RunCall(context.Background(), cfg, "call-unheard", &OfflineIngress{Scenario: &Scenario{Caller: "+8613812345678"}})
	if err != nil {
		t.Fatalf("RunCall: %v", err)
	}
	if res.Brief.Reason != "recognition failed" || res.Brief.Route.Group == "" {
		t.Fatalf("brief reason %q, group %q: want handed over unheard", res.Brief.Reason, res.Brief.Route.Group)
	}
}

// refiningUnderstander gives the keyword answer first (as the sparse model
// does when e5 is late) and second a fixed one (as the hybrid would).
type refiningUnderstander struct {
	keywordUnderstander
	second  string
	refined *int
}

func (r refiningUnderstander) Understand(ctx context.Context, text string, tag call.Language) (Understanding, error) {
	u, err := r.keywordUnderstander.Understand(ctx, text, tag)
	u.Intent.Engine = "embedded"
	return u, err
}

func (r refiningUnderstander) RefineIntent(ctx context.Context, text string, prev Understanding) (Understanding, bool, error) {
	*r.refined++
	tax, err := taxonomy.Load()
	if err != nil {
		return prev, false, err
	}
	in, _ := tax.Lookup(r.second)
	out := prev
	out.Intent = call.IntentResult{Intent: call.Intent(r.second), Confidence: 0.8, Engine: "embedded+e5", Refined: true}
	out.Emergency, out.Policy = in.Emergency, in.Policy
	if in.Emergency {
		out.Urgency.Level = call.UrgencyEmergency
	}
	return out, true, nil
}

func TestSecondIntentAnswerBeforeHandoff(t *testing.T) {
	const wangs = "+8613812345678"
	cases := []struct {
		name, opening, second string
		refines               int
		intent, group, reason string
	}{
		{name: "revised intent routes the call", opening: "where is my order", second: "device_power_boot",
			refines: 1, intent: "device_power_boot", group: "phone_tech"},
		{name: "an emergency found second jumps the queue", opening: "where is my order", second: "safety_emergency",
			refines: 1, intent: "safety_emergency", group: "security", reason: "emergency"},
		{name: "a caller found second to want a person is put through as one", opening: "where is my order", second: "human_agent",
			refines: 1, intent: "human_agent", reason: "asked for a human"},
		{name: "an emergency found first is never asked again", opening: "there is smoke coming from my phone", second: "order_status",
			refines: 0, intent: "safety_emergency", group: "security", reason: "emergency"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, _ := testCallConfig(t, c.opening)
			n := 0
			cfg.Understander = refiningUnderstander{second: c.second, refined: &n}
			sc := Scenario{Caller: wangs, Answers: []ScenarioAnswer{{DTMF: "951602#"}}}
			res, err := RunCall(context.Background(), cfg, "call-refine", &OfflineIngress{Scenario: &sc})
			if err != nil {
				t.Fatal(err)
			}
			b := res.Brief
			if n != c.refines || string(b.Intent.Intent) != c.intent || c.group != "" && b.Route.Group != c.group {
				t.Fatalf("refined %d times, brief intent %s group %s; want %d, %s, %s", n, b.Intent.Intent, b.Route.Group, c.refines, c.intent, c.group)
			}
			if c.reason != "" && b.Reason != c.reason {
				t.Fatalf("reason %q, want %q", b.Reason, c.reason)
			}
			if c.intent == "device_power_boot" && !strings.Contains(b.Verification.Reason, "intent revised to device_power_boot") {
				t.Fatalf("verification reason %q: the agent is not told the intent changed after verification", b.Verification.Reason)
			}
			if c.refines > 0 && (!b.Intent.Refined || !res.Understood.Intent.Refined) {
				t.Fatalf("brief intent %+v: the second answer is not marked", b.Intent)
			}
			if c.reason == "emergency" && b.Route.Priority != 500 {
				t.Fatalf("emergency routed at priority %d, want the emergency priority 500: %+v", b.Route.Priority, b.Route)
			}
		})
	}
}
