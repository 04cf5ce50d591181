// Package audit writes the append-only trail of verification events: one
// record per start, question, answer, lockout and outcome, so that a
// disputed unlock can be reconstructed. Records carry masked identifiers
// and never an answer or a code.
package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/callbrief/callbrief/store"
)

// LogName is the log (a Redis stream in production) records go to.
const LogName = "audit:verify"

// Event is one record.
type Event struct {
	At      time.Time
	CallID  string
	Kind    string // start, lookup, challenge, answer, otp_sent, locked, outcome
	Intent  string
	Caller  string // masked
	Account string // account ID: an internal reference, not a personal identifier
	Method  string
	Result  string // ok, wrong, locked, verified, failed...
	Detail  string
}

// Trail appends events.
type Trail struct {
	logs store.Logs
}

// New returns a trail on logs.
func New(logs store.Logs) *Trail { return &Trail{logs: logs} }

// Record appends e. An error means the event is not on record; callers
// protecting a sensitive action must then refuse it.
func (t *Trail) Record(ctx context.Context, e Event) error {
	f := map[string]string{"at": e.At.UTC().Format(time.RFC3339Nano), "call_id": e.CallID, "kind": e.Kind}
	for k, v := range map[string]string{"intent": e.Intent, "caller": e.Caller, "account": e.Account,
		"method": e.Method, "result": e.Result, "detail": e.Detail} {
		if v != "" {
			f[k] = v
		}
	}
	if _, err := t.logs.Append(ctx, LogName, f); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Tail returns the last n records.
func (t *Trail) Tail(ctx context.Context, n int) ([]store.Entry, error) {
	return t.logs.Tail(ctx, LogName, n)
}
