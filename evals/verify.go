package evals

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/verify"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/otp"
	"github.com/callbrief/callbrief/verify/phone"
	"github.com/callbrief/callbrief/verify/policy"
)

// VerifyConfig configures the scripted-caller evaluation of verification.
type VerifyConfig struct {
	Policy   *policy.Policy
	Accounts []accounts.Account
	// NewStore returns a fresh store for one scenario, so that one
	// scenario's lockouts do not decide another's. now is the simulated
	// clock, for stores that can follow it (the in-process one).
	NewStore func(scenario string, now func() time.Time) (store.Store, error)
	// Guesses per brute-force scenario (default 10,000).
	Guesses int
	Seed    uint64
	Log     *slog.Logger
}

// VerifyScenario is one scripted caller population's results.
type VerifyScenario struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Expect: "accept" (genuine callers), "reject" (impostors) or
	// "handoff" (emergencies: handed over at once, unverified).
	Expect   string         `json:"expect"`
	Calls    int            `json:"calls"`
	Guesses  int            `json:"guesses,omitempty"` // answers tried (brute force)
	Statuses map[string]int `json:"statuses"`
	// FalseAccepts: impostor calls verified. FalseRejects: genuine calls
	// not verified (or emergencies held up by a question).
	FalseAccepts int `json:"false_accepts"`
	FalseRejects int `json:"false_rejects"`
	// LockoutsTriggered: verifications ended by a new lock; RefusedLocked:
	// calls refused at once because the number or account was locked.
	LockoutsTriggered int     `json:"lockouts_triggered"`
	RefusedLocked     int     `json:"refused_locked"`
	Questions         int     `json:"questions_asked"`
	SimulatedHours    float64 `json:"simulated_hours,omitempty"`
	Errors            int     `json:"errors"`
}

// VerifyReport is the whole evaluation.
type VerifyReport struct {
	Store        string           `json:"store"`
	Accounts     int              `json:"accounts"`
	Scenarios    []VerifyScenario `json:"scenarios"`
	GenuineCalls int              `json:"genuine_calls"`
	ImpostorCall int              `json:"impostor_calls"`
	FalseAccepts int              `json:"false_accepts"`
	FalseRejects int              `json:"false_rejects"`
	FAR          float64          `json:"false_accept_rate"`
	FRR          float64          `json:"false_reject_rate"`
}

// simClock is the evaluation's clock: brute force over simulated hours
// runs in seconds while lock expiry and night mode behave as in real time.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *simClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bench is one scenario's verifier and its surroundings.
type bench struct {
	v   *verify.Verifier
	gw  *otp.DevGateway
	clk *simClock
	st  store.Store
	sc  *VerifyScenario
	rng *rand.Rand
	n   int
}

var codeRe = regexp.MustCompile(`\d{4,10}`)

// RunVerify runs every scenario.
func RunVerify(ctx context.Context, cfg VerifyConfig) (*VerifyReport, error) {
	if cfg.Guesses <= 0 {
		cfg.Guesses = 10000
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Accounts) < 3 {
		return nil, fmt.Errorf("%w: need at least 3 accounts", ErrDataset)
	}
	loc := cfg.Policy.Location()
	day := time.Date(2025, 3, 3, 10, 0, 0, 0, loc)
	night := time.Date(2025, 3, 3, 23, 30, 0, 0, loc)
	rep := &VerifyReport{Accounts: len(cfg.Accounts)}
	dir := accounts.NewMemory(cfg.Accounts)
	target := cfg.Accounts[3%len(cfg.Accounts)]

	scenarios := []struct {
		name, desc, expect string
		start              time.Time
		run                func(ctx context.Context, b *bench) error
	}{
		{"genuine_order_status", "each customer asks about an order from a registered number and answers correctly", "accept", day,
			func(ctx context.Context, b *bench) error {
				for _, a := range cfg.Accounts {
					if err := b.genuineCall(ctx, a, a.Phones[0], "order_status", dtmfOrSpeech(b.n)); err != nil {
						return err
					}
				}
				return nil
			}},
		{"genuine_unlock_day", "each customer asks for an account unlock by day: number, two questions, one-time code", "accept", day,
			func(ctx context.Context, b *bench) error {
				for _, a := range cfg.Accounts {
					if err := b.genuineCall(ctx, a, a.Phones[0], "account_unlock", dtmfOrSpeech(b.n)); err != nil {
						return err
					}
				}
				return nil
			}},
		{"genuine_unlock_night", "the same at 23:30: night mode drops the second question, keeps the code", "accept", night,
			func(ctx context.Context, b *bench) error {
				for _, a := range cfg.Accounts {
					if err := b.genuineCall(ctx, a, a.Phones[0], "device_unlock", dtmfOrSpeech(b.n)); err != nil {
						return err
					}
				}
				return nil
			}},
		{"genuine_other_phone", "each customer calls from a relative's phone and names their account: one extra question", "accept", day,
			func(ctx context.Context, b *bench) error {
				for i, a := range cfg.Accounts {
					if err := b.genuineCall(ctx, a, fmt.Sprintf("+86150%08d", 30000000+i), "order_status", verify.Speech); err != nil {
						return err
					}
				}
				return nil
			}},
		{"wrong_answers", "a caller with the customer's phone but not their details answers every question wrongly", "reject", day,
			func(ctx context.Context, b *bench) error {
				for _, a := range cfg.Accounts {
					if err := b.guessCall(ctx, a, a.Phones[0], "order_status", nil); err != nil {
						return err
					}
				}
				return nil
			}},
		{"brute_force_one_number", fmt.Sprintf("%d guesses from one unregistered number against one account, a call every 20 s", cfg.Guesses), "reject", day,
			func(ctx context.Context, b *bench) error {
				budget := cfg.Guesses
				for budget > 0 {
					if err := b.guessCall(ctx, target, "+8617099990000", "order_status", &budget); err != nil {
						return err
					}
					b.clk.add(20 * time.Second)
				}
				return nil
			}},
		{"brute_force_many_numbers", fmt.Sprintf("%d guesses against one account, each call from a new number, a call every 5 s", cfg.Guesses), "reject", day,
			func(ctx context.Context, b *bench) error {
				budget := cfg.Guesses
				for budget > 0 {
					caller := fmt.Sprintf("+86171%08d", b.rng.IntN(100000000))
					if err := b.guessCall(ctx, target, caller, "order_status", &budget); err != nil {
						return err
					}
					b.clk.add(5 * time.Second)
				}
				return nil
			}},
		{"replayed_otp", "an impostor who knows the customer's details spoofs the number and replays a code from an earlier call", "reject", day,
			func(ctx context.Context, b *bench) error {
				for _, a := range cfg.Accounts {
					code, err := b.lastCode(ctx, a)
					if err != nil {
						return err
					}
					if err := b.replayCall(ctx, a, code); err != nil {
						return err
					}
				}
				return nil
			}},
		{"spoofed_number", "an impostor spoofs the registered number at night for a device unlock and guesses", "reject", night,
			func(ctx context.Context, b *bench) error {
				for _, a := range cfg.Accounts {
					if err := b.guessCall(ctx, a, a.Phones[0], "device_unlock", nil); err != nil {
						return err
					}
				}
				return nil
			}},
		{"emergency_night", "a caller in danger, number withheld, at 23:30: handed over at once, unverified", "handoff", night,
			func(ctx context.Context, b *bench) error {
				for range len(cfg.Accounts) {
					if err := b.emergencyCall(ctx); err != nil {
						return err
					}
				}
				return nil
			}},
	}

	for i, s := range scenarios {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		clk := &simClock{t: s.start}
		st, err := cfg.NewStore(s.name, clk.now)
		if err != nil {
			return nil, fmt.Errorf("evals: verify %s: %w", s.name, err)
		}
		rep.Store = st.Name()
		gw := otp.NewDevGateway(nil, 0)
		v, err := verify.New(verify.Config{Policy: cfg.Policy, Directory: dir, Store: st, Gateway: gw, Now: clk.now,
			Log: cfg.Log.With("scenario", s.name)})
		if err != nil {
			st.Close()
			return nil, err
		}
		sc := VerifyScenario{Name: s.name, Description: s.desc, Expect: s.expect, Statuses: map[string]int{}}
		b := &bench{v: v, gw: gw, clk: clk, st: st, sc: &sc, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i)))}
		err = s.run(ctx, b)
		st.Close()
		if err != nil {
			return nil, fmt.Errorf("evals: verify %s: %w", s.name, err)
		}
		sc.SimulatedHours = clk.now().Sub(s.start).Hours()
		rep.Scenarios = append(rep.Scenarios, sc)
		rep.FalseAccepts += sc.FalseAccepts
		rep.FalseRejects += sc.FalseRejects
		switch s.expect {
		case "accept":
			rep.GenuineCalls += sc.Calls
		case "reject":
			rep.ImpostorCall += sc.Calls
		}
	}
	if rep.ImpostorCall > 0 {
		rep.FAR = float64(rep.FalseAccepts) / float64(rep.ImpostorCall)
	}
	if rep.GenuineCalls > 0 {
		rep.FRR = float64(rep.FalseRejects) / float64(rep.GenuineCalls)
	}
	return rep, nil
}

func dtmfOrSpeech(n int) verify.Source {
	if n%2 == 0 {
		return verify.DTMF
	}
	return verify.Speech
}

// start opens a call and, if the number named no account, identifies it
// by account ID as the caller would say it.
func (b *bench) start(ctx context.Context, a accounts.Account, caller, intent string) (*verify.Verification, error) {
	b.n++
	b.sc.Calls++
	vf, err := b.v.Start(ctx, verify.Request{CallID: fmt.Sprintf("%s-%d", b.sc.Name, b.n), Caller: caller, Intent: intent})
	if err != nil {
		b.sc.Errors++
		return vf, nil // counted; the outcome says unverified
	}
	if vf.Next().Kind == verify.StepIdentify {
		if _, err := vf.Identify(ctx, accounts.KindAccountID, a.ID); err != nil {
			b.sc.Errors++
		}
	}
	return vf, nil
}

// finish scores one call.
func (b *bench) finish(vf *verify.Verification, questions int) {
	o := vf.Outcome()
	b.sc.Statuses[string(o.Status)]++
	b.sc.Questions += questions
	if o.Status == call.StatusLocked {
		if questions == 0 {
			b.sc.RefusedLocked++
		} else {
			b.sc.LockoutsTriggered++
		}
	}
	switch b.sc.Expect {
	case "accept":
		if !o.Verified() {
			b.sc.FalseRejects++
		}
	case "reject":
		if o.Verified() {
			b.sc.FalseAccepts++
		}
	case "handoff":
		if !o.Emergency || questions > 0 || o.Verified() {
			b.sc.FalseRejects++
		}
	}
}

// answerFor is what the genuine customer answers.
func (b *bench) answerFor(a accounts.Account, ch verify.Challenge) string {
	switch ch.Method {
	case call.MethodIMEI:
		for _, d := range a.Devices {
			if d.Model == ch.Hint && len(d.IMEI) >= ch.Digits {
				return d.IMEI[len(d.IMEI)-ch.Digits:]
			}
		}
	case call.MethodOrder:
		if len(a.Orders) > 0 {
			return a.Orders[len(a.Orders)-1].Number
		}
	case call.MethodPhoneDigits:
		for _, p := range a.Phones {
			if len(ch.Hint) >= 3 && strings.HasPrefix(phone.Mask(p), ch.Hint[:3]) {
				return phone.Last(p, ch.Digits)
			}
		}
	case call.MethodOTP:
		// The customer reads the code off the SMS on their phone.
		if text, ok := b.gw.LastTo(a.Phones[0]); ok {
			return codeRe.FindString(text)
		}
	}
	return ""
}

func speak(src verify.Source, d string) string {
	if src == verify.DTMF {
		return d + "#"
	}
	return strings.Join(strings.Split(d, ""), " ")
}

func (b *bench) genuineCall(ctx context.Context, a accounts.Account, caller, intent string, src verify.Source) error {
	vf, err := b.start(ctx, a, caller, intent)
	if err != nil {
		return err
	}
	q := 0
	for vf.Next().Kind == verify.StepChallenge && q < 10 {
		ch := vf.Next().Challenge
		q++
		if _, err := vf.Answer(ctx, src, speak(src, b.answerFor(a, ch))); err != nil {
			b.sc.Errors++
		}
	}
	b.finish(vf, q)
	return nil
}

// guessCall answers every question with a random guess of the right
// length. budget, when set, counts guesses: each answer uses one, and a
// call refused outright uses one (the attempt was made).
func (b *bench) guessCall(ctx context.Context, a accounts.Account, caller, intent string, budget *int) error {
	vf, err := b.start(ctx, a, caller, intent)
	if err != nil {
		return err
	}
	q := 0
	for vf.Next().Kind == verify.StepChallenge && (budget == nil || *budget > 0) {
		ch := vf.Next().Challenge
		n := ch.Digits
		if n == 0 {
			n = 14
		}
		guess := make([]byte, n)
		for i := range guess {
			guess[i] = byte('0' + b.rng.IntN(10))
		}
		q++
		b.sc.Guesses++
		if budget != nil {
			*budget--
		}
		if _, err := vf.Answer(ctx, verify.DTMF, string(guess)+"#"); err != nil {
			b.sc.Errors++
		}
	}
	if q == 0 && budget != nil {
		*budget--
		b.sc.Guesses++
	}
	b.finish(vf, q)
	return nil
}

// lastCode has the genuine customer complete a data recovery call and
// returns the code they used: what a shoulder-surfer or a compromised
// SMS log would give an impostor. The genuine call itself is not scored.
func (b *bench) lastCode(ctx context.Context, a accounts.Account) (string, error) {
	b.n++
	vf, _ := b.v.Start(ctx, verify.Request{CallID: fmt.Sprintf("%s-genuine-%d", b.sc.Name, b.n), Caller: a.Phones[0], Intent: "data_recovery"})
	var code string
	for i := 0; vf.Next().Kind == verify.StepChallenge && i < 10; i++ {
		ch := vf.Next().Challenge
		ans := b.answerFor(a, ch)
		if ch.Method == call.MethodOTP {
			code = ans
		}
		_, _ = vf.Answer(ctx, verify.DTMF, ans)
	}
	if !vf.Outcome().Verified() || code == "" {
		return "", fmt.Errorf("genuine call before the replay was not verified: %s", vf.Outcome().Reason)
	}
	return code, nil
}

func (b *bench) replayCall(ctx context.Context, a accounts.Account, code string) error {
	vf, err := b.start(ctx, a, a.Phones[0], "data_recovery")
	if err != nil {
		return err
	}
	q := 0
	for vf.Next().Kind == verify.StepChallenge && q < 10 {
		ch := vf.Next().Challenge
		q++
		ans := b.answerFor(a, ch)
		if ch.Method == call.MethodOTP {
			ans = code
		}
		if _, err := vf.Answer(ctx, verify.DTMF, ans); err != nil {
			b.sc.Errors++
		}
	}
	b.finish(vf, q)
	return nil
}

func (b *bench) emergencyCall(ctx context.Context) error {
	b.n++
	b.sc.Calls++
	vf, err := b.v.Start(ctx, verify.Request{CallID: fmt.Sprintf("%s-%d", b.sc.Name, b.n), Caller: "anonymous", Intent: "emergency_safety"})
	if err != nil {
		b.sc.Errors++
	}
	q := 0
	if vf.Next().Kind != verify.StepDone {
		q = 1 // any question at all is a failure for an emergency
	}
	b.finish(vf, q)
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r *VerifyReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report as a Markdown table.
func (r *VerifyReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Verification evaluation\n\nStore: %s. Accounts: %d. Genuine calls: %d, impostor calls: %d.\n\n",
		r.Store, r.Accounts, r.GenuineCalls, r.ImpostorCall)
	fmt.Fprintf(&b, "**False accepts: %d (rate %.4f). False rejects: %d (rate %.4f).**\n\n", r.FalseAccepts, r.FAR, r.FalseRejects, r.FRR)
	b.WriteString("| scenario | expect | calls | guesses | verified | failed | locked | unverified | false accepts | false rejects | lockouts triggered | refused while locked | questions | simulated h | errors |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %.1f | %d |\n",
			s.Name, s.Expect, s.Calls, s.Guesses, s.Statuses["verified"], s.Statuses["failed"], s.Statuses["locked"],
			s.Statuses["unverified"], s.FalseAccepts, s.FalseRejects, s.LockoutsTriggered, s.RefusedLocked, s.Questions, s.SimulatedHours, s.Errors)
	}
	b.WriteString("\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "- **%s**: %s\n", s.Name, s.Description)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
