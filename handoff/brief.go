package handoff

import (
	"context"
	"time"

	"github.com/callbrief/callbrief/call"
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
	KBError string    `json:"kb_error,omitempty"`
	Ticket  *Ticket   `json:"ticket,omitempty"`
	Route   Decision  `json:"route"`
	Timing  Durations `json:"timing"`
	// Delivery is empty for a brief delivered at once; DeliveryPending
	// while kept on the answering node during a store outage, then
	// DeliveryLate once delivered.
	Delivery string `json:"delivery,omitempty"`
}

// Durations records how long the brief took to build, by part.
type Durations struct {
	Profile time.Duration `json:"profile_ns"`
	Summary time.Duration `json:"summary_ns"`
	KB      time.Duration `json:"kb_ns"`
	Total   time.Duration `json:"total_ns"`
}

// Profile is the caller as the agent may see them. Account details are
// filled in only for a verified caller: the brief is on a screen, and an
// unverified caller may not be who the number says.
type Profile struct {
	Identity call.Identity `json:"identity"`
	Verified bool          `json:"verified"`
	// Flags are service flags (elderly, student, traveller,
	// accessibility): shown even unverified because they change how the
	// agent should speak, not what they may disclose.
	Flags   []string                 `json:"flags,omitempty"`
	Devices []accounts.Device        `json:"devices,omitempty"`
	Orders  []accounts.Order         `json:"orders,omitempty"`
	Service []accounts.ServiceRecord `json:"service,omitempty"`
	// Withheld explains why details are not shown.
	Withheld string `json:"withheld,omitempty"`
}

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

// profile builds the caller profile from the account verify found.
func profile(req Request) Profile {
	p := Profile{Identity: req.Verification.Identity, Verified: req.Verification.Verified()}
	a := req.Account
	if a == nil {
		p.Withheld = "no account found"
		if req.Verification.Emergency {
			p.Withheld = "emergency: handed over before any lookup"
		}
		return p
	}
	p.Flags = a.Flags
	if !p.Verified {
		p.Withheld = "caller not verified: account details withheld"
		// The name from an unverified lookup would tell a stranger whose
		// number this is; keep the masked identifiers only.
		p.Identity.Name = ""
		p.Identity.AccountID = ""
		return p
	}
	p.Devices, p.Orders, p.Service = a.Devices, a.Orders, a.Service
	return p
}
