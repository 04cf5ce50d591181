// Package verify is the identity verification stage: it finds the caller's
// account, asks the questions the policy requires (answered by speech in
// the recognizer's digit mode or by DTMF keys), sends and checks one-time
// codes, enforces attempt limits, writes the audit trail, and produces the
// call.VerificationOutcome that goes into the agent's brief.
//
// It fails closed: when the store, the directory, the SMS gateway or the
// audit trail cannot be reached, the caller is handed over unverified,
// never verified. Emergencies are never held up: they skip every check.
package verify

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/audit"
	"github.com/callbrief/callbrief/verify/lockout"
	"github.com/callbrief/callbrief/verify/otp"
	"github.com/callbrief/callbrief/verify/phone"
	"github.com/callbrief/callbrief/verify/policy"
)

// Errors.
var (
	// ErrUnavailable: a dependency (store, directory, SMS gateway, audit
	// trail) failed; the verification ended unverified (fail closed).
	ErrUnavailable = errors.New("verify: unavailable")
	// ErrState: a method was called in the wrong step (a programming error
	// in the caller, not the caller's fault).
	ErrState = errors.New("verify: wrong step")
	// ErrConfig: New was given an incomplete configuration.
	ErrConfig = errors.New("verify: configuration")
)

// Config assembles a Verifier.
type Config struct {
	Policy    *policy.Policy
	Directory accounts.Directory
	Store     store.Store
	Gateway   otp.Gateway
	// Secret keys one-time code hashes and lockout keys; at least 16
	// bytes, shared by every node on one store. Empty: a random secret for
	// this process only (fine with the in-process store, wrong with Redis
	// and several nodes).
	Secret []byte
	Now    func() time.Time
	Log    *slog.Logger
}

// Verifier starts verifications. Safe for concurrent use.
type Verifier struct {
	pol   *policy.Policy
	dir   accounts.Directory
	st    store.Store
	gw    otp.Gateway
	codes *otp.Codes
	lock  *lockout.Limiter
	trail *audit.Trail
	now   func() time.Time
	log   *slog.Logger
}

// New checks cfg and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	if cfg.Policy == nil || cfg.Directory == nil || cfg.Store == nil || cfg.Gateway == nil {
		return nil, fmt.Errorf("%w: policy, directory, store and SMS gateway are required", ErrConfig)
	}
	if len(cfg.Secret) == 0 {
		cfg.Secret = make([]byte, 32)
		if _, err := rand.Read(cfg.Secret); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if len(cfg.Secret) < 16 {
		return nil, fmt.Errorf("%w: secret must be at least 16 bytes", ErrConfig)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	codes, err := otp.New(cfg.Store, otp.Config{
		Digits: cfg.Policy.Match.OTPDigits, TTL: cfg.Policy.OTP.TTL, Attempts: cfg.Policy.OTP.Attempts, Secret: cfg.Secret,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &Verifier{
		pol: cfg.Policy, dir: cfg.Directory, st: cfg.Store, gw: cfg.Gateway, codes: codes,
		lock:  lockout.New(cfg.Store, cfg.Policy.Lockout, cfg.Secret),
		trail: audit.New(cfg.Store), now: cfg.Now, log: cfg.Log,
	}, nil
}

// Trail returns the audit trail, for the desk and tests.
func (v *Verifier) Trail() *audit.Trail { return v.trail }

// Request starts one call's verification.
type Request struct {
	CallID string
	// Caller is the number as presented by the network (ANI): any common
	// format, or empty/"anonymous" when withheld.
	Caller string
	Intent string
}

// StepKind is what the verification needs next.
type StepKind int

// Steps.
const (
	// StepDone: the outcome is final; hand the call over.
	StepDone StepKind = iota
	// StepIdentify: ask the caller for an account ID, IMEI, serial or
	// order number (the caller number matched no single account).
	StepIdentify
	// StepChallenge: ask Challenge and pass the answer to Answer.
	StepChallenge
)

// Challenge is one question.
type Challenge struct {
	Method call.Method
	// Digits is the expected answer length; 0 when it varies (order
	// numbers). Open the recognizer in digit mode, or collect DTMF.
	Digits int
	// Hint completes the prompt without revealing the answer: a device
	// model, or a masked number such as 138****.
	Hint string
	// Attempt counts from 1.
	Attempt int
}

// Step is what to do next.
type Step struct {
	Kind      StepKind
	Challenge Challenge
}

// Result of one answer.
type Result string

// Answer results.
const (
	Correct Result = "correct"
	Wrong   Result = "wrong"   // try again
	NoInput Result = "noinput" // nothing usable heard; ask again
	Ended   Result = "ended"   // the verification is over; see Outcome
)

// maxNoInput ends a verification whose caller gives no usable answer.
const maxNoInput = 3

// Verification is one call's verification. It is driven by the call's
// pipeline from one goroutine and is not safe for concurrent use.
type Verification struct {
	v    *Verifier
	req  Request
	log  *slog.Logger
	plan policy.Plan

	ani      string // E.164, or "" when withheld or invalid
	acct     *accounts.Account
	sig      policy.Signals
	queue    []question
	cur      int
	tries    int
	noInput  int
	step     StepKind
	outcome  call.VerificationOutcome
	identify int // identification attempts
}

type question struct {
	ch   Challenge
	want []string // acceptable answers (digits)
}

// Start begins verifying a call. It never returns nil: on error the
// Verification is already done, unverified, and the error says why.
func (v *Verifier) Start(ctx context.Context, req Request) (*Verification, error) {
	now := v.now()
	vf := &Verification{v: v, req: req, log: v.log.With("call_id", req.CallID)}
	vf.outcome = call.VerificationOutcome{Status: call.StatusUnverified, Intent: req.Intent, At: now}
	pl, err := v.pol.Plan(req.Intent, policy.Signals{}, now)
	if err != nil {
		return vf, vf.finish(ctx, call.StatusUnverified, "no verification policy for this intent", err)
	}
	vf.plan = pl
	vf.outcome.Night = pl.Night

	switch n, err := phone.Normalize(req.Caller); {
	case err == nil:
		vf.ani = n
		vf.outcome.Identity.CallerMasked = phone.Mask(n)
	case errors.Is(err, phone.ErrWithheld):
		vf.sig.Withheld = true
		vf.outcome.Identity.CallerMasked = "withheld"
	default:
		// An unparseable number is treated as withheld: it cannot be
		// matched to an account, and the call must go on.
		vf.sig.Withheld = true
		vf.outcome.Identity.CallerMasked = "invalid"
		vf.log.Warn("caller number not understood; treated as withheld", "err", err)
	}
	if pl.Emergency {
		// Help first: no lookup, no question, no lockout check. The audit
		// record is best effort: a failing store must not hold up help.
		vf.outcome.Emergency = true
		return vf, vf.finish(ctx, call.StatusUnverified, "emergency: handed over before verification", nil)
	}
	if err := vf.record(ctx, audit.Event{Kind: "start", Result: pl.Intent}); err != nil {
		return vf, err
	}
	if vf.ani != "" {
		locked, _, err := v.lock.Locked(ctx, lockout.Caller, vf.ani)
		if err != nil {
			return vf, vf.unavailable(ctx, err)
		}
		if locked {
			return vf, vf.finish(ctx, call.StatusLocked, "caller number locked after repeated failed verifications", nil)
		}
		accts, err := v.dir.ByPhone(ctx, vf.ani)
		switch {
		case errors.Is(err, accounts.ErrNotFound):
		case err != nil:
			return vf, vf.unavailable(ctx, err)
		case len(accts) == 1:
			return vf, vf.useAccount(ctx, accts[0])
		}
	}
	vf.step = StepIdentify
	return vf, nil
}

// Next returns what to do next.
func (vf *Verification) Next() Step {
	if vf.step == StepChallenge {
		q := vf.queue[vf.cur]
		q.ch.Attempt = vf.tries + 1
		return Step{Kind: StepChallenge, Challenge: q.ch}
	}
	return Step{Kind: vf.step}
}

// Outcome returns the outcome so far; final once Next returns StepDone.
func (vf *Verification) Outcome() call.VerificationOutcome { return vf.outcome }

// Account returns the account being verified, once known. The brief must
// show its details only when Outcome is verified.
func (vf *Verification) Account() (accounts.Account, bool) {
	if vf.acct == nil {
		return accounts.Account{}, false
	}
	return *vf.acct, true
}

// maxIdentify bounds attempts to name an account, so that one call cannot
// be used to probe the directory.
const maxIdentify = 3

// Identify names the account when the caller number did not: an account
// ID, IMEI, serial or order number the caller said or keyed.
func (vf *Verification) Identify(ctx context.Context, kind accounts.IDKind, value string) (Result, error) {
	if vf.step != StepIdentify {
		return Ended, fmt.Errorf("%w: Identify in step %d", ErrState, vf.step)
	}
	if kind == accounts.KindIMEI || kind == accounts.KindOrder {
		value = Digits(Speech, value)
	}
	// A lock set since the call began (by another call, on another node)
	// holds for this look-up too.
	if done, err := vf.recheckLock(ctx, false); done {
		return Ended, err
	}
	a, err := vf.v.dir.ByIdentifier(ctx, kind, value)
	if errors.Is(err, accounts.ErrNotFound) {
		vf.identify++
		if err := vf.record(ctx, audit.Event{Kind: "lookup", Method: string(kind), Result: "not_found"}); err != nil {
			return Ended, err
		}
		// A miss is a guess at someone's identifier: it counts against
		// the caller like a wrong answer, so that order numbers cannot be
		// enumerated across calls.
		if locked, err := vf.failLookup(ctx); err != nil || locked {
			return Ended, err
		}
		if vf.identify >= maxIdentify {
			return Ended, vf.finish(ctx, call.StatusUnverified, "no account found for the identifiers given", nil)
		}
		return Wrong, nil
	}
	if err != nil {
		return Ended, vf.unavailable(ctx, err)
	}
	if err := vf.useAccount(ctx, a); err != nil {
		return Ended, err
	}
	if vf.step == StepDone {
		return Ended, nil
	}
	return Correct, nil
}

// useAccount applies the policy to the account found: risk signals, the
// plan, and the questions.
func (vf *Verification) useAccount(ctx context.Context, a accounts.Account) error {
	v := vf.v
	vf.acct = &a
	// Whether an account exists is all a number or an identifier may tell;
	// its name and id join the outcome only once a factor is passed
	// (finish), so that a spoofed number or a guessed order number does not
	// reveal whose account it is.
	vf.outcome.AccountFound = true
	if err := vf.record(ctx, audit.Event{Kind: "lookup", Result: "found"}); err != nil {
		return err
	}
	locked, _, err := v.lock.Locked(ctx, lockout.Account, a.ID)
	if err != nil {
		return vf.unavailable(ctx, err)
	}
	if locked {
		return vf.finish(ctx, call.StatusLocked, "account locked after repeated failed verifications", nil)
	}
	if vf.ani != "" {
		vf.sig.NumberNotOnFile = !a.HasPhone(vf.ani)
		n, err := v.lock.Tried(ctx, vf.ani, a.ID, v.pol.Risk.Window)
		if err != nil {
			return vf.unavailable(ctx, err)
		}
		vf.sig.ManyAccounts = n >= int64(v.pol.Risk.AccountsPerCaller)
		f, err := v.lock.Failures(ctx, lockout.Caller, vf.ani)
		if err != nil {
			return vf.unavailable(ctx, err)
		}
		vf.sig.RepeatedFailures = f > 0
	}
	f, err := v.lock.Failures(ctx, lockout.Account, a.ID)
	if err != nil {
		return vf.unavailable(ctx, err)
	}
	vf.sig.RepeatedFailures = vf.sig.RepeatedFailures || f > 0

	pl, err := v.pol.Plan(vf.req.Intent, vf.sig, vf.outcome.At)
	if err != nil {
		return vf.finish(ctx, call.StatusUnverified, "no verification policy for this intent", err)
	}
	vf.plan = pl
	vf.outcome.Risk = pl.Risk
	for _, d := range pl.Dropped {
		vf.outcome.Risk = append(vf.outcome.Risk, "night mode dropped "+d)
	}
	if pl.ANI {
		vf.outcome.Required = append(vf.outcome.Required, call.MethodANIMatch)
		if vf.ani != "" && a.HasPhone(vf.ani) {
			vf.outcome.Passed = append(vf.outcome.Passed, call.MethodANIMatch)
		} else {
			// Not a failure on its own (a relative's phone, a new SIM):
			// the risk signal has already added a question.
			vf.outcome.Failed = append(vf.outcome.Failed, call.MethodANIMatch)
		}
	}
	qs := vf.knowledge(a)
	if len(qs) < pl.Knowledge {
		return vf.finish(ctx, call.StatusUnverified, fmt.Sprintf("account has too few identifiers on file for %d questions", pl.Knowledge), nil)
	}
	vf.queue = qs[:pl.Knowledge]
	if pl.OTP {
		vf.queue = append(vf.queue, question{ch: Challenge{Method: call.MethodOTP, Digits: v.pol.Match.OTPDigits, Hint: phone.Mask(a.Phones[0])}})
	}
	for _, q := range vf.queue {
		vf.outcome.Required = append(vf.outcome.Required, q.ch.Method)
	}
	return vf.advance(ctx)
}

// knowledge lists the questions this account can answer, in the policy's
// order of preference.
func (vf *Verification) knowledge(a accounts.Account) []question {
	m := vf.v.pol.Match
	var qs []question
	for _, meth := range vf.v.pol.Knowledge {
		switch meth {
		case call.MethodIMEI:
			for _, d := range a.Devices {
				if d.IMEI != "" {
					qs = append(qs, question{
						ch:   Challenge{Method: meth, Digits: m.IMEILastDigits, Hint: d.Model},
						want: []string{d.IMEI[len(d.IMEI)-m.IMEILastDigits:]},
					})
					break
				}
			}
		case call.MethodOrder:
			if len(a.Orders) == 0 {
				continue
			}
			q := question{ch: Challenge{Method: meth, Digits: m.OrderDigits}}
			for _, o := range a.Orders {
				w := o.Number
				if m.OrderDigits > 0 && len(w) > m.OrderDigits {
					w = w[len(w)-m.OrderDigits:]
				}
				q.want = append(q.want, w)
			}
			qs = append(qs, q)
		case call.MethodPhoneDigits:
			// The digits of the number the caller is calling from prove
			// nothing (whoever spoofs a number knows it), so ask about
			// another registered number.
			for _, p := range a.Phones {
				if p != vf.ani {
					qs = append(qs, question{
						ch:   Challenge{Method: meth, Digits: m.PhoneLastDigits, Hint: phone.Mask(p)[:3] + "****"},
						want: []string{phone.Last(p, m.PhoneLastDigits)},
					})
					break
				}
			}
		}
	}
	return qs
}

// advance moves to the next question, sending a code when it is the OTP's
// turn, or finishes when none is left.
func (vf *Verification) advance(ctx context.Context) error {
	vf.tries, vf.noInput = 0, 0
	if vf.cur >= len(vf.queue) {
		return vf.verified(ctx)
	}
	vf.step = StepChallenge
	q := vf.queue[vf.cur]
	if err := vf.record(ctx, audit.Event{Kind: "challenge", Method: string(q.ch.Method)}); err != nil {
		return err
	}
	if q.ch.Method == call.MethodOTP {
		return vf.sendCode(ctx)
	}
	return nil
}

func (vf *Verification) otpScope() string { return vf.req.CallID + ":" + vf.acct.ID }

func (vf *Verification) sendCode(ctx context.Context) error {
	code, err := vf.v.codes.Issue(ctx, vf.otpScope())
	if err != nil {
		return vf.unavailable(ctx, err)
	}
	to := vf.acct.Phones[0]
	text := fmt.Sprintf("【客服验证】验证码 %s，%d 分钟内有效，请勿告诉他人。Your verification code is %s; valid for %d minutes. Never share it.",
		code, int(vf.v.pol.OTP.TTL.Minutes()), code, int(vf.v.pol.OTP.TTL.Minutes()))
	if err := vf.v.gw.Send(ctx, to, text); err != nil {
		return vf.unavailable(ctx, fmt.Errorf("%w: %w", otp.ErrSend, err))
	}
	return vf.record(ctx, audit.Event{Kind: "otp_sent", Method: string(call.MethodOTP), Detail: "to " + phone.Mask(to)})
}

// Answer checks the caller's answer to the current question.
func (vf *Verification) Answer(ctx context.Context, src Source, text string) (Result, error) {
	if vf.step != StepChallenge {
		return Ended, fmt.Errorf("%w: Answer in step %d", ErrState, vf.step)
	}
	q := vf.queue[vf.cur]
	// The answer is checked against the lockout as it is given, not only
	// when the call began: a lock set meanwhile by another call (from
	// another number, on another node) ends this one before its answer is
	// judged, so racing calls gain no guesses.
	if done, err := vf.recheckLock(ctx, true); done {
		return Ended, err
	}
	got := Digits(src, text)
	if got == "" {
		vf.noInput++
		if vf.noInput >= maxNoInput {
			return Ended, vf.finish(ctx, call.StatusUnverified, "no answer to "+string(q.ch.Method), nil)
		}
		return NoInput, nil
	}
	var ok bool
	if q.ch.Method == call.MethodOTP {
		err := vf.v.codes.Check(ctx, vf.otpScope(), got)
		switch {
		case err == nil:
			ok = true
		case errors.Is(err, otp.ErrWrong), errors.Is(err, otp.ErrNoCode), errors.Is(err, otp.ErrExhausted):
		default:
			return Ended, vf.unavailable(ctx, err)
		}
	} else {
		ok = anyEqual(got, q.want)
	}
	ev := audit.Event{Kind: "answer", Method: string(q.ch.Method), Result: "ok", Detail: string(src)}
	if ok {
		if err := vf.record(ctx, ev); err != nil {
			return Ended, err
		}
		vf.outcome.Passed = append(vf.outcome.Passed, q.ch.Method)
		vf.cur++
		if err := vf.advance(ctx); err != nil {
			return Ended, err
		}
		if vf.step == StepDone {
			return Ended, nil
		}
		return Correct, nil
	}
	ev.Result = "wrong"
	if err := vf.record(ctx, ev); err != nil {
		return Ended, err
	}
	if locked, err := vf.fail(ctx); err != nil || locked {
		return Ended, err
	}
	vf.tries++
	limit := vf.plan.Attempts
	if q.ch.Method == call.MethodOTP {
		limit = min(limit, vf.v.pol.OTP.Attempts)
	}
	if vf.tries >= limit {
		vf.outcome.Failed = append(vf.outcome.Failed, q.ch.Method)
		return Ended, vf.finish(ctx, call.StatusFailed, "wrong answers to "+string(q.ch.Method), nil)
	}
	return Wrong, nil
}

// withheldKey is the caller-scope lockout identity of callers without a
// usable number: their identifier guesses share one allowance, since
// there is nothing else to count them against. A flood of withheld guesses
// locks look-ups for withheld callers for a while; they still reach an
// agent, unverified.
const withheldKey = "withheld"

func (vf *Verification) callerKey() string {
	if vf.ani == "" {
		return withheldKey
	}
	return vf.ani
}

// recheckLock ends the verification when the caller number (or, with
// account, the account) got locked since the call began. done reports that
// the verification is over.
func (vf *Verification) recheckLock(ctx context.Context, account bool) (done bool, err error) {
	l := vf.v.lock
	locked, _, err := l.Locked(ctx, lockout.Caller, vf.callerKey())
	if err != nil {
		return true, vf.unavailable(ctx, err)
	}
	if locked {
		return true, vf.finish(ctx, call.StatusLocked, "caller number locked after repeated failed verifications", nil)
	}
	if account && vf.acct != nil {
		locked, _, err := l.Locked(ctx, lockout.Account, vf.acct.ID)
		if err != nil {
			return true, vf.unavailable(ctx, err)
		}
		if locked {
			return true, vf.finish(ctx, call.StatusLocked, "account locked after repeated failed verifications", nil)
		}
	}
	return false, nil
}

// failLookup counts an identifier that named no account against the
// caller, and ends the verification when that locks.
func (vf *Verification) failLookup(ctx context.Context) (bool, error) {
	locked, d, err := vf.v.lock.Fail(ctx, lockout.Caller, vf.callerKey())
	if err != nil {
		return true, vf.unavailable(ctx, err)
	}
	if !locked {
		return false, nil
	}
	vf.log.Warn("caller locked after identifier guesses", "caller", vf.outcome.Identity.CallerMasked, "for", d)
	_ = vf.record(ctx, audit.Event{Kind: "locked", Result: "caller", Detail: d.String()})
	return true, vf.finish(ctx, call.StatusLocked, "caller locked after repeated identifiers that named no account", nil)
}

// fail counts a wrong answer against the caller number and the account
// (both, always: an attacker rotating numbers still uses up the account's
// allowance), and ends the verification when either locks.
func (vf *Verification) fail(ctx context.Context) (bool, error) {
	l := vf.v.lock
	var reason string
	if vf.ani != "" {
		locked, d, err := l.Fail(ctx, lockout.Caller, vf.ani)
		if err != nil {
			return true, vf.unavailable(ctx, err)
		}
		if locked {
			vf.log.Warn("caller number locked", "caller", phone.Mask(vf.ani), "for", d)
			_ = vf.record(ctx, audit.Event{Kind: "locked", Result: "caller", Detail: d.String()})
			reason = "caller number locked after repeated wrong answers"
		}
	}
	locked, d, err := l.Fail(ctx, lockout.Account, vf.acct.ID)
	if err != nil {
		return true, vf.unavailable(ctx, err)
	}
	if locked {
		vf.log.Warn("account locked", "account", vf.acct.ID, "for", d)
		_ = vf.record(ctx, audit.Event{Kind: "locked", Result: "account", Detail: d.String()})
		reason = "account locked after repeated wrong answers"
	}
	if reason != "" {
		vf.outcome.Failed = append(vf.outcome.Failed, vf.queue[vf.cur].ch.Method)
		return true, vf.finish(ctx, call.StatusLocked, reason, nil)
	}
	return false, nil
}

// verified finishes a verification whose questions are all answered.
func (vf *Verification) verified(ctx context.Context) error {
	if vf.plan.Sensitive {
		// Defence in depth behind policy validation: a sensitive intent is
		// never verified without a knowledge check and a code.
		var k, o bool
		for _, m := range vf.outcome.Passed {
			k = k || m.Knowledge()
			o = o || m == call.MethodOTP
		}
		if !k || !o {
			return vf.finish(ctx, call.StatusUnverified, "sensitive intent without knowledge check and one-time code", nil)
		}
	}
	if call.LevelOf(vf.outcome.Passed) < vf.plan.Level {
		// The caller number never verifies, whatever the policy built in
		// code says: only knowledge and possession factors count.
		return vf.finish(ctx, call.StatusUnverified, fmt.Sprintf("assurance below the %s this intent needs (the caller number alone proves nothing)", vf.plan.Level), nil)
	}
	l := vf.v.lock
	if vf.ani != "" {
		if err := l.Clear(ctx, lockout.Caller, vf.ani); err != nil {
			return vf.unavailable(ctx, err)
		}
	}
	if err := l.Clear(ctx, lockout.Account, vf.acct.ID); err != nil {
		return vf.unavailable(ctx, err)
	}
	return vf.finish(ctx, call.StatusVerified, "", nil)
}

// unavailable ends the verification unverified because a dependency failed.
func (vf *Verification) unavailable(ctx context.Context, err error) error {
	return vf.finish(ctx, call.StatusUnverified, "verification unavailable; treat the caller as unverified", fmt.Errorf("%w: %w", ErrUnavailable, err))
}

// finish sets the final outcome, records it, and returns cause (or the
// audit failure). A verified outcome that cannot be recorded is downgraded:
// an unlock with no audit record must not happen.
func (vf *Verification) finish(ctx context.Context, st call.VerificationStatus, reason string, cause error) error {
	vf.step = StepDone
	vf.outcome.Status = st
	vf.outcome.Reason = reason
	vf.setLevel()
	ev := audit.Event{Kind: "outcome", Result: string(st), Detail: reason}
	if err := vf.v.trail.Record(ctx, vf.event(ev)); err != nil {
		if st == call.StatusVerified {
			vf.outcome.Status = call.StatusUnverified
			vf.outcome.Reason = unrecorded
			vf.setLevel()
		}
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		vf.log.Error("audit record failed", "err", err)
		if cause == nil {
			cause = err
		}
	}
	acct := ""
	if vf.acct != nil {
		acct = vf.acct.ID
	}
	vf.log.Info("verification done", "status", vf.outcome.Status, "level", vf.outcome.Level, "intent", vf.plan.Intent,
		"caller", vf.outcome.Identity.CallerMasked, "account", acct,
		"passed", vf.outcome.Passed, "failed", vf.outcome.Failed, "risk", vf.outcome.Risk, "reason", vf.outcome.Reason)
	return cause
}

// setLevel sets the outcome's assurance from the factors passed, and the
// account's identity when the level allows it. A failed or locked
// verification keeps no level: a wrong answer casts doubt on the right
// ones, and whoever is being locked out is likely guessing. Nor does an
// outcome that could not be recorded.
func (vf *Verification) setLevel() {
	o := &vf.outcome
	o.Level = call.LevelOf(o.Passed)
	if o.Status == call.StatusFailed || o.Status == call.StatusLocked || o.Reason == unrecorded {
		o.Level = call.AssuranceNone
	}
	o.Identity = call.Identity{CallerMasked: o.Identity.CallerMasked}
	if o.Level >= call.AssuranceOne && vf.acct != nil {
		a := vf.acct
		o.Identity.AccountID, o.Identity.Name, o.Identity.Language = a.ID, a.Name, a.Language
		o.Identity.MaskedPhone = phone.Mask(a.Phones[0])
	}
}

const unrecorded = "verification could not be recorded; treat the caller as unverified"

func (vf *Verification) event(e audit.Event) audit.Event {
	e.At = vf.v.now()
	e.CallID = vf.req.CallID
	e.Intent = vf.req.Intent
	e.Caller = vf.outcome.Identity.CallerMasked
	if vf.acct != nil {
		e.Account = vf.acct.ID
	}
	return e
}

// record appends an event; when it cannot, the verification ends
// unverified (fail closed) and the error is returned.
func (vf *Verification) record(ctx context.Context, e audit.Event) error {
	if err := vf.v.trail.Record(ctx, vf.event(e)); err != nil {
		return vf.unavailable(ctx, err)
	}
	return nil
}

// LanguageHint is the language of the one account registered to number,
// for choosing the prompts' language before the caller is verified: a
// number proves nothing about who calls, so this must never verify,
// identify or unlock anything, and it reveals no more than the language
// the prompts are spoken in. ok is false when the number is unknown,
// shared by several accounts, or the directory cannot answer.
func (v *Verifier) LanguageHint(ctx context.Context, number string) (lang string, ok bool) {
	n, err := phone.Normalize(number)
	if err != nil {
		return "", false
	}
	accts, err := v.dir.ByPhone(ctx, n)
	if err != nil || len(accts) != 1 || accts[0].Language == "" {
		return "", false
	}
	return accts[0].Language, true
}
