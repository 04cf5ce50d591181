// Package handoff is the last stage before a human answers: it routes a
// call (skill group, certification level, dialect line, language,
// priority), builds the agent's brief (caller profile, verification,
// intent, transcript, summary, knowledge-base suggestions, a suggested
// service ticket), queues the call and offers it to the longest-idle
// eligible agent. The desk (web/) reads briefs and queues through Engine.
package handoff

import (
	"errors"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/verify/accounts"
)

// Errors. HTTP handlers map them to status codes in one place (web).
var (
	// ErrConfig: a routing or agents file is invalid; the message names
	// the file and field.
	ErrConfig = errors.New("handoff: invalid configuration")
	// ErrNotFound: no such call or brief (ended, expired or never known).
	ErrNotFound = errors.New("handoff: not found")
	// ErrUnknownAgent: the agent is not in the agents file.
	ErrUnknownAgent = errors.New("handoff: unknown agent")
	// ErrForbidden: the agent may not act on this call (not theirs, or
	// not eligible).
	ErrForbidden = errors.New("handoff: not allowed for this agent")
	// ErrConflict: the call changed hands first (taken by another agent).
	ErrConflict = errors.New("handoff: call already taken")
	// ErrInvalid: a malformed request (missing call id, bad outcome).
	ErrInvalid = errors.New("handoff: invalid request")
	// ErrUnavailable: the store or queue did not answer.
	ErrUnavailable = errors.New("handoff: unavailable")
	// ErrKBTimeout: the knowledge base did not answer within the brief's
	// budget; the brief went out without suggestions.
	ErrKBTimeout = errors.New("no answer within the brief's budget")
)

// Request is everything the earlier stages know when a call is handed
// over.
type Request struct {
	CallID string
	// Caller is the caller number in E.164 ("" when withheld). It is used
	// for routing (region) and never shown: the brief carries the masked
	// number from Verification.
	Caller string
	// Region is where the caller is, when the network or the ingress
	// says; otherwise routing derives it from the number.
	Region       string
	At           time.Time
	Transcript   call.Transcript
	Intent       call.IntentResult
	Slots        []call.Slot
	Urgency      call.Urgency
	Language     call.LanguageResult
	Verification call.VerificationOutcome
	// Account is the account verification found, if any. The brief shows
	// its details only when the caller is verified.
	Account *accounts.Account
	// WantsHuman is set when the caller asked for a person.
	WantsHuman bool
	// Reason says why the call is handed over now ("understood",
	// "asked for a human", "emergency", "no speech").
	Reason string
}
