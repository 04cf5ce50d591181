package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	defaults "github.com/callbrief/callbrief/data/policy"
)

func TestDefaultLoads(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if p.Location().String() != "Asia/Shanghai" {
		t.Errorf("timezone %v", p.Location())
	}
	for _, n := range DefaultIntents {
		if _, ok := p.Intents[n]; !ok {
			t.Errorf("default policy lacks intent %s", n)
		}
	}
}

func mustDefault(t *testing.T) *Policy {
	t.Helper()
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// shanghai returns a time at hh:mm local time in Shanghai.
func shanghai(hh, mm int) time.Time {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	return time.Date(2025, 3, 1, hh, mm, 0, 0, loc)
}

func TestIsNight(t *testing.T) {
	p := mustDefault(t)
	tests := []struct {
		at   time.Time
		want bool
	}{
		{shanghai(21, 59), false},
		{shanghai(22, 0), true},
		{shanghai(23, 30), true},
		{shanghai(0, 0), true},
		{shanghai(5, 59), true},
		{shanghai(6, 0), false},
		{shanghai(12, 0), false},
		// 15:00 UTC is 23:00 in Shanghai: the policy's zone decides.
		{time.Date(2025, 3, 1, 15, 0, 0, 0, time.UTC), true},
		{time.Date(2025, 3, 1, 4, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		if got := p.IsNight(tt.at); got != tt.want {
			t.Errorf("IsNight(%s) = %v; want %v", tt.at, got, tt.want)
		}
	}
}

func TestPlan(t *testing.T) {
	p := mustDefault(t)
	day, night := shanghai(10, 0), shanghai(23, 0)
	risky := Signals{NumberNotOnFile: true}
	tests := []struct {
		name      string
		intent    string
		sig       Signals
		at        time.Time
		ani, otp  bool
		knowledge int
		emergency bool
		dropped   int
		applied   string
	}{
		{"order status by day", "order_status", Signals{}, day, true, false, 1, false, 0, "order_status"},
		{"order status at night keeps critical", "order_status", Signals{}, night, true, false, 1, false, 0, "order_status"},
		{"warranty at night keeps its question", "warranty", Signals{}, night, true, false, 1, false, 0, "warranty"},
		{"troubleshooting needs a question", "troubleshooting", Signals{}, day, true, false, 1, false, 0, "troubleshooting"},
		{"unlock by day", "account_unlock", Signals{}, day, true, true, 2, false, 0, "account_unlock"},
		{"unlock at night keeps critical", "account_unlock", Signals{}, night, true, true, 1, false, 1, "account_unlock"},
		{"unlock at night with risk", "account_unlock", risky, night, true, true, 2, false, 1, "account_unlock"},
		{"order status, number not on file", "order_status", risky, day, true, false, 2, false, 0, "order_status"},
		{"withheld general", "general_inquiry", Signals{Withheld: true}, day, true, false, 2, false, 0, "general_inquiry"},
		{"emergency at night", "emergency_safety", risky, night, false, false, 0, true, 0, "emergency_safety"},
		{"unknown intent falls back", "karaoke", Signals{}, day, true, false, 1, false, 0, "general_inquiry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := p.Plan(tt.intent, tt.sig, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			if pl.ANI != tt.ani || pl.OTP != tt.otp || pl.Knowledge != tt.knowledge || pl.Emergency != tt.emergency ||
				len(pl.Dropped) != tt.dropped || pl.Intent != tt.applied || pl.Asked != tt.intent {
				t.Errorf("Plan = %+v", pl)
			}
			if pl.Sensitive && (!pl.OTP || pl.Knowledge == 0) {
				t.Errorf("sensitive intent weakened: %+v", pl)
			}
			if tt.sig.Any() && !tt.emergency && len(pl.Risk) == 0 {
				t.Errorf("risk notes missing: %+v", pl)
			}
		})
	}
}

// TestEveryIntentNeedsAFactor: for every intent, by day and at night, with
// and without risk, the plan of a non-emergency intent asks at least one
// knowledge question or a code (the caller number is never enough), and a
// sensitive one both.
func TestEveryIntentNeedsAFactor(t *testing.T) {
	p := mustDefault(t)
	for _, in := range DefaultIntents {
		for _, at := range []time.Time{shanghai(10, 0), shanghai(23, 0), shanghai(3, 0)} {
			for _, sig := range []Signals{{}, {NumberNotOnFile: true}} {
				pl, err := p.Plan(in, sig, at)
				if err != nil {
					t.Fatal(err)
				}
				if pl.Emergency {
					continue
				}
				if pl.Level < call.AssuranceOne || (pl.Knowledge == 0 && !pl.OTP) {
					t.Errorf("%s at %s: plan %+v verifies on the caller number alone", in, at.Format("15:04"), pl)
				}
				if pl.Sensitive && (pl.Level != call.AssuranceTwo || pl.Knowledge == 0 || !pl.OTP) {
					t.Errorf("%s at %s: sensitive plan %+v below two factors", in, at.Format("15:04"), pl)
				}
			}
		}
	}
}

func TestPlanNoFallback(t *testing.T) {
	p := mustDefault(t)
	p.FallbackIntent = ""
	if _, err := p.Plan("karaoke", Signals{}, shanghai(10, 0)); !errors.Is(err, ErrUnknownIntent) {
		t.Fatalf("want ErrUnknownIntent, got %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	base := string(defaults.Default)
	tests := []struct {
		name, body string
		want       []string
		unknown    bool
	}{
		{"empty", "", []string{"empty file"}, false},
		{"unknown key", base + "colour: blue\n", []string{"colour"}, false},
		{"unknown intent", strings.Replace(base, "  warranty:\n", "  warrantee:\n", 1), []string{"intents.warrantee", "unknown intent", "known: "}, true},
		{"bad timezone", strings.Replace(base, "Asia/Shanghai", "Mars/Olympus", 1), []string{"timezone"}, false},
		{"bad night", strings.Replace(base, `start: "22:00"`, `start: "10pm"`, 1), []string{"night.start", "HH:MM"}, false},
		{"bad check", strings.Replace(base, "{check: ani_match, critical: true}", "{check: voiceprint}", 1), []string{"checks[0].check", "voiceprint"}, false},
		{"sensitive without critical otp", strings.Replace(base, "      - {check: otp, critical: true}\n  device_unlock:", "      - {check: otp, critical: false}\n  device_unlock:", 1), []string{"intents.account_unlock", "critical otp"}, false},
		{"sensitive without knowledge", "intents:\n  data_recovery:\n    sensitive: true\n    checks: [{check: ani_match, critical: true}, {check: otp, critical: true}]\n" + tail(base), []string{"data_recovery", "knowledge"}, false},
		{"emergency with checks", strings.Replace(base, "emergency_safety:\n    emergency: true\n", "emergency_safety:\n    emergency: true\n    checks: [{check: ani_match}]\n", 1), []string{"emergency_safety", "never wait"}, false},
		{"fallback missing", strings.Replace(base, "fallback_intent: general_inquiry", "fallback_intent: order_tracking", 1), []string{"fallback_intent"}, false},
		{"fallback emergency", strings.Replace(base, "fallback_intent: general_inquiry", "fallback_intent: emergency_safety", 1), []string{"fallback_intent", "emergency"}, false},
		{"bad match", strings.Replace(base, "phone_last_digits: 4", "phone_last_digits: 1", 1), []string{"match.phone_last_digits"}, false},
		{"bad knowledge", strings.Replace(base, "knowledge: [imei_last_digits,", "knowledge: [ani_match,", 1), []string{"knowledge[0]"}, false},
		{"bad lockout", strings.Replace(base, "caller:  {failures: 5", "caller:  {failures: 0", 1), []string{"lockout.caller.failures"}, false},
		{"bad duration", strings.Replace(base, "duration: 30m", "duration: soon", 1), []string{"default.yaml"}, false},
		// The caller number alone never verifies, by day or at night.
		{"number alone", strings.Replace(base, "  general_inquiry:\n    checks:\n      - {check: ani_match, critical: true}\n      - {check: knowledge, count: 1, critical: true}\n", "  general_inquiry:\n    checks:\n      - {check: ani_match, critical: true}\n", 1), []string{"intents.general_inquiry", "level 1 needs a critical knowledge check or otp"}, false},
		{"night would drop the only question", strings.Replace(base, "  warranty:\n    checks:\n      - {check: ani_match, critical: true}\n      - {check: knowledge, count: 1, critical: true}\n", "  warranty:\n    checks:\n      - {check: ani_match, critical: true}\n      - {check: knowledge, count: 1, critical: false}\n", 1), []string{"intents.warranty", "level 1"}, false},
		{"level out of range", strings.Replace(base, "  warranty:\n", "  warranty:\n    level: 3\n", 1), []string{"intents.warranty: level", "never verifies"}, false},
		{"sensitive at level 1", strings.Replace(base, "  data_recovery:\n    sensitive: true\n", "  data_recovery:\n    sensitive: true\n    level: 1\n", 1), []string{"intents.data_recovery: level", "level 2"}, false},
		{"count on otp", strings.Replace(base, "{check: otp, critical: true}", "{check: otp, count: 2, critical: true}", 1), []string{"count"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("default.yaml", []byte(tt.body), nil)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
			if errors.Is(err, ErrUnknownIntent) != tt.unknown {
				t.Errorf("ErrUnknownIntent = %v; want %v (%v)", !tt.unknown, tt.unknown, err)
			}
			for _, w := range append(tt.want, "default.yaml") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// tail is the default policy without its intents, for tests that bring
// their own.
func tail(base string) string {
	return base[:strings.Index(base, "intents:")]
}

func TestKnownIntentsList(t *testing.T) {
	// A product with fewer intents refuses a policy naming others.
	_, err := Parse("p.yaml", defaults.Default, []string{"order_status"})
	if !errors.Is(err, ErrUnknownIntent) {
		t.Fatalf("want ErrUnknownIntent, got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(defaults.Default)
	f.Add([]byte("intents:\n  order_status:\n    checks: [{check: ani_match}]\nrisk: {accounts_per_caller: 2, window: 1h}\nlockout: {caller: {failures: 1, window: 1m}, account: {failures: 1, window: 1m}, duration: 1m}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data, nil)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// Whatever was accepted must never let the caller number alone
		// through for a sensitive intent, by day or night, and must never
		// hold up an emergency.
		for name, in := range p.Intents {
			for _, at := range []time.Time{shanghai(12, 0), shanghai(23, 0)} {
				pl, err := p.Plan(name, Signals{}, at)
				if err != nil {
					t.Fatalf("Plan(%s): %v", name, err)
				}
				if in.Sensitive && (pl.Knowledge == 0 || !pl.OTP) {
					t.Fatalf("sensitive %s weakened: %+v", name, pl)
				}
				if in.Emergency && (pl.ANI || pl.OTP || pl.Knowledge > 0) {
					t.Fatalf("emergency %s has checks: %+v", name, pl)
				}
			}
		}
	})
}
