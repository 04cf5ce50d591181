// Package policy decides which checks a caller must pass before handoff,
// from configuration: per intent, by day or night, raised by risk. It only
// decides; the verify package asks the questions and keeps the counts.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
	// The policy's timezone must load on machines without a system zone
	// database (minimal containers); this embeds one as a fallback.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"

	"github.com/callbrief/callbrief/call"
	defaults "github.com/callbrief/callbrief/data/policy"
)

// Errors.
var (
	// ErrInvalid wraps every load and validation failure; the message
	// names the file and field.
	ErrInvalid = errors.New("policy: invalid")
	// ErrUnknownIntent: an intent not in the known list, at load or in Plan
	// when the policy has no fallback.
	ErrUnknownIntent = errors.New("policy: unknown intent")
)

// DefaultIntents are the intents the product knows. The understanding
// stage produces these names; a policy naming another is a typo or a
// policy for another product, and is refused at load.
var DefaultIntents = []string{
	"order_status", "repair_status", "warranty", "troubleshooting", "accessory_purchase",
	"general_inquiry", "account_unlock", "device_unlock", "data_recovery", "data_deletion",
	"emergency_safety", "emergency_data_leak",
}

// Check kinds in the configuration.
const (
	CheckANI       = "ani_match"
	CheckKnowledge = "knowledge"
	CheckOTP       = "otp"
)

// Policy is the validated configuration. It is immutable after Load and
// safe for concurrent use.
type Policy struct {
	Timezone       string            `yaml:"timezone"`
	Night          Night             `yaml:"night"`
	FallbackIntent string            `yaml:"fallback_intent"`
	Match          Match             `yaml:"match"`
	Knowledge      []call.Method     `yaml:"knowledge"`
	Attempts       int               `yaml:"attempts"`
	OTP            OTP               `yaml:"otp"`
	Lockout        Lockout           `yaml:"lockout"`
	Risk           Risk              `yaml:"risk"`
	Intents        map[string]Intent `yaml:"intents"`

	loc        *time.Location
	start, end int // night window in minutes after midnight
}

// Night is the night window, "HH:MM" local time; it may wrap midnight.
type Night struct {
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

// Match says what counts as a correct answer.
type Match struct {
	PhoneLastDigits int `yaml:"phone_last_digits"`
	IMEILastDigits  int `yaml:"imei_last_digits"`
	OrderDigits     int `yaml:"order_digits"` // 0: the whole number
	OTPDigits       int `yaml:"otp_digits"`
}

// OTP configures one-time codes.
type OTP struct {
	TTL      time.Duration `yaml:"ttl"`
	Attempts int           `yaml:"attempts"`
}

// Limit is a failure count within a window.
type Limit struct {
	Failures int           `yaml:"failures"`
	Window   time.Duration `yaml:"window"`
}

// Lockout configures attempt limits.
type Lockout struct {
	Caller        Limit         `yaml:"caller"`
	Account       Limit         `yaml:"account"`
	Duration      time.Duration `yaml:"duration"`
	MaxDuration   time.Duration `yaml:"max_duration"`
	StrikesWindow time.Duration `yaml:"strikes_window"`
}

// Risk configures how risk signals raise the checks.
type Risk struct {
	AccountsPerCaller int           `yaml:"accounts_per_caller"`
	Window            time.Duration `yaml:"window"`
	ExtraKnowledge    int           `yaml:"extra_knowledge"`
	OTPForSensitive   bool          `yaml:"otp_for_sensitive"`
}

// Intent is one intent's requirements.
type Intent struct {
	// Level is the assurance a verified caller must reach (call.Assurance):
	// 1 (one knowledge or possession factor) or 2 (both kinds, for account
	// changes). 0 in the file: 2 for sensitive intents, else 1. There is
	// no level 0: the caller number alone never verifies.
	Level     int     `yaml:"level"`
	Sensitive bool    `yaml:"sensitive"`
	Emergency bool    `yaml:"emergency"`
	Attempts  int     `yaml:"attempts"` // 0: the policy default
	Checks    []Check `yaml:"checks"`
}

// Check is one required step.
type Check struct {
	Check    string `yaml:"check"` // ani_match, knowledge, otp
	Count    int    `yaml:"count"` // knowledge questions; default 1
	Critical bool   `yaml:"critical"`
}

// Default parses the embedded default policy against DefaultIntents.
func Default() (*Policy, error) {
	return Parse(defaults.DefaultName, defaults.Default, DefaultIntents)
}

// LoadFile reads a policy file; known lists the valid intent names (nil
// means DefaultIntents).
func LoadFile(path string, known []string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return Parse(path, data, known)
}

// Parse decodes strictly (unknown keys are errors) and validates.
func Parse(name string, data []byte, known []string) (*Policy, error) {
	if known == nil {
		known = DefaultIntents
	}
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s: empty file", ErrInvalid, name)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, name, err)
	}
	if err := p.validate(known); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, name, err)
	}
	return &p, nil
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("want HH:MM, got %q", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// validate fills defaults and checks every field; errors name the field.
func (p *Policy) validate(known []string) error {
	var err error
	if p.Timezone == "" {
		p.Timezone = "Asia/Shanghai"
	}
	if p.loc, err = time.LoadLocation(p.Timezone); err != nil {
		return fmt.Errorf("timezone: %w", err)
	}
	if p.Night.Start == "" && p.Night.End == "" {
		p.Night = Night{Start: "22:00", End: "06:00"}
	}
	if p.start, err = parseClock(p.Night.Start); err != nil {
		return fmt.Errorf("night.start: %w", err)
	}
	if p.end, err = parseClock(p.Night.End); err != nil {
		return fmt.Errorf("night.end: %w", err)
	}
	if p.Attempts == 0 {
		p.Attempts = 3
	}
	if p.Attempts < 1 || p.Attempts > 10 {
		return fmt.Errorf("attempts: want 1 to 10, got %d", p.Attempts)
	}
	if err := p.validateMatch(); err != nil {
		return err
	}
	if len(p.Knowledge) == 0 {
		p.Knowledge = []call.Method{call.MethodIMEI, call.MethodOrder, call.MethodPhoneDigits}
	}
	for i, m := range p.Knowledge {
		if !m.Knowledge() {
			return fmt.Errorf("knowledge[%d]: %q is not a knowledge check (want %s, %s or %s)", i, m, call.MethodIMEI, call.MethodOrder, call.MethodPhoneDigits)
		}
		if slices.Index(p.Knowledge, m) != i {
			return fmt.Errorf("knowledge[%d]: %q listed twice", i, m)
		}
	}
	if p.OTP.TTL == 0 {
		p.OTP.TTL = 5 * time.Minute
	}
	if p.OTP.TTL < 30*time.Second || p.OTP.TTL > 30*time.Minute {
		return fmt.Errorf("otp.ttl: want 30s to 30m, got %s", p.OTP.TTL)
	}
	if p.OTP.Attempts == 0 {
		p.OTP.Attempts = 3
	}
	if p.OTP.Attempts < 1 || p.OTP.Attempts > 5 {
		return fmt.Errorf("otp.attempts: want 1 to 5, got %d", p.OTP.Attempts)
	}
	if err := p.validateLockout(); err != nil {
		return err
	}
	if p.Risk.AccountsPerCaller < 2 {
		return fmt.Errorf("risk.accounts_per_caller: want at least 2, got %d", p.Risk.AccountsPerCaller)
	}
	if p.Risk.Window <= 0 {
		return fmt.Errorf("risk.window: must be positive")
	}
	if p.Risk.ExtraKnowledge < 0 || p.Risk.ExtraKnowledge > 3 {
		return fmt.Errorf("risk.extra_knowledge: want 0 to 3, got %d", p.Risk.ExtraKnowledge)
	}
	return p.validateIntents(known)
}

func (p *Policy) validateMatch() error {
	m := &p.Match
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&m.PhoneLastDigits, 4)
	def(&m.IMEILastDigits, 6)
	def(&m.OTPDigits, 6)
	switch {
	case m.PhoneLastDigits < 3 || m.PhoneLastDigits > 8:
		return fmt.Errorf("match.phone_last_digits: want 3 to 8, got %d", m.PhoneLastDigits)
	case m.IMEILastDigits < 4 || m.IMEILastDigits > 15:
		return fmt.Errorf("match.imei_last_digits: want 4 to 15, got %d", m.IMEILastDigits)
	case m.OrderDigits != 0 && (m.OrderDigits < 4 || m.OrderDigits > 24):
		return fmt.Errorf("match.order_digits: want 0 (whole number) or 4 to 24, got %d", m.OrderDigits)
	case m.OTPDigits < 4 || m.OTPDigits > 10:
		return fmt.Errorf("match.otp_digits: want 4 to 10, got %d", m.OTPDigits)
	}
	return nil
}

func (p *Policy) validateLockout() error {
	l := &p.Lockout
	for name, lim := range map[string]Limit{"lockout.caller": l.Caller, "lockout.account": l.Account} {
		if lim.Failures < 1 || lim.Failures > 100 {
			return fmt.Errorf("%s.failures: want 1 to 100, got %d", name, lim.Failures)
		}
		if lim.Window <= 0 {
			return fmt.Errorf("%s.window: must be positive", name)
		}
	}
	if l.Duration <= 0 {
		return fmt.Errorf("lockout.duration: must be positive")
	}
	if l.MaxDuration == 0 {
		l.MaxDuration = l.Duration
	}
	if l.MaxDuration < l.Duration {
		return fmt.Errorf("lockout.max_duration: %s is shorter than lockout.duration %s", l.MaxDuration, l.Duration)
	}
	if l.StrikesWindow == 0 {
		l.StrikesWindow = 24 * time.Hour
	}
	if l.StrikesWindow < 0 {
		return fmt.Errorf("lockout.strikes_window: must be positive")
	}
	return nil
}

func (p *Policy) validateIntents(known []string) error {
	if len(p.Intents) == 0 {
		return fmt.Errorf("intents: none configured")
	}
	names := make([]string, 0, len(p.Intents))
	for n := range p.Intents {
		names = append(names, n)
	}
	sort.Strings(names) // deterministic: the first bad intent by name
	for _, n := range names {
		if !slices.Contains(known, n) {
			return fmt.Errorf("intents.%s: %w %q (known: %s)", n, ErrUnknownIntent, n, strings.Join(known, ", "))
		}
		in := p.Intents[n]
		if err := in.validate(); err != nil {
			return fmt.Errorf("intents.%s: %w", n, err)
		}
		p.Intents[n] = in
	}
	if p.FallbackIntent != "" {
		fb, ok := p.Intents[p.FallbackIntent]
		if !ok {
			return fmt.Errorf("fallback_intent: %q is not configured under intents", p.FallbackIntent)
		}
		if fb.Emergency {
			// An unrecognised intent must not skip verification.
			return fmt.Errorf("fallback_intent: %q is an emergency intent", p.FallbackIntent)
		}
	}
	return nil
}

func (in *Intent) validate() error {
	if in.Emergency {
		if in.Sensitive {
			return fmt.Errorf("an intent cannot be both emergency and sensitive")
		}
		if len(in.Checks) > 0 {
			return fmt.Errorf("checks: an emergency intent has none (help must never wait for verification)")
		}
		return nil
	}
	if in.Attempts < 0 || in.Attempts > 10 {
		return fmt.Errorf("attempts: want 0 (default) to 10, got %d", in.Attempts)
	}
	if len(in.Checks) == 0 {
		return fmt.Errorf("checks: none (list a knowledge check or otp; use emergency: true for no checks)")
	}
	if in.Level == 0 {
		in.Level = int(call.AssuranceOne)
		if in.Sensitive {
			in.Level = int(call.AssuranceTwo)
		}
	}
	if in.Level < int(call.AssuranceOne) || in.Level > int(call.AssuranceTwo) {
		return fmt.Errorf("level: want 1 (one factor) or 2 (knowledge and one-time code), got %d; the caller number alone never verifies", in.Level)
	}
	if in.Sensitive && in.Level < int(call.AssuranceTwo) {
		return fmt.Errorf("level: a sensitive intent needs level 2, got %d", in.Level)
	}
	var ani, otp, critKnowledge, critOTP, critANI bool
	for i := range in.Checks {
		c := &in.Checks[i]
		field := fmt.Sprintf("checks[%d]", i)
		switch c.Check {
		case CheckANI:
			if ani {
				return fmt.Errorf("%s: ani_match listed twice", field)
			}
			ani, critANI = true, c.Critical
			if c.Count != 0 {
				return fmt.Errorf("%s.count: only knowledge checks take a count", field)
			}
		case CheckOTP:
			if otp {
				return fmt.Errorf("%s: otp listed twice", field)
			}
			otp, critOTP = true, c.Critical
			if c.Count != 0 {
				return fmt.Errorf("%s.count: only knowledge checks take a count", field)
			}
		case CheckKnowledge:
			if c.Count == 0 {
				c.Count = 1
			}
			if c.Count < 1 || c.Count > 3 {
				return fmt.Errorf("%s.count: want 1 to 3, got %d", field, c.Count)
			}
			critKnowledge = critKnowledge || c.Critical
		default:
			return fmt.Errorf("%s.check: unknown check %q (want ani_match, knowledge or otp)", field, c.Check)
		}
	}
	// Night mode keeps only critical checks, so the critical ones alone
	// must reach the level: night is lighter, never weaker.
	switch {
	case in.Level == int(call.AssuranceOne) && !critKnowledge && !critOTP:
		return fmt.Errorf("checks: level 1 needs a critical knowledge check or otp (the caller number proves nothing, and night mode keeps only critical checks)")
	case in.Level == int(call.AssuranceTwo) && (!critKnowledge || !critOTP):
		return fmt.Errorf("checks: level 2 needs a critical knowledge check and a critical otp")
	}
	if in.Sensitive {
		// The caller number alone is never enough for a sensitive intent,
		// and night mode keeps exactly the critical checks, so each of the
		// three must be critical.
		switch {
		case !ani || !critANI:
			return fmt.Errorf("checks: a sensitive intent needs a critical ani_match")
		case !critKnowledge:
			return fmt.Errorf("checks: a sensitive intent needs a critical knowledge check")
		case !otp || !critOTP:
			return fmt.Errorf("checks: a sensitive intent needs a critical otp")
		}
	}
	return nil
}

// Signals are risk signals about one call.
type Signals struct {
	Withheld         bool // the network presented no caller number
	NumberNotOnFile  bool // the caller number is not registered on the account
	ManyAccounts     bool // many accounts named from this number recently
	RepeatedFailures bool // failures recorded for this number or account recently
}

// Any reports whether any signal is set.
func (s Signals) Any() bool {
	return s.Withheld || s.NumberNotOnFile || s.ManyAccounts || s.RepeatedFailures
}

// Notes renders the signals for the agent's brief.
func (s Signals) Notes() []string {
	var n []string
	if s.Withheld {
		n = append(n, "caller number withheld")
	}
	if s.NumberNotOnFile {
		n = append(n, "caller number not registered on the account")
	}
	if s.ManyAccounts {
		n = append(n, "several accounts named from this number recently")
	}
	if s.RepeatedFailures {
		n = append(n, "recent failed verification attempts")
	}
	return n
}

// Plan is what one call must pass.
type Plan struct {
	Intent    string // the configured intent applied (the fallback for unknown ones)
	Asked     string // the intent as classified
	Sensitive bool
	Emergency bool
	Night     bool
	// Level is the assurance a verified outcome must reach.
	Level     call.Assurance
	ANI       bool // compare the caller number with the account's
	Knowledge int  // knowledge questions to pass
	OTP       bool
	Attempts  int // answers allowed per question
	// Dropped lists steps left out by night mode, for the brief.
	Dropped []string
	Risk    []string
}

// IsNight reports whether t falls in the night window, in the policy's
// timezone. The window may wrap midnight (22:00-06:00).
func (p *Policy) IsNight(t time.Time) bool {
	lt := t.In(p.loc)
	m := lt.Hour()*60 + lt.Minute()
	if p.start == p.end {
		return false
	}
	if p.start < p.end {
		return m >= p.start && m < p.end
	}
	return m >= p.start || m < p.end
}

// Location is the policy's timezone.
func (p *Policy) Location() *time.Location { return p.loc }

// Plan returns the checks for intent at time at under the risk signals.
func (p *Policy) Plan(intent string, sig Signals, at time.Time) (Plan, error) {
	name := intent
	in, ok := p.Intents[intent]
	if !ok {
		if p.FallbackIntent == "" {
			return Plan{}, fmt.Errorf("%w %q and no fallback_intent configured", ErrUnknownIntent, intent)
		}
		name, in = p.FallbackIntent, p.Intents[p.FallbackIntent]
	}
	pl := Plan{Intent: name, Asked: intent, Sensitive: in.Sensitive, Emergency: in.Emergency, Night: p.IsNight(at), Attempts: in.Attempts, Level: call.Assurance(in.Level)}
	if pl.Attempts == 0 {
		pl.Attempts = p.Attempts
	}
	if in.Emergency {
		return pl, nil
	}
	for _, c := range in.Checks {
		if pl.Night && !c.Critical {
			label := c.Check
			if c.Check == CheckKnowledge {
				label = fmt.Sprintf("%d knowledge question(s)", c.Count)
			}
			pl.Dropped = append(pl.Dropped, label)
			continue
		}
		switch c.Check {
		case CheckANI:
			pl.ANI = true
		case CheckKnowledge:
			pl.Knowledge += c.Count
		case CheckOTP:
			pl.OTP = true
		}
	}
	if sig.Any() {
		pl.Risk = sig.Notes()
		pl.Knowledge += p.Risk.ExtraKnowledge
		if in.Sensitive && p.Risk.OTPForSensitive {
			pl.OTP = true
		}
	}
	// Validation makes these unreachable; they stay as the last line of
	// defence against a policy built in code rather than loaded.
	if pl.Level < call.AssuranceOne || (in.Sensitive && pl.Level < call.AssuranceTwo) {
		return Plan{}, fmt.Errorf("%w: intent %q has assurance level %d; the caller number alone never verifies", ErrInvalid, name, pl.Level)
	}
	reach := call.AssuranceNone
	switch {
	case pl.Knowledge > 0 && pl.OTP:
		reach = call.AssuranceTwo
	case pl.Knowledge > 0 || pl.OTP:
		reach = call.AssuranceOne
	}
	if reach < pl.Level {
		return Plan{}, fmt.Errorf("%w: intent %q would be verified below its level %d (by caller number alone or one factor)", ErrInvalid, name, pl.Level)
	}
	return pl, nil
}
