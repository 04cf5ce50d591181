package handoff

import (
	"context"
	"strings"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/internal/redact"
	"github.com/callbrief/callbrief/verify/accounts"
)

// Brief is what the agent sees when the call reaches them.
type Brief struct {
	CallID       string                   `json:"call_id"`
	CreatedAt    time.Time                `json:"created_at"`
	Reason       string                   `json:"reason,omitempty"`
	Caller       Profile                  `json:"caller"`
	Verification call.VerificationOutcome `json:"verification"`
	Intent       call.IntentResult        `json:"intent"`
	// IntentName and IntentNameZH are the taxonomy's words for the intent,
	// for the agent's screen.
	IntentName   string              `json:"intent_name,omitempty"`
	IntentNameZH string              `json:"intent_name_zh,omitempty"`
	Slots        []call.Slot         `json:"slots,omitempty"`
	Urgency      call.Urgency        `json:"urgency"`
	Language     call.LanguageResult `json:"language"`
	Transcript   call.Transcript     `json:"transcript"`
	Summary      Summary             `json:"summary"`
	KB           []KBSuggestion      `json:"kb,omitempty"`
	// KBError says why suggestions are missing when the KB failed; the
	// brief is still delivered.
	KBError string `json:"kb_error,omitempty"`
	// KBStatus names why, for the desk's catalogue: "none" (no knowledge
	// base on this node), "timeout" (past the brief's budget), "failed".
	KBStatus string    `json:"kb_status,omitempty"`
	Ticket   *Ticket   `json:"ticket,omitempty"`
	Route    Decision  `json:"route"`
	Timing   Durations `json:"timing"`
	// Delivery is empty for a brief delivered at once; DeliveryPending
	// while kept on the answering node during a store outage, then
	// DeliveryLate once delivered.
	Delivery string `json:"delivery,omitempty"`
	// AbandonedAt: when the caller left before an agent talked to them
	// (the call is then in its group's call-back list).
	AbandonedAt time.Time `json:"abandoned_at,omitzero"`
}

// Durations records how long the brief took to build, by part.
type Durations struct {
	Profile time.Duration `json:"profile_ns"`
	Summary time.Duration `json:"summary_ns"`
	KB      time.Duration `json:"kb_ns"`
	Total   time.Duration `json:"total_ns"`
}

// Profile is the caller as the agent may see them: only what the call's
// assurance level allows (call.Assurance). The brief is on a screen, and a
// caller known only by number may not be who the number says.
type Profile struct {
	Identity call.Identity `json:"identity"`
	Verified bool          `json:"verified"`
	// Level is the assurance the caller reached; Access says what it
	// shows and what it withholds, and why.
	Level  call.Assurance `json:"level"`
	Access Access         `json:"access"`
	// AccountFound: an account matched the number or identifier. At
	// level none it is all the brief says about the account.
	AccountFound bool `json:"account_found,omitempty"`
	// Flags are service flags (elderly, student, traveller,
	// accessibility), from one factor up: they change how the agent should
	// speak, but they also describe the account holder.
	Flags   []string                 `json:"flags,omitempty"`
	Devices []accounts.Device        `json:"devices,omitempty"`
	Orders  []accounts.Order         `json:"orders,omitempty"`
	Service []accounts.ServiceRecord `json:"service,omitempty"`
	// Withheld explains in one sentence why details are not shown.
	Withheld string `json:"withheld,omitempty"`
}

// Access is what the brief's level lets the agent see and do.
type Access struct {
	// Shown lists the parts of the profile present ("masked_number",
	// "account_exists", "identity", "flags", "devices", "orders",
	// "service_history"), and "account_changes" when the caller may have
	// the account changed (unlock, deletion, recovery).
	Shown []string `json:"shown"`
	// Withheld maps each part left out to the reason.
	Withheld map[string]string `json:"withheld,omitempty"`
}

// What each level shows. Addresses are not in the directory yet; they
// belong with the one-factor parts.
var (
	levelOneParts = []string{"identity", "flags", "devices", "orders", "service_history"}
	levelTwoParts = []string{"account_changes"}
)

// KBSuggestion is one knowledge-base article suggested for the call.
type KBSuggestion struct {
	ArticleID string  `json:"article_id"`
	Title     string  `json:"title"`
	Score     float64 `json:"score"`
	// Why says what matched: the intent, the product, the words shared
	// with what the caller said.
	Why     string `json:"why"`
	Snippet string `json:"snippet,omitempty"`
	Source  string `json:"source,omitempty"`
}

// KBFilter narrows suggestions to the call's product line and language.
type KBFilter struct {
	Product  string
	Language string // zh or en
	Intent   string
}

// KB suggests articles for a call. Suggest returns at most k suggestions,
// best first; none is an empty slice and no error. Implementations are
// safe for concurrent use.
type KB interface {
	Suggest(ctx context.Context, query string, f KBFilter, k int) ([]KBSuggestion, error)
}

// profile builds the caller profile from the account verify found, cut to
// the level the caller reached.
func profile(req Request) Profile {
	o := req.Verification
	lvl := o.Level
	if o.Status == call.StatusFailed || o.Status == call.StatusLocked {
		lvl = call.AssuranceNone // the verify stage does this too; kept here for outcomes built elsewhere
	}
	o.Level = lvl
	p := Profile{Identity: o.ForLevel().Identity, Verified: o.Verified() && lvl >= call.AssuranceOne, Level: lvl}
	p.Access.Shown = []string{"masked_number"}
	a := req.Account
	p.AccountFound = a != nil || o.AccountFound
	if p.AccountFound {
		p.Access.Shown = append(p.Access.Shown, "account_exists")
	}
	withhold := func(parts []string, why string) {
		if p.Access.Withheld == nil {
			p.Access.Withheld = map[string]string{}
		}
		for _, part := range parts {
			p.Access.Withheld[part] = why
		}
	}
	switch {
	case a == nil && o.Emergency:
		p.Withheld = "emergency: handed over before any lookup"
		withhold(append(levelOneParts, levelTwoParts...), p.Withheld)
		return p
	case a == nil:
		p.Withheld = "no account found"
		withhold(append(levelOneParts, levelTwoParts...), p.Withheld)
		return p
	case lvl < call.AssuranceOne:
		why := "caller passed no knowledge check or one-time code (the caller number alone proves nothing)"
		switch o.Status {
		case call.StatusFailed:
			why = "caller failed verification"
		case call.StatusLocked:
			why = "verification locked after repeated failures"
		}
		p.Withheld = why + ": account details withheld"
		withhold(append(levelOneParts, levelTwoParts...), why)
		return p
	}
	p.Access.Shown = append(p.Access.Shown, levelOneParts...)
	p.Flags, p.Devices, p.Orders, p.Service = a.Flags, a.Devices, a.Orders, a.Service
	if lvl >= call.AssuranceTwo {
		p.Access.Shown = append(p.Access.Shown, levelTwoParts...)
	} else {
		withhold(levelTwoParts, "account changes need two factors (a knowledge check and a one-time code); this caller passed one")
	}
	return p
}

// mayShowAccount reports whether the account's details (devices, orders,
// history) may go into the brief's other parts: summary and ticket.
func mayShowAccount(req Request) bool {
	o := req.Verification
	return req.Account != nil && o.Level >= call.AssuranceOne && o.Status != call.StatusFailed && o.Status != call.StatusLocked
}

// Redacted returns the brief as it is kept after the call: identifiers the
// caller said or the summary repeats (phone, ID, card and IMEI numbers,
// emails; internal/redact) become tags in the transcript, summary, slots
// and ticket, and the profile's device IMEIs are masked to their last four
// digits. The live brief on the desk is not redacted: the agent needs
// what the caller said, within the call's assurance level.
func (b Brief) Redacted() Brief {
	segs := make([]call.Segment, len(b.Transcript.Segments))
	for i, s := range b.Transcript.Segments {
		s.Text = redact.String(s.Text)
		s.Words = nil // word timings repeat the text
		segs[i] = s
	}
	b.Transcript.Segments = segs
	b.Summary.Text = redact.String(b.Summary.Text)
	slots := make([]call.Slot, len(b.Slots))
	for i, s := range b.Slots {
		s.Value, s.Text = redact.String(s.Value), redact.String(s.Text)
		if s.Kind == call.SlotIMEI {
			s.Value, s.Text = slotTag(s.Value), slotTag(s.Text)
		}
		slots[i] = s
	}
	b.Slots = slots
	if b.Ticket != nil {
		t := *b.Ticket
		t.Fields = make(map[string]string, len(b.Ticket.Fields))
		for k, v := range b.Ticket.Fields {
			if k == "imei" {
				v = maskTail(v)
			}
			t.Fields[k] = redact.String(v)
		}
		b.Ticket = &t
	}
	devs := make([]accounts.Device, len(b.Caller.Devices))
	for i, d := range b.Caller.Devices {
		d.IMEI = maskTail(d.IMEI)
		devs[i] = d
	}
	if len(devs) > 0 {
		b.Caller.Devices = devs
	}
	return b
}

// slotTag is the redaction tag of a whole value that is an identifier by its
// slot, whatever its shape.
func slotTag(v string) string {
	if v == "" {
		return v
	}
	return redact.Tag(redact.IMEI)
}

// maskTail keeps the last four characters of an identifier.
func maskTail(v string) string {
	if len(v) <= 4 {
		return v
	}
	return strings.Repeat("*", len(v)-4) + v[len(v)-4:]
}
