package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/verify"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/phone"
)

// Call errors.
var (
	// ErrHangup: the caller hung up before the handoff.
	ErrHangup = errors.New("pipeline: caller hung up")
	// ErrCallConfig: the call was assembled without a required stage.
	ErrCallConfig = errors.New("pipeline: call configuration")
)

// State is where one call stands.
type State string

// States of a call, in order; a call may skip Verifying (emergency, asks
// for a human) and ends in Done or Failed.
const (
	StateListening     State = "listening"
	StateUnderstanding State = "understanding"
	StateVerifying     State = "verifying"
	StateHandingOff    State = "handing_off"
	StateDone          State = "done"
	StateFailed        State = "failed"
)

// Transition is one state change, for logs, tests and the brief's timing.
type Transition struct {
	State State         `json:"state"`
	At    time.Duration `json:"at"` // since the call started
}

// Transcriber turns caller audio into text. mode is asr.ModeDigits for
// answers to verification questions.
type Transcriber interface {
	Transcribe(ctx context.Context, samples []int16, mode asr.Mode) (call.Transcript, error)
}

// Understanding is what the understanding stages made of the caller's
// words.
type Understanding struct {
	Intent    call.IntentResult
	Slots     []call.Slot
	Urgency   call.Urgency
	Language  call.LanguageResult
	Emergency bool // the intent is an emergency one
	// Policy is the verification policy entry the intent is checked by,
	// from the taxonomy; empty: the policy's fallback.
	Policy string
}

// Understander runs intent, slots, urgency and language on a turn.
type Understander interface {
	Understand(ctx context.Context, text string, asrTag call.Language) (Understanding, error)
}

// Handoff hands the call over; *handoff.Engine implements it.
type Handoff interface {
	Handoff(ctx context.Context, req handoff.Request) (handoff.Brief, error)
}

// Prompt is what the call asks the caller.
type Prompt struct {
	// Identify asks for an account, IMEI, serial or order number.
	Identify bool
	// LanguageMenu asks which language the caller wants ("普通话请按1，
	// 广东话请按2，For English press 3"), by key or by saying it.
	LanguageMenu bool
	Challenge    verify.Challenge
}

// Answer is the caller's reply to a prompt: keys, recorded speech, or
// text (a transcript already made, for tests and typed input).
type Answer struct {
	DTMF  string
	Audio []int16
	Text  string
	// Kind names what the caller identifies with, for Identify prompts;
	// default: an order number.
	Kind   accounts.IDKind
	Hangup bool
}

// Ingress is where a call comes from: the opening turn and the answers.
// Offline it is a WAV file and a scenario; live, a WebRTC or SIP leg.
type Ingress interface {
	// Caller is the number the network presented (any format; empty when
	// withheld) and the caller's region when the network tells it.
	Caller() (number, region string)
	// Opening returns the caller's first turn, 16 kHz mono.
	Opening(ctx context.Context) ([]int16, error)
	// Answer waits for the reply to p. A caller who says nothing blocks
	// until ctx is done (the call's answer timeout).
	Answer(ctx context.Context, p Prompt) (Answer, error)
}

// Adapter is an Ingress that fits its prompts to the caller: once the
// opening turn is understood (their language or variety; "please speak
// slower"), and when the caller's account says they are elderly. Offline
// ingresses need not implement it.
type Adapter interface {
	Adapt(a Adaptation)
}

// MenuOfferer is an Ingress with a caller who can answer a menu there and
// then (a live call); a recording cannot, so offline ingresses are never
// asked.
type MenuOfferer interface {
	OffersMenus() bool
}

// Adaptation is what the prompts should now be.
type Adaptation struct {
	// Language detected, call.LangUndetermined when not known (keep the
	// current one).
	Language call.Language
	// Slower asks for slower speech from now on.
	Slower bool
	// Why, for the log.
	Why string
}

// slowerPhrases are what callers say to be spoken to more slowly.
var slowerPhrases = []string{"slow down", "speak slower", "more slowly", "speak slowly", "too fast",
	"慢一点", "慢一些", "慢点", "说慢", "讲慢", "太快", "慢啲", "慢慢讲", "讲慢啲"}

// SlowerRequested reports whether the caller asks to be spoken to more
// slowly.
func SlowerRequested(text string) bool {
	t := strings.ToLower(text)
	for _, p := range slowerPhrases {
		if strings.Contains(t, p) {
			return true
		}
	}
	return false
}

// elderly reports whether an account's service flags ask for the pace of
// an elderly caller.
func elderly(flags []string) bool { return slices.Contains(flags, "elderly") }

// CallConfig assembles calls.
type CallConfig struct {
	Transcriber  Transcriber
	Understander Understander
	// Verifier checks identity; nil hands every call over unverified.
	Verifier *verify.Verifier
	Handoff  Handoff
	// AnswerTimeout bounds each wait for an answer; default 10s.
	AnswerTimeout time.Duration
	// MaxPrompts bounds the questions of one call; default 12.
	MaxPrompts int
	Now        func() time.Time
	// Log receives the call's events; it carries the call's id (call_id),
	// which RunCall does not add again.
	Log *slog.Logger
}

// Result is one call's end.
type Result struct {
	CallID      string        `json:"call_id"`
	Brief       handoff.Brief `json:"brief"`
	Transitions []Transition  `json:"transitions"`
	Understood  Understanding `json:"-"`
	Wall        time.Duration `json:"wall"`
}

// RunCall drives one call from its ingress to the handoff. It owns no
// goroutine after it returns; cancelling ctx ends it promptly with
// ctx's error.
func RunCall(ctx context.Context, cfg CallConfig, callID string, in Ingress) (Result, error) {
	if cfg.Transcriber == nil || cfg.Understander == nil || cfg.Handoff == nil {
		return Result{}, fmt.Errorf("%w: transcriber, understander and handoff are required", ErrCallConfig)
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = 10 * time.Second
	}
	if cfg.MaxPrompts <= 0 {
		cfg.MaxPrompts = 12
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	// cfg.Log already names the call (its ingress made the id and logged
	// with it first); adding call_id again would print it twice.
	c := &callRun{cfg: cfg, in: in, log: cfg.Log, start: time.Now(), res: Result{CallID: callID}}
	err := c.run(ctx)
	c.res.Wall = time.Since(c.start)
	if err != nil {
		c.to(StateFailed)
		c.log.Warn("call failed", "err", err, "transitions", c.res.Transitions)
		return c.res, err
	}
	c.to(StateDone)
	return c.res, nil
}

type callRun struct {
	cfg    CallConfig
	in     Ingress
	log    *slog.Logger
	start  time.Time
	res    Result
	slower bool // told the ingress already
}

// adapt tells an Adapter ingress how to speak from now on.
func (c *callRun) adapt(a Adaptation) {
	ad, ok := c.in.(Adapter)
	if !ok {
		return
	}
	if c.slower && a.Language == "" {
		return // nothing new
	}
	c.slower = c.slower || a.Slower
	c.log.Info("prompts adapted", "language", a.Language, "slower", a.Slower, "why", a.Why)
	ad.Adapt(a)
}

// adaptToAccount slows the prompts for a caller whose account is flagged
// elderly, once the account is known.
func (c *callRun) adaptToAccount(vf *verify.Verification) {
	if a, ok := vf.Account(); ok && !c.slower && elderly(a.Flags) {
		c.adapt(Adaptation{Slower: true, Why: "account flagged elderly"})
	}
}

func (c *callRun) to(s State) {
	c.res.Transitions = append(c.res.Transitions, Transition{State: s, At: time.Since(c.start)})
	c.log.Debug("call state", "state", s)
}

func (c *callRun) run(ctx context.Context) error {
	number, region := c.in.Caller()
	req := handoff.Request{CallID: c.res.CallID, Region: region, Reason: "understood"}
	if n, err := phone.Normalize(number); err == nil {
		req.Caller = n
	}

	c.to(StateListening)
	pcm, err := c.in.Opening(ctx)
	if err != nil {
		return fmt.Errorf("pipeline: opening turn: %w", err)
	}
	tr, err := c.cfg.Transcriber.Transcribe(ctx, pcm, asr.ModeFree)
	unheard := ""
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// A recognizer that fails (a speech server timing out) must not
		// lose the caller: the call goes on unheard, to a human, and the
		// brief says why.
		c.log.Warn("opening turn not recognised; handing over unheard", "err", err)
		tr, unheard = call.Transcript{}, "recognition failed"
	}
	tr.CallID = c.res.CallID
	req.Transcript = tr

	c.to(StateUnderstanding)
	text := tr.Text()
	var u Understanding
	if strings.TrimSpace(text) == "" {
		req.Reason = "no speech"
		if unheard != "" {
			req.Reason = unheard
		}
		u.Intent = call.IntentResult{Intent: call.IntentOutOfScope, Rejected: true}
		u.Language = call.LanguageResult{Language: call.LangUndetermined}
	} else {
		var tag call.Language
		if len(tr.Segments) > 0 {
			tag = tr.Segments[0].Language
		}
		if u, err = c.cfg.Understander.Understand(ctx, text, tag); err != nil {
			return fmt.Errorf("pipeline: understand: %w", err)
		}
	}
	c.res.Understood = u
	slower := SlowerRequested(text)
	c.adapt(Adaptation{Language: u.Language.Language, Slower: slower,
		Why: map[bool]string{true: "caller's language; asked to speak slower", false: "caller's language"}[slower]})
	req.Intent, req.Slots, req.Urgency, req.Language = u.Intent, u.Slots, u.Urgency, u.Language
	req.WantsHuman = u.Intent.Intent == "human_agent" || WantsHuman(text)
	emergency := u.Emergency || u.Urgency.Level >= call.UrgencyEmergency

	switch {
	case emergency:
		req.Reason = "emergency"
	case req.WantsHuman:
		req.Reason = "asked for a human"
	}
	bareChinese := len(tr.Segments) > 0 && tr.Segments[0].Language == call.LangChinese
	if !emergency && c.menuWanted(ctx, req.Language, req.Caller, bareChinese) {
		if err := c.languageMenu(ctx, &req); err != nil {
			return err
		}
	}
	req.Verification = call.VerificationOutcome{Status: call.StatusUnverified, Intent: string(u.Intent.Intent), Emergency: emergency, At: c.cfg.Now()}
	if c.cfg.Verifier != nil && !req.WantsHuman {
		if err := c.verify(ctx, &req, number, u.Policy, emergency); err != nil {
			return err
		}
	} else if req.WantsHuman {
		req.Verification.Reason = "caller asked for a human before verification"
	}

	// The hotline's priors decide a variety the transcript cannot show.
	if l := languagePrior(req.Language, req.Caller, req.Account, bareChinese); l.Language != req.Language.Language {
		c.log.Info("language revised by prior", "from", req.Language.Language, "to", l.Language, "source", l.Source)
		req.Language = l
		c.res.Understood.Language = l
		c.adapt(Adaptation{Language: l.Language, Why: "the account's language or the number's region"})
	}
	if !emergency && strings.TrimSpace(text) != "" {
		c.refineIntent(ctx, &req, text, u)
	}
	c.to(StateHandingOff)
	req.At = c.cfg.Now()
	b, err := c.cfg.Handoff.Handoff(ctx, req)
	c.res.Brief = b
	if err != nil {
		return fmt.Errorf("pipeline: handoff: %w", err)
	}
	c.log.Info("call handed over", "intent", req.Intent.Intent, "verification", req.Verification.Status,
		"group", b.Route.Group, "priority", b.Route.Priority, "reason", req.Reason)
	return nil
}

// refineIntent asks the understander for a second answer to the turn's
// intent (nlu.Refiner: e5 was late for the first) and lets the route and
// the brief take it. It runs only when the first answer was no emergency:
// an emergency is never held up or undone. Verification was run for the
// first answer and stands.
func (c *callRun) refineIntent(ctx context.Context, req *handoff.Request, text string, u Understanding) {
	r, ok := c.cfg.Understander.(IntentRefiner)
	if !ok {
		return
	}
	nu, changed, err := r.RefineIntent(ctx, text, u)
	if err != nil {
		c.log.Warn("second intent answer failed; the first stands", "err", err)
		return
	}
	if !changed {
		return
	}
	if nu.Intent.Intent != u.Intent.Intent {
		c.log.Info("intent revised with e5", "from", u.Intent.Intent, "to", nu.Intent.Intent, "confidence", nu.Intent.Confidence)
	}
	c.res.Understood.Intent, c.res.Understood.Emergency, c.res.Understood.Policy = nu.Intent, nu.Emergency, nu.Policy
	c.res.Understood.Urgency = nu.Urgency
	req.Intent, req.Urgency = nu.Intent, nu.Urgency
	if nu.Intent.Intent == "human_agent" {
		req.WantsHuman = true
	}
	switch {
	case nu.Emergency || nu.Urgency.Level >= call.UrgencyEmergency:
		req.Reason = "emergency"
	case req.WantsHuman && (req.Reason == "" || req.Reason == "understood"):
		req.Reason = "asked for a human"
	}
	if nu.Policy != u.Policy && req.Verification.Status == call.StatusVerified {
		// Verification asked what the first answer's policy wanted; the
		// agent is told that the intent changed after it.
		req.Verification.Reason = strings.TrimPrefix(req.Verification.Reason+
			fmt.Sprintf("; verified for %s (policy %s), intent revised to %s (policy %s)", u.Intent.Intent, u.Policy, nu.Intent.Intent, nu.Policy), "; ")
	}
}

// verify runs the verification dialogue. Emergencies start it with an
// emergency intent, which records the audit event and asks nothing.
func (c *callRun) verify(ctx context.Context, req *handoff.Request, number, intent string, emergency bool) error {
	c.to(StateVerifying)
	if intent == "" {
		intent = fallbackPolicy
	}
	if emergency && !strings.HasPrefix(intent, "emergency_") {
		intent = "emergency_safety"
	}
	vf, err := c.cfg.Verifier.Start(ctx, verify.Request{CallID: req.CallID, Caller: number, Intent: intent})
	if err != nil {
		c.log.Warn("verification ended early", "err", err)
	}
	for prompts := 0; ; prompts++ {
		c.adaptToAccount(vf) // known from the number, or once identified
		if err := ctx.Err(); err != nil {
			return err
		}
		step := vf.Next()
		if step.Kind == verify.StepDone {
			break
		}
		if prompts >= c.cfg.MaxPrompts {
			c.log.Warn("too many prompts; handing over unverified")
			break
		}
		p := Prompt{Identify: step.Kind == verify.StepIdentify, Challenge: step.Challenge}
		actx, cancel := context.WithTimeout(ctx, c.cfg.AnswerTimeout)
		ans, aerr := c.in.Answer(actx, p)
		cancel()
		switch {
		case aerr != nil && ctx.Err() != nil:
			return ctx.Err()
		case aerr != nil && errors.Is(aerr, context.DeadlineExceeded):
			ans = Answer{} // silence: counts as no input
		case aerr != nil:
			return fmt.Errorf("pipeline: answer: %w", aerr)
		}
		if ans.Hangup {
			return ErrHangup
		}
		src, text := verify.DTMF, ans.DTMF
		if ans.DTMF == "" {
			src, text = verify.Speech, ans.Text
			if len(ans.Audio) > 0 {
				tr, err := c.cfg.Transcriber.Transcribe(ctx, ans.Audio, asr.ModeDigits)
				if err != nil {
					return err
				}
				text = tr.Text()
			}
		}
		if src == verify.Speech && WantsHuman(text) {
			// Honoured at any point: the caller is handed over now, as
			// unverified as they are.
			req.WantsHuman = true
			req.Reason = "asked for a human"
			break
		}
		if p.Identify {
			kind := ans.Kind
			if kind == "" {
				kind = accounts.KindOrder
			}
			if src == verify.DTMF {
				text = verify.Digits(verify.DTMF, text)
			}
			_, err = vf.Identify(ctx, kind, text)
		} else {
			_, err = vf.Answer(ctx, src, text)
		}
		if err != nil && !errors.Is(err, verify.ErrUnavailable) {
			return fmt.Errorf("pipeline: verify: %w", err)
		}
		if req.WantsHuman {
			break
		}
	}
	c.adaptToAccount(vf)
	req.Verification = vf.Outcome()
	if req.WantsHuman && vf.Next().Kind != verify.StepDone {
		req.Verification.Reason = "caller asked for a human during verification"
	}
	if a, ok := vf.Account(); ok {
		req.Account = &a
	}
	return nil
}

// humanPhrases are what callers say to reach a person.
var humanPhrases = []string{"human", "real person", "an agent", "operator", "representative", "人工", "真人", "客服", "转接"}

// WantsHuman reports whether the caller asks for a person.
func WantsHuman(text string) bool {
	t := strings.ToLower(text)
	for _, p := range humanPhrases {
		if strings.Contains(t, p) {
			return true
		}
	}
	return false
}

// fallbackPolicy is the policy entry of an intent the taxonomy gives
// none (the policy file's own fallback_intent applies to it).
const fallbackPolicy = "general_inquiry"

// ListenTranscriber is the Transcriber over the listener: VAD, endpointing
// and the recognizer, one fresh detector per turn.
type ListenTranscriber struct {
	NewDetector func() (vad.Detector, error)
	Recognizer  asr.Recognizer
	Config      ListenConfig
	RealTime    bool
	// TurnsAtOnce is how many utterances of a recording (not paced in
	// real time) are recognised at once (turns.go); 0 or 1: one after
	// another.
	TurnsAtOnce int
	Log         *slog.Logger
}

// Transcribe implements Transcriber.
func (t ListenTranscriber) Transcribe(ctx context.Context, samples []int16, mode asr.Mode) (call.Transcript, error) {
	det, err := t.NewDetector()
	if err != nil {
		return call.Transcript{}, fmt.Errorf("pipeline: vad: %w", err)
	}
	cfg := t.Config
	cfg.Stream.Mode = mode
	rec := t.Recognizer
	if !t.RealTime && t.TurnsAtOnce > 1 {
		rec = turnsAtOnce{Recognizer: rec, n: t.TurnsAtOnce}
	}
	tr, _, err := Transcribe(ctx, samples, det, rec, cfg, FileOptions{RealTime: t.RealTime}, t.Log)
	return tr, err
}

// menuWanted says whether to offer the language menu: the recognizer heard
// Chinese but cannot tell Cantonese from Mandarin (it writes both as
// standard Chinese), the words show no variety, and nothing the hotline
// knows decides it (a Hong Kong or Macau number, the language of the one
// account registered to the number). Registered and Hong Kong callers are
// not asked; a caller on an unknown mainland number is asked once, before
// any question, so the questions come in their language.
func (c *callRun) menuWanted(ctx context.Context, l call.LanguageResult, number string, bareChinese bool) bool {
	if mo, ok := c.in.(MenuOfferer); !ok || !mo.OffersMenus() || !bareChinese {
		return false
	}
	if l.Language != call.LangMandarin && l.Language != call.LangChinese {
		return false
	}
	if languagePrior(l, number, nil, true).Language != l.Language {
		return false // the number's region decides
	}
	if c.cfg.Verifier != nil {
		if _, ok := c.cfg.Verifier.LanguageHint(ctx, number); ok {
			return false // the account's language decides, after verification
		}
	}
	return true
}

// menuChoices are the keys and the words that choose a language.
var menuChoices = []struct {
	key   string
	words []string
	lang  call.Language
}{
	{"1", []string{"普通话", "普通話", "国语", "國語", "mandarin"}, call.LangMandarin},
	{"2", []string{"广东话", "廣東話", "粤语", "粵語", "白话", "白話", "cantonese"}, call.LangCantonese},
	{"3", []string{"english", "英文", "英语", "英語"}, call.LangEnglish},
}

// languageMenu asks the caller to choose a language and, on a choice,
// makes it the call's: the prompts, the route (the dialect line) and the
// agent's language follow it, with the evidence named. No choice (a
// timeout, another key) keeps what was decided.
func (c *callRun) languageMenu(ctx context.Context, req *handoff.Request) error {
	wait := min(c.cfg.AnswerTimeout, 6*time.Second)
	actx, cancel := context.WithTimeout(ctx, wait)
	ans, err := c.in.Answer(actx, Prompt{LanguageMenu: true})
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		c.log.Info("language menu: no choice", "kept", req.Language.Language)
		return nil
	case err != nil:
		return fmt.Errorf("pipeline: language menu: %w", err)
	case ans.Hangup:
		return ErrHangup
	}
	said := strings.ToLower(ans.Text)
	if ans.DTMF == "" && len(ans.Audio) > 0 {
		tr, err := c.cfg.Transcriber.Transcribe(ctx, ans.Audio, asr.ModeFree)
		if err != nil {
			c.log.Warn("language menu: answer not recognised", "err", err)
			return nil
		}
		said = strings.ToLower(tr.Text())
	}
	for _, ch := range menuChoices {
		hit := strings.HasPrefix(ans.DTMF, ch.key)
		for _, w := range ch.words {
			hit = hit || (ans.DTMF == "" && strings.Contains(said, w))
		}
		if !hit {
			continue
		}
		was := req.Language
		l := call.LanguageResult{Language: ch.lang, Confidence: 1, Script: was.Script, Source: "caller-choice:keypad"}
		if ans.DTMF == "" {
			l.Source = "caller-choice:speech"
		}
		l.Alternatives = append([]call.LanguageScore{{Language: was.Language, Confidence: was.Confidence}}, was.Alternatives...)
		req.Language = l
		c.res.Understood.Language = l
		c.adapt(Adaptation{Language: ch.lang, Why: "the caller's choice on the language menu"})
		c.log.Info("language chosen by the caller", "from", was.Language, "to", ch.lang, "source", l.Source)
		return nil
	}
	c.log.Info("language menu: no choice", "kept", req.Language.Language)
	return nil
}
