package call

import (
	"fmt"
	"time"
)

// Method is one way a caller proved who they are. The strings are stable:
// they appear in briefs, audit records and evaluation reports.
type Method string

// Verification methods.
const (
	// MethodANIMatch: the caller number (ANI) is registered on the account.
	// It is evidence, never proof: numbers can be spoofed.
	MethodANIMatch Method = "ani_match"
	// MethodPhoneDigits: the caller said or keyed the last digits of a
	// number registered on the account.
	MethodPhoneDigits Method = "phone_last_digits"
	// MethodIMEI: the caller gave the last digits of a registered device's IMEI.
	MethodIMEI Method = "imei_last_digits"
	// MethodOrder: the caller gave the number of an order on the account.
	MethodOrder Method = "order_number"
	// MethodOTP: the caller read back a one-time code sent by SMS to a
	// number registered on the account.
	MethodOTP Method = "otp"
)

// Knowledge reports whether m is a knowledge check (something the caller
// knows), as opposed to the caller number or a one-time code.
func (m Method) Knowledge() bool {
	switch m {
	case MethodPhoneDigits, MethodIMEI, MethodOrder:
		return true
	}
	return false
}

// Assurance is how strongly a caller proved who they are, and so what the
// agent may see and do. The caller number is never a factor: it can be
// spoofed, so a number that matches an account proves nothing.
type Assurance int

// Assurance levels.
const (
	// AssuranceNone: the caller number alone, or nothing. The brief may
	// show the masked number and whether an account exists, no more.
	AssuranceNone Assurance = 0
	// AssuranceOne: one knowledge factor (IMEI digits, an order number,
	// digits of another registered number) or possession factor (a
	// one-time code). Devices, orders, service history and address.
	AssuranceOne Assurance = 1
	// AssuranceTwo: a knowledge factor and a possession factor. Account
	// changes (unlock, deletion, recovery).
	AssuranceTwo Assurance = 2
)

// String names the level for briefs and reports.
func (a Assurance) String() string {
	switch a {
	case AssuranceNone:
		return "none"
	case AssuranceOne:
		return "one_factor"
	case AssuranceTwo:
		return "two_factor"
	}
	return fmt.Sprintf("assurance(%d)", int(a))
}

// LevelOf is the assurance the passed methods give: the caller number
// counts for nothing, a knowledge check or a one-time code for one factor,
// both kinds together for two. Two knowledge checks are still one factor:
// whoever found one identifier on a receipt may well have found the other.
func LevelOf(passed []Method) Assurance {
	var k, p bool
	for _, m := range passed {
		k = k || m.Knowledge()
		p = p || m == MethodOTP
	}
	switch {
	case k && p:
		return AssuranceTwo
	case k || p:
		return AssuranceOne
	}
	return AssuranceNone
}

// VerificationStatus summarises a verification for routing and the brief.
type VerificationStatus string

// Verification statuses.
const (
	// StatusVerified: every check the policy required passed.
	StatusVerified VerificationStatus = "verified"
	// StatusUnverified: no verification was attempted or it could not be
	// completed (emergency, no account found, store unavailable). The agent
	// must treat the caller as unknown.
	StatusUnverified VerificationStatus = "unverified"
	// StatusFailed: the caller answered a required check wrongly too often.
	StatusFailed VerificationStatus = "failed"
	// StatusLocked: the caller number or the account is locked out after
	// repeated failures.
	StatusLocked VerificationStatus = "locked"
)

// Identity is who the caller is, as far as the front-end knows. Fields
// carry masked identifiers only: the brief is shown on screens and logged.
type Identity struct {
	AccountID   string `json:"account_id,omitempty"`
	Name        string `json:"name,omitempty"`
	MaskedPhone string `json:"masked_phone,omitempty"` // e.g. 138****5678
	// CallerMasked is the caller number as presented by the network, masked;
	// "withheld" when the number was not presented.
	CallerMasked string `json:"caller_masked,omitempty"`
	Language     string `json:"language,omitempty"`
}

// VerificationOutcome is what the verify stage hands to the brief: whether
// the caller is verified, by which methods, and what looked risky.
type VerificationOutcome struct {
	Status   VerificationStatus `json:"status"`
	Intent   string             `json:"intent"`
	Identity Identity           `json:"identity"`
	// Required lists the checks the policy asked for (after night mode and
	// risk adjustments); Passed and Failed the methods as they turned out.
	Required []Method `json:"required,omitempty"`
	Passed   []Method `json:"passed,omitempty"`
	Failed   []Method `json:"failed,omitempty"`
	// Risk holds short notes for the agent, e.g. "caller number withheld".
	Risk []string `json:"risk,omitempty"`
	// Emergency is set for intents that skip verification so that help is
	// never delayed; Status is then StatusUnverified.
	Emergency bool `json:"emergency,omitempty"`
	// Night is set when the night policy applied.
	Night bool `json:"night,omitempty"`
	// Level is the assurance reached (LevelOf the passed methods; none
	// when the verification failed or locked). Identity carries the
	// account's name and id only from AssuranceOne up.
	Level Assurance `json:"level"`
	// AccountFound: an account matched the number or identifier given.
	// Shown at every level: it is all the number alone may tell.
	AccountFound bool `json:"account_found,omitempty"`
	// Reason explains a status other than verified in one sentence.
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// ForLevel returns o with Identity cut to what its Level allows: below
// AssuranceOne only the masked caller number (a name or account id would
// tell a stranger whose number this is).
func (o VerificationOutcome) ForLevel() VerificationOutcome {
	if o.Level < AssuranceOne {
		o.Identity = Identity{CallerMasked: o.Identity.CallerMasked}
	}
	return o
}

// Verified reports whether the caller passed every required check.
func (o VerificationOutcome) Verified() bool { return o.Status == StatusVerified }
