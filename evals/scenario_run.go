package evals

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/verify"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/otp"
)

// ScenarioConfig configures RunScenarios.
type ScenarioConfig struct {
	Stack *ScenarioStack
	// Modes to run, in order; default text only.
	Modes []string
	// Transcriber is the listening chain (VAD, endpointing, recognizer)
	// for audio mode; Engine names it in the report.
	Transcriber pipeline.Transcriber
	Engine      string
	// Synth speaks the turns in audio mode; default espeak-ng.
	Synth Synthesizer
	// AnswerTimeout is how long a question waits for a silent caller;
	// default 300 ms (offline, an answer is either there or never comes).
	AnswerTimeout time.Duration
	Progress      *Progress
	// SMSSent, when set, receives the text of every message the calls'
	// development SMS gateways send: the log-scanning test's list of codes
	// that must appear in no log line.
	SMSSent func(text string)
}

// teeGateway hands every message to a function as well.
type teeGateway struct {
	*otp.DevGateway
	sent func(string)
}

func (g teeGateway) Send(ctx context.Context, to, text string) error {
	g.sent(text)
	return g.DevGateway.Send(ctx, to, text)
}

// RunScenarios runs every scenario in every mode through the whole
// pipeline offline. A call that fails is scored as wrong on every count
// and reported with its error.
func RunScenarios(ctx context.Context, cfg ScenarioConfig, scs []CallScenario) (*ScenarioReport, error) {
	if cfg.Stack == nil {
		return nil, fmt.Errorf("%w: no stack", ErrScenario)
	}
	if len(cfg.Modes) == 0 {
		cfg.Modes = []string{ModeText}
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = 300 * time.Millisecond
	}
	if cfg.Synth == nil {
		cfg.Synth = Espeak{}
	}
	for _, m := range cfg.Modes {
		if m == ModeAudio && cfg.Transcriber == nil {
			return nil, fmt.Errorf("%w: audio mode needs a recognizer", ErrScenario)
		}
	}
	byID := map[string]accounts.Account{}
	for _, a := range cfg.Stack.Accounts {
		byID[a.ID] = a
	}
	rep := &ScenarioReport{Engine: cfg.Engine, KB: cfg.Stack.KB != nil}
	cfg.Progress.Start(len(scs) * len(cfg.Modes))
	for _, mode := range cfg.Modes {
		for i, sc := range scs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var acct *accounts.Account
			if a, ok := byID[sc.Account]; ok {
				acct = &a
			} else if sc.Account != "" {
				return nil, fmt.Errorf("%w: %s: account %q is not in the directory", ErrScenario, sc.ID, sc.Account)
			}
			res, err := runScenario(ctx, cfg, mode, i, sc, acct)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Outcomes = append(rep.Outcomes, score(sc, mode, res, err, rep.KB))
			cfg.Progress.Tick()
		}
	}
	rep.summarize(cfg.Modes)
	return rep, nil
}

// runScenario builds one call's own store, queue, verifier and clock over
// the shared stack and runs it.
func runScenario(ctx context.Context, cfg ScenarioConfig, mode string, idx int, sc CallScenario, acct *accounts.Account) (pipeline.Result, error) {
	st := cfg.Stack
	minutes, _ := sc.clock() // checked when loaded
	// A fixed Monday, so date-window routing rules (typhoon, exam season)
	// stay out of the way unless a scenario is about them.
	day := time.Date(2025, 3, 3, 0, 0, 0, 0, st.Policy.Location())
	startAt := day.Add(time.Duration(minutes) * time.Minute)
	wall := time.Now()
	now := func() time.Time { return startAt.Add(time.Since(wall)) }

	kv := memory.New(memory.WithClock(now))
	defer kv.Close()
	eng, err := handoff.NewEngine(handoff.Config{Router: st.Router, Roster: st.Roster, Queue: queue.NewMemory(), Store: kv,
		Taxonomy: st.Taxonomy, KB: st.KB, Now: now, Log: st.Log})
	if err != nil {
		return pipeline.Result{}, err
	}
	gw := otp.NewDevGateway(st.Log, 0)
	var sms otp.Gateway = gw
	if cfg.SMSSent != nil {
		sms = teeGateway{DevGateway: gw, sent: cfg.SMSSent}
	}
	v, err := verify.New(verify.Config{Policy: st.Policy, Directory: accounts.NewMemory(st.Accounts), Store: kv, Gateway: sms, Now: now, Log: st.Log})
	if err != nil {
		return pipeline.Result{}, err
	}
	voice := VoiceFor(sc.Voice, idx)
	turn := 0
	speak := func(ctx context.Context, text string, lang call.Language) ([]int16, error) {
		turn++
		pcm, err := cfg.Synth.Synthesize(ctx, text, lang, voice)
		if err != nil {
			return nil, err
		}
		return Telephone(pcm, voice.SNR, uint64(idx)<<8|uint64(turn))
	}
	var tr pipeline.Transcriber = textTranscriber{text: sc.Turns[0].Say}
	if mode == ModeAudio {
		tr = cfg.Transcriber
	}
	callLog := st.Log
	if callLog != nil {
		callLog = callLog.With("call_id", sc.ID+"-"+mode)
	}
	cc := pipeline.CallConfig{Transcriber: tr, Understander: st.Understander, Verifier: v, Handoff: eng,
		AnswerTimeout: cfg.AnswerTimeout, Now: now, Log: callLog}
	in := newScriptedCaller(sc, mode, acct, gw, speak)
	res, err := pipeline.RunCall(ctx, cc, sc.ID+"-"+mode, in)
	if errors.Is(err, pipeline.ErrHangup) {
		return res, fmt.Errorf("caller hung up before the handoff: %w", err)
	}
	return res, err
}
