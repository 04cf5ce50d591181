package evals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/callbrief/callbrief/app"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/phone"
)

// The adversarial evaluation places impostor calls through the stack
// `serve` builds (app.BuildStack: the served understanding, verifier,
// store and handoff engine), for every intent of the taxonomy, by day and
// by night, and reads each impostor's brief as the desk would (the stored
// brief) for what it gives away of the victim's account.

// Attacks, in the order they run.
const (
	AttackSpoofed     = "spoofed_number"  // the victim's number, no other factor
	AttackGuessed     = "guessed_answers" // the victim's number and a guess at every question
	AttackReplayCode  = "replayed_code"   // the victim's last one-time code, keyed to every question
	AttackReplayKeys  = "replayed_keys"   // every key of the victim's earlier call, in order
	AttackManyNumbers = "many_numbers"    // a new number every call, naming the victim by an order number
	AttackRace        = "lockout_race"    // concurrent calls at the account's lockout threshold
)

// Fields an impostor may read in a brief; none is allowed to any of them.
var LeakFields = []string{"name", "account_id", "phones", "devices", "imei", "orders", "history", "flags"}

// AdversarialConfig configures RunAdversarial.
type AdversarialConfig struct {
	Stack *AdversarialStack
	// Victims per intent, time of day and attack (default 3); Numbers:
	// calls of the many-numbers attack per intent and time (default 30);
	// Racers: calls of the race (default the account's lockout threshold
	// plus 6: the threshold plus 2 that cross it, 4 that answer after).
	Victims, Numbers, Racers int
	Seed                     uint64
	// Intents limits the run to these intents (tests); default all.
	Intents []string
	// noRace is for the test that shows the race can fail: it skips the
	// wrong answers, so the late callers meet no lock.
	noRace bool
}

// AdversarialStack is the served stack on a settable clock.
type AdversarialStack struct {
	Engines *app.Engines
	Stack   *app.Stack
	Clock   *SimClock
	// Overrides says what differs from `serve` (reported).
	Overrides []string
	log       *slog.Logger
}

// SimClock is a clock the evaluation sets: calls by day and by night, and
// days between attacks so that one attack's lockouts are over before the
// next.
type SimClock struct{ c simClock }

// Now returns the clock's time.
func (s *SimClock) Now() time.Time { return s.c.now() }

// Set moves the clock.
func (s *SimClock) Set(t time.Time) { s.c.mu.Lock(); s.c.t = t; s.c.mu.Unlock() }

// Add moves the clock on.
func (s *SimClock) Add(d time.Duration) { s.c.add(d) }

// BuildAdversarialStack builds the stack from cfg exactly as `serve` does
// (app.NewEngines, app.BuildStack), on a simulated clock. The one change:
// every turn waits for its embedding (intent.embed_wait 0), so the intent
// an impostor's opening lands on is the model's and not the machine's
// load, as in the scenario evaluation.
func BuildAdversarialStack(ctx context.Context, cfg config.Config, log *slog.Logger) (*AdversarialStack, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Two thousand calls at info would bury the run's log; warnings (the
	// lockouts the attacks set off) and errors still show.
	log = slog.New(minLevel{log.Handler(), slog.LevelWarn})
	var over []string
	if cfg.Intent.EmbedWait != 0 {
		over = append(over, "intent.embed_wait=0")
	}
	cfg.Intent.EmbedWait = 0
	if cfg.SMS.Gateway != "dev" {
		// The genuine callers read their codes where the development
		// gateway keeps them; no real phone is there to receive one.
		return nil, fmt.Errorf("evals: adversarial: needs sms.gateway dev (got %q): the genuine callers read their one-time codes from it", cfg.SMS.Gateway)
	}
	eng, err := app.NewEngines(cfg, log)
	if err != nil {
		return nil, err
	}
	clk := &SimClock{}
	clk.Set(time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC))
	st, err := app.BuildStack(ctx, eng.WithClock(clk.Now))
	if err != nil {
		eng.Close()
		return nil, fmt.Errorf("evals: adversarial stack: %w", err)
	}
	if cfg.Store.Shared() {
		over = append(over, "shared store: lockouts keep real time, so attacks on one victim can meet an earlier attack's lock")
	}
	return &AdversarialStack{Engines: eng, Stack: st, Clock: clk, Overrides: over, log: log}, nil
}

// Close releases the stack and its engines.
func (a *AdversarialStack) Close() error {
	return errors.Join(a.Stack.Close(), a.Engines.Close())
}

// AttackResult is one attack's figures, over every intent and both times.
type AttackResult struct {
	Attack      string `json:"attack"`
	Description string `json:"description"`
	Calls       int    `json:"calls"`
	Guesses     int    `json:"guesses"`
	// FalseAccepts: impostor calls that ended verified or with any factor
	// passed (assurance one or more).
	FalseAccepts int            `json:"false_accepts"`
	Statuses     map[string]int `json:"statuses"`
	// Leaks counts, per field, the impostor calls whose brief showed it.
	Leaks map[string]int `json:"leaks"`
	// LeakedFields is the sum of Leaks.
	LeakedFields int `json:"leaked_fields"`
	// Refused: calls ended locked before any question.
	Refused int `json:"refused_locked"`
	// NotApplicable says where the attack was not placed, and why.
	NotApplicable []string `json:"not_applicable,omitempty"`
	Errors        []string `json:"errors,omitempty"`
}

// IntentCell is one intent at one time of day.
type IntentCell struct {
	Intent string `json:"intent"`
	Night  bool   `json:"night"`
	// Opening is what the impostors said; Landed is the intent the served
	// model made of it (the cell only counts as covered when they match).
	Opening      string `json:"opening"`
	Landed       string `json:"landed"`
	Calls        int    `json:"calls"`
	FalseAccepts int    `json:"false_accepts"`
	LeakedFields int    `json:"leaked_fields"`
	// LockedAfterRace: a fresh call naming the race's victim was refused.
	LockedAfterRace bool `json:"locked_after_race"`
	// GenuineVerified: the victims' own calls (before the replays) that
	// verified; zero where the intent verifies nobody.
	GenuineVerified int `json:"genuine_verified"`
	GenuineCalls    int `json:"genuine_calls"`
}

// AdversarialReport is the whole run.
type AdversarialReport struct {
	Stack        string         `json:"stack"`
	Overrides    []string       `json:"overrides,omitempty"`
	Intents      int            `json:"intents"`
	Covered      int            `json:"cells_covered"`
	Cells        []IntentCell   `json:"cells"`
	Attacks      []AttackResult `json:"attacks"`
	Calls        int            `json:"calls"`
	FalseAccepts int            `json:"false_accepts"`
	LeakedFields int            `json:"leaked_fields"`
	Errors       int            `json:"errors"`
	Seconds      float64        `json:"seconds"`
}

// opening is one utterance that lands on an intent.
type opening struct{ text, lang string }

type advRun struct {
	cfg     AdversarialConfig
	st      *app.Stack
	clk     *SimClock
	cc      pipeline.CallConfig
	accts   []accounts.Account
	rng     *rand.Rand
	rngMu   sync.Mutex
	seq     int
	seqMu   sync.Mutex
	attacks map[string]*AttackResult
	mu      sync.Mutex
	epoch   int
	base    time.Time // the first epoch's day: after whatever the clock held
	rep     *AdversarialReport
}

// RunAdversarial places every attack for every intent by day and night.
func RunAdversarial(ctx context.Context, cfg AdversarialConfig) (*AdversarialReport, error) {
	if cfg.Stack == nil {
		return nil, fmt.Errorf("%w: adversarial: no stack", ErrScenario)
	}
	if cfg.Victims <= 0 {
		cfg.Victims = 3
	}
	if cfg.Numbers <= 0 {
		cfg.Numbers = 30
	}
	st := cfg.Stack.Stack
	pol := st.Data.Policy
	if cfg.Racers <= 0 {
		cfg.Racers = pol.Lockout.Account.Failures + 6
	}
	if len(st.Data.Accounts) < 3 {
		return nil, fmt.Errorf("%w: need at least 3 accounts", ErrDataset)
	}
	t0 := time.Now()
	cc := st.CallConfig(cfg.Stack.Engines, nil, false, cfg.Stack.log)
	// The impostors answer at once; the wait bounds only the race's
	// barrier, where calls wait for each other on two cores.
	cc.AnswerTimeout = time.Minute
	r := &advRun{cfg: cfg, st: st, clk: cfg.Stack.Clock, cc: cc, accts: st.Data.Accounts,
		rng: rand.New(rand.NewPCG(cfg.Seed, 0xad)), attacks: map[string]*AttackResult{},
		rep: &AdversarialReport{Stack: "app.BuildStack (served understanding, verifier, store " + st.KV.Name() + ", handoff engine)", Overrides: cfg.Stack.Overrides}}
	for _, a := range []struct{ name, desc string }{
		{AttackSpoofed, "the victim's number presented (spoofed), nothing else: no answer to any question"},
		{AttackGuessed, "the victim's number presented and a random guess of the right length at every question"},
		{AttackReplayCode, "the victim's number presented and the one-time code of the victim's last verified call keyed to every question"},
		{AttackReplayKeys, "the victim's number presented and every key of the victim's earlier verified call of the same intent, in order (knowledge answers and the code)"},
		{AttackManyNumbers, fmt.Sprintf("%d calls, each from a new number, naming the victim by an order number and guessing every question, one every 5 s", cfg.Numbers)},
		{AttackRace, fmt.Sprintf("%d concurrent calls from different numbers naming the victim: %d wrong answers at once across the account's threshold (%d), then %d right answers in calls that began before the lock",
			cfg.Racers, cfg.Racers-4, pol.Lockout.Account.Failures, 4)},
	} {
		r.attacks[a.name] = &AttackResult{Attack: a.name, Description: a.desc, Statuses: map[string]int{}, Leaks: map[string]int{}}
	}
	intents := st.Taxonomy.Intents()
	for _, in := range intents {
		if len(cfg.Intents) > 0 && !slices.Contains(cfg.Intents, in.ID) {
			continue
		}
		r.rep.Intents++
		ops, landed, err := r.openings(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		for _, night := range []bool{false, true} {
			// Where no training utterance lands on the intent, the attacks
			// run on the first one (landing elsewhere) and the cell does
			// not count as covered.
			cell := IntentCell{Intent: in.ID, Night: night, Landed: landed, Opening: ops[0].text}
			if landed == in.ID {
				r.rep.Covered++
			}
			if err := r.cell(ctx, &cell, ops); err != nil {
				return nil, err
			}
			r.rep.Cells = append(r.rep.Cells, cell)
		}
	}
	for _, name := range []string{AttackSpoofed, AttackGuessed, AttackReplayCode, AttackReplayKeys, AttackManyNumbers, AttackRace} {
		a := r.attacks[name]
		for _, n := range a.Leaks {
			a.LeakedFields += n
		}
		r.rep.Attacks = append(r.rep.Attacks, *a)
		r.rep.Calls += a.Calls
		r.rep.FalseAccepts += a.FalseAccepts
		r.rep.LeakedFields += a.LeakedFields
		r.rep.Errors += len(a.Errors)
	}
	r.rep.Seconds = time.Since(t0).Seconds()
	return r.rep, nil
}

// openings finds training utterances (one per language at most) that the
// served understanding lands on intent, and not on an emergency or a
// request for a person unless that is the intent.
func (r *advRun) openings(ctx context.Context, intent string) ([]opening, string, error) {
	us, err := r.st.Taxonomy.Train()
	if err != nil {
		return nil, "", err
	}
	in, _ := r.st.Taxonomy.Lookup(intent)
	var out []opening
	seen := map[string]bool{}
	var first opening
	landed := ""
	for _, u := range us {
		if u.Intent != intent || seen[u.Lang] {
			continue
		}
		got, err := r.st.Under.Understand(ctx, u.Text, "")
		if err != nil {
			return nil, "", err
		}
		if first.text == "" {
			first, landed = opening{text: u.Text, lang: u.Lang}, string(got.Intent.Intent)
		}
		emergency := got.Emergency || got.Urgency.Level >= call.UrgencyEmergency
		if string(got.Intent.Intent) != intent || emergency != in.Emergency || pipeline.WantsHuman(u.Text) != (intent == "human_agent") {
			continue
		}
		seen[u.Lang] = true
		out = append(out, opening{text: u.Text, lang: u.Lang})
		if len(out) == 3 {
			break
		}
	}
	if len(out) > 0 {
		return out, intent, nil
	}
	if first.text == "" {
		return nil, "", fmt.Errorf("%w: adversarial: intent %s has no training utterance", ErrScenario, intent)
	}
	return []opening{first}, landed, nil
}

// at moves the clock to a fresh epoch: three days after the last (the
// first three days after the clock's time when the run began), so every
// lock and strike of the attack before has run out, at 10:00 or 23:30 in
// the policy's zone. Runs on one stack follow each other in time.
func (r *advRun) at(night bool) {
	loc := r.st.Data.Policy.Location()
	if r.base.IsZero() {
		y, mo, d := r.clk.Now().In(loc).Date()
		r.base = time.Date(y, mo, d, 0, 0, 0, 0, loc).AddDate(0, 0, 3)
	}
	h, m := 10, 0
	if night {
		h, m = 23, 30
	}
	r.clk.Set(r.base.AddDate(0, 0, 3*r.epoch).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute))
	r.epoch++
}

func (r *advRun) victim(cell, j int) accounts.Account {
	return r.accts[(cell*r.cfg.Victims+j)%len(r.accts)]
}

func (r *advRun) callID(tag string) string {
	r.seqMu.Lock()
	defer r.seqMu.Unlock()
	r.seq++
	return fmt.Sprintf("adv-%s-%d", tag, r.seq)
}

func (r *advRun) guess(n int) string {
	if n <= 0 {
		n = 14
	}
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.rng.IntN(10))
	}
	return string(b)
}

func (r *advRun) newNumber() string {
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	return fmt.Sprintf("+86171%08d", r.rng.IntN(100000000))
}

func primary(a accounts.Account) string {
	if len(a.Phones) == 0 {
		return ""
	}
	n, err := phone.Normalize(a.Phones[0])
	if err != nil {
		return a.Phones[0]
	}
	return n
}

// cell runs every attack on one intent at one time of day.
func (r *advRun) cell(ctx context.Context, cell *IntentCell, ops []opening) error {
	ci := len(r.rep.Cells)
	op := func(j int) opening { return ops[j%len(ops)] }
	score := func(name string, o callOutcome) {
		cell.Calls++
		if o.falseAccept {
			cell.FalseAccepts++
		}
		cell.LeakedFields += len(o.leaks)
		r.record(name, o)
	}
	// (a) The victim's number, nothing else.
	r.at(cell.Night)
	for j := range r.cfg.Victims {
		v := r.victim(ci, j)
		score(AttackSpoofed, r.place(ctx, op(j), v, primary(v), &impostor{}))
	}
	// (b) The victim's number and guesses.
	r.at(cell.Night)
	for j := range r.cfg.Victims {
		v := r.victim(ci, j)
		score(AttackGuessed, r.place(ctx, op(j), v, primary(v), &impostor{guess: r.guess}))
	}
	// (c) Replays: the victim calls first (verified, not scored), then the
	// impostor keys what the victim keyed. Each replay gets its own epoch,
	// so that the first's wrong answers do not lock the second out before
	// its replayed code is judged.
	r.at(cell.Night)
	for j := range r.cfg.Victims {
		v := r.victim(ci, j)
		g := r.genuine(ctx, op(j), v)
		cell.GenuineCalls++
		if g.verified {
			cell.GenuineVerified++
		}
		code := g.code
		if code == "" {
			// The intent asks for no code: the victim's code from a call
			// that did (a data recovery) is what the impostor replays.
			code, _ = r.codeCall(ctx, v)
		}
		if code == "" {
			r.na(AttackReplayCode, fmt.Sprintf("%s (%s): the victim obtained no code", cell.Intent, dayNight(cell.Night)))
			continue
		}
		score(AttackReplayCode, r.place(ctx, op(j), v, primary(v), &impostor{replayAll: code, guess: r.guess}))
	}
	r.at(cell.Night)
	for j := range r.cfg.Victims {
		v := r.victim(ci, j)
		g := r.genuine(ctx, op(j), v)
		if g.code == "" {
			if j == 0 {
				r.na(AttackReplayKeys, fmt.Sprintf("%s (%s): the victim's call keyed no one-time code, so its keys are knowledge answers (a secret the impostor then has)", cell.Intent, dayNight(cell.Night)))
			}
			continue
		}
		score(AttackReplayKeys, r.place(ctx, op(j), v, primary(v), &impostor{replay: g.keys, guess: r.guess}))
	}
	// (d) Many numbers against one account.
	r.at(cell.Night)
	v := r.victim(ci, 0)
	for range r.cfg.Numbers {
		score(AttackManyNumbers, r.place(ctx, op(0), v, r.newNumber(), &impostor{identify: lastOrder(v), guess: r.guess}))
		r.clk.Add(5 * time.Second)
	}
	// (e) Calls racing the lockout.
	r.at(cell.Night)
	outs, locked, err := r.race(ctx, op(0), r.victim(ci, 1))
	if err != nil {
		return err
	}
	for _, o := range outs {
		score(AttackRace, o)
	}
	cell.LockedAfterRace = locked
	return nil
}

func dayNight(night bool) string {
	if night {
		return "night"
	}
	return "day"
}

func lastOrder(a accounts.Account) string {
	if len(a.Orders) == 0 {
		return ""
	}
	return a.Orders[len(a.Orders)-1].Number
}

func (r *advRun) na(attack, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.attacks[attack]
	a.NotApplicable = append(a.NotApplicable, why)
}

func (r *advRun) record(attack string, o callOutcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.attacks[attack]
	a.Calls++
	a.Guesses += o.guesses
	if o.err != "" {
		a.Errors = append(a.Errors, o.err)
		return
	}
	a.Statuses[o.status]++
	if o.falseAccept {
		a.FalseAccepts++
	}
	if o.refused {
		a.Refused++
	}
	for _, f := range o.leaks {
		a.Leaks[f]++
	}
}

// callOutcome is what one impostor call achieved.
type callOutcome struct {
	status      string
	falseAccept bool
	refused     bool
	guesses     int
	leaks       []string
	err         string
}

// place runs one impostor call and reads its brief.
func (r *advRun) place(ctx context.Context, op opening, victim accounts.Account, number string, imp *impostor) callOutcome {
	return r.placeVia(ctx, op, victim, number, imp, imp)
}

// placeVia is place with another ingress over imp (the race's callers).
func (r *advRun) placeVia(ctx context.Context, op opening, victim accounts.Account, number string, in pipeline.Ingress, imp *impostor) callOutcome {
	id := r.callID("imp")
	imp.number = number
	cc := r.cc
	cc.Transcriber = textTranscriber{text: op.text}
	res, err := pipeline.RunCall(ctx, cc, id, in)
	imp.mu.Lock()
	o := callOutcome{guesses: imp.guesses}
	questions := imp.questions
	imp.mu.Unlock()
	if err != nil {
		o.err = fmt.Sprintf("%s: %v", id, err)
		return o
	}
	b, err := r.st.Engine.Brief(ctx, id)
	if err != nil {
		b = res.Brief // kept in the outbox; what the desk will read
	}
	v := b.Verification
	o.status = string(v.Status)
	o.refused = v.Status == call.StatusLocked && questions == 0
	o.falseAccept = v.Verified() || v.Level >= call.AssuranceOne || b.Caller.Verified || b.Caller.Level >= call.AssuranceOne
	o.leaks = Readable(b, victim, imp.said())
	return o
}

// Readable lists what a brief shows of an account: the profile's parts,
// and any of the account's identifiers, names or numbers anywhere in the
// brief (summary, ticket, slots, suggestions), except what the caller
// gave themselves.
func Readable(b handoff.Brief, a accounts.Account, said []string) []string {
	js, _ := json.Marshal(b)
	text := string(js)
	has := func(vals ...string) bool {
		for _, v := range vals {
			if v != "" && !slices.Contains(said, v) && strings.Contains(text, v) {
				return true
			}
		}
		return false
	}
	p := b.Caller
	var out []string
	add := func(f string, ok bool) {
		if ok {
			out = append(out, f)
		}
	}
	add("name", p.Identity.Name != "" || b.Verification.Identity.Name != "" || has(a.Name, a.NameEn))
	add("account_id", p.Identity.AccountID != "" || b.Verification.Identity.AccountID != "" || has(a.ID))
	var phones []string
	for _, n := range a.Phones {
		phones = append(phones, n)
		if e, err := phone.Normalize(n); err == nil {
			phones = append(phones, e, strings.TrimPrefix(e, "+86"))
		}
	}
	add("phones", has(phones...))
	var imeis, serials, orders, tickets []string
	for _, d := range a.Devices {
		imeis = append(imeis, d.IMEI)
		serials = append(serials, d.Serial)
	}
	for _, o := range a.Orders {
		orders = append(orders, o.Number)
	}
	for _, s := range a.Service {
		tickets = append(tickets, s.Ticket)
	}
	add("devices", len(p.Devices) > 0 || has(serials...))
	add("imei", has(imeis...))
	add("orders", len(p.Orders) > 0 || has(orders...))
	add("history", len(p.Service) > 0 || has(tickets...))
	add("flags", len(p.Flags) > 0)
	return out
}

// impostor is an impostor's side of a call.
type impostor struct {
	number string
	// identify is the identifier named when asked (an order number).
	identify string
	// replay: keys given in order to the questions; replayAll: one key
	// sequence given to every question.
	replay    []string
	replayAll string
	// guess makes a guess of n digits; nil: the impostor says nothing.
	guess func(n int) string

	mu        sync.Mutex
	i         int
	guesses   int
	questions int
	keyed     []string
}

func (c *impostor) Caller() (string, string) { return c.number, "" }

func (c *impostor) Opening(ctx context.Context) ([]int16, error) {
	return make([]int16, 320), ctx.Err()
}

func (c *impostor) Answer(ctx context.Context, p pipeline.Prompt) (pipeline.Answer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.Identify {
		if c.identify == "" {
			return pipeline.Answer{}, nil // no identifier: nothing usable
		}
		c.keyed = append(c.keyed, c.identify)
		return pipeline.Answer{DTMF: c.identify, Kind: accounts.KindOrder}, nil
	}
	c.questions++
	var k string
	switch {
	case c.replayAll != "":
		k = c.replayAll
	case c.i < len(c.replay):
		k = c.replay[c.i]
		c.i++
	case c.guess != nil:
		k = c.guess(p.Challenge.Digits)
		c.guesses++
	default:
		return pipeline.Answer{}, nil // silence
	}
	c.keyed = append(c.keyed, k)
	return pipeline.Answer{DTMF: k + "#"}, nil
}

func (c *impostor) said() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.keyed)
}

// genuineResult is the victim's own call.
type genuineResult struct {
	brief    handoff.Brief
	verified bool
	keys     []string
	code     string
}

// genuineCaller answers as the account holder: they know their devices
// and orders, and read the code off their phone.
type genuineCaller struct {
	acct accounts.Account
	r    *advRun
	mu   sync.Mutex
	keys []string
	code string
}

func (g *genuineCaller) Caller() (string, string) { return primary(g.acct), "" }

func (g *genuineCaller) Opening(ctx context.Context) ([]int16, error) {
	return make([]int16, 320), ctx.Err()
}

func (g *genuineCaller) Answer(ctx context.Context, p pipeline.Prompt) (pipeline.Answer, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p.Identify {
		return pipeline.Answer{DTMF: lastOrder(g.acct), Kind: accounts.KindOrder}, nil
	}
	a := genuineAnswer(g.acct, p, g.r.st.Gateway)
	if p.Challenge.Method == call.MethodOTP {
		g.code = a
	}
	g.keys = append(g.keys, a)
	return pipeline.Answer{DTMF: a + "#"}, nil
}

func (r *advRun) genuine(ctx context.Context, op opening, a accounts.Account) genuineResult {
	g := &genuineCaller{acct: a, r: r}
	cc := r.cc
	cc.Transcriber = textTranscriber{text: op.text}
	res, err := pipeline.RunCall(ctx, cc, r.callID("victim"), g)
	g.mu.Lock()
	defer g.mu.Unlock()
	out := genuineResult{brief: res.Brief, keys: slices.Clone(g.keys), code: g.code}
	out.verified = err == nil && res.Brief.Verification.Verified()
	if !out.verified {
		out.code = "" // a code the call did not accept is no replay of a used one
	}
	return out
}

// codeCall has the victim verify a data recovery (which asks for a code)
// and returns the code they keyed.
func (r *advRun) codeCall(ctx context.Context, a accounts.Account) (string, bool) {
	us, err := r.st.Taxonomy.Train()
	if err != nil {
		return "", false
	}
	for _, in := range r.st.Taxonomy.Intents() {
		if in.Policy != "data_recovery" {
			continue
		}
		for _, u := range us {
			if u.Intent == in.ID {
				g := r.genuine(ctx, opening{text: u.Text}, a)
				return g.code, g.code != ""
			}
		}
	}
	return "", false
}

// racer is one call of the lockout race: it names the victim, waits at
// its first question for the others, then answers wrong (group W) or
// right (group C, released after every W answer was judged).
type racer struct {
	impostor
	right    func(p pipeline.Prompt) string
	release  <-chan struct{}
	parked   func()
	judged   func()
	answered bool
}

func (c *racer) Answer(ctx context.Context, p pipeline.Prompt) (pipeline.Answer, error) {
	if p.Identify {
		return c.impostor.Answer(ctx, p)
	}
	if !c.answered {
		c.parked()
		select {
		case <-c.release:
		case <-ctx.Done():
			return pipeline.Answer{}, ctx.Err()
		}
		c.answered = true
		c.mu.Lock()
		defer c.mu.Unlock()
		c.questions++
		if c.right != nil {
			k := c.right(p)
			c.keyed = append(c.keyed, k)
			return pipeline.Answer{DTMF: k + "#"}, nil
		}
		c.guesses++
		k := c.guess(p.Challenge.Digits)
		c.keyed = append(c.keyed, k)
		return pipeline.Answer{DTMF: k + "#"}, nil
	}
	if c.right == nil {
		// The wrong answer has been judged: say so, then say nothing
		// more (the call ends by the lock or for want of answers).
		c.judged()
		return pipeline.Answer{}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.questions++
	k := c.right(p)
	c.keyed = append(c.keyed, k)
	return pipeline.Answer{DTMF: k + "#"}, nil
}

// race runs the lockout race against victim and probes the lock after.
func (r *advRun) race(ctx context.Context, op opening, victim accounts.Account) ([]callOutcome, bool, error) {
	n := r.cfg.Racers
	late := 4
	if n <= late {
		return nil, false, fmt.Errorf("%w: adversarial: racers must be more than %d", ErrScenario, late)
	}
	releaseW, releaseC := make(chan struct{}), make(chan struct{})
	var parked, judged sync.WaitGroup
	parked.Add(n)
	judged.Add(n - late)
	outs := make([]callOutcome, n)
	var wg sync.WaitGroup
	for i := range n {
		var once, jonce sync.Once
		rc := &racer{impostor: impostor{identify: lastOrder(victim), guess: r.guess}}
		rc.parked = func() { once.Do(parked.Done) }
		rc.judged = func() {}
		if i < n-late {
			rc.release = releaseW
			rc.judged = func() { jonce.Do(judged.Done) }
		} else {
			rc.release = releaseC
			rc.right = func(p pipeline.Prompt) string {
				if p.Challenge.Method == call.MethodOTP {
					return r.guess(p.Challenge.Digits) // the code goes to the victim's phone
				}
				if a := genuineAnswer(victim, p, nil); a != "" {
					return a
				}
				return r.guess(p.Challenge.Digits)
			}
		}
		number := r.newNumber()
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = r.placeVia(ctx, op, victim, number, rc, &rc.impostor)
			// A call that ended before its question (an emergency, a
			// refusal) neither parks nor is judged.
			rc.parked()
			rc.judged()
		}()
	}
	parked.Wait()
	if !r.cfg.noRace {
		close(releaseW)
		judged.Wait()
	}
	close(releaseC)
	if r.cfg.noRace {
		close(releaseW)
	}
	wg.Wait()
	// The probe: a fresh call naming the victim is refused while the lock
	// holds.
	probe := r.place(ctx, op, victim, r.newNumber(), &impostor{identify: lastOrder(victim)})
	return outs, probe.status == string(call.StatusLocked), ctx.Err()
}

// WriteMarkdown writes the report's tables.
func (r *AdversarialReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Adversarial verification evaluation\n\nStack: %s. Intents: %d, cells (intent x day/night) covered: %d of %d. Impostor calls: %d in %.1f s.\n\n",
		r.Stack, r.Intents, r.Covered, len(r.Cells), r.Calls, r.Seconds)
	if len(r.Overrides) > 0 {
		fmt.Fprintf(&b, "Differs from serve: %s.\n\n", strings.Join(r.Overrides, "; "))
	}
	fmt.Fprintf(&b, "**False accepts: %d. Fields leaked to impostors: %d. Errors: %d.**\n\n", r.FalseAccepts, r.LeakedFields, r.Errors)
	b.WriteString("| attack | calls | guesses | false accepts | leaked fields | refused while locked | statuses | readable by impostors |\n|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, a := range r.Attacks {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %s | %s |\n", a.Attack, a.Calls, a.Guesses, a.FalseAccepts, a.LeakedFields, a.Refused, counts(a.Statuses), leakText(a.Leaks))
	}
	b.WriteString("\n| intent | time | opening lands on | calls | false accepts | leaked fields | locked after race | victims verified |\n|---|---|---|---:|---:|---:|---|---:|\n")
	for _, c := range r.Cells {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d | %v | %d/%d |\n", c.Intent, dayNight(c.Night), c.Landed, c.Calls, c.FalseAccepts, c.LeakedFields, c.LockedAfterRace, c.GenuineVerified, c.GenuineCalls)
	}
	b.WriteString("\n")
	for _, a := range r.Attacks {
		fmt.Fprintf(&b, "- **%s**: %s.", a.Attack, a.Description)
		if len(a.NotApplicable) > 0 {
			fmt.Fprintf(&b, " Not placed in %d cells (e.g. %s).", len(a.NotApplicable), a.NotApplicable[0])
		}
		if len(a.Errors) > 0 {
			fmt.Fprintf(&b, " Errors: %d (first: %s).", len(a.Errors), a.Errors[0])
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *AdversarialReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func leakText(m map[string]int) string {
	var parts []string
	for _, f := range LeakFields {
		if m[f] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", f, m[f]))
		}
	}
	if len(parts) == 0 {
		return "nothing of the account"
	}
	return strings.Join(parts, ", ")
}

// minLevel passes on records at or above its level only.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}
func (h minLevel) WithGroup(g string) slog.Handler { return minLevel{h.Handler.WithGroup(g), h.min} }
