package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/callbrief/callbrief/app"
	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/evals"
	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/nlu"
	"github.com/callbrief/callbrief/nlu/linear"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/policy"
)

// suiteRunners are the evaluations `callbrief eval run` can list, each
// built from the same engines and configuration as the single commands.
func suiteRunners(c *common) map[string]evals.Runner {
	return map[string]evals.Runner{
		"intent": func(ctx context.Context, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress) (*evals.Evaluation, error) {
			return runIntentSpec(ctx, c, s, sp)
		},
		"dialect": func(ctx context.Context, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress) (*evals.Evaluation, error) {
			return runDialectSpec(ctx, c, s, sp)
		},
		"verify": func(ctx context.Context, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress) (*evals.Evaluation, error) {
			return runVerifySpec(ctx, c, sp)
		},
		"adversarial": func(ctx context.Context, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress) (*evals.Evaluation, error) {
			return runAdversarialSpec(ctx, c, sp)
		},
		"asr": func(ctx context.Context, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress) (*evals.Evaluation, error) {
			return runASRSpec(ctx, c, s, sp, p)
		},
		"scenarios": func(ctx context.Context, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress) (*evals.Evaluation, error) {
			return runScenarioSpec(ctx, c, s, sp, p)
		},
		"retrieval": func(ctx context.Context, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress) (*evals.Evaluation, error) {
			return runRetrievalSpec(ctx, c, s, sp)
		},
		"served": servedRunner(c),
	}
}

// sharedRoot is the public datasets' folder: the spec's data, else the
// default beside the repository.
func sharedRoot(s *evals.Suite, sp evals.EvalSpec) string {
	if sp.Data != "" {
		return s.Path(sp.Data)
	}
	return sharedDataDefault
}

// subsample keeps about n items spread over the whole list (datasets are
// often sorted by label, so the first n would be a few classes).
func subsample(items []evals.IntentItem, n int) []evals.IntentItem {
	if n <= 0 || n >= len(items) {
		return items
	}
	out := make([]evals.IntentItem, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, items[i*len(items)/n])
	}
	return out
}

// fraction keeps a seeded random share f of the training items.
func fraction(items []evals.IntentItem, f float64) []evals.IntentItem {
	if f <= 0 || f >= 1 {
		return items
	}
	s := append([]evals.IntentItem(nil), items...)
	r := rand.New(rand.NewPCG(11, 11))
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s[:max(1, int(f*float64(len(s))))]
}

func runIntentSpec(ctx context.Context, c *common, s *evals.Suite, sp evals.EvalSpec) (*evals.Evaluation, error) {
	var ds *evals.IntentDataset
	var err error
	hotline := sp.Dataset == "" || sp.Dataset == "hotline" || sp.Dataset == "hotline-cross" || sp.Dataset == "hotline-homophones"
	switch {
	case sp.Dataset == "hotline-homophones":
		ds, err = hotlineHomophoneDataset()
	case sp.Dataset == "hotline-cross":
		ds, err = hotlineCrossDataset(sharedRoot(s, sp))
	case hotline:
		ds, err = hotlineDataset()
	default:
		ds, err = evals.LoadNamedIntentDataset(sharedRoot(s, sp), sp.Dataset)
	}
	if err != nil {
		return nil, err
	}
	ds.Test = subsample(ds.Test, sp.Limit)
	if sp.Limit > 0 {
		ds.Name += fmt.Sprintf(", %d test utterances", len(ds.Test))
	}
	if sp.TrainFraction > 0 && sp.TrainFraction < 1 {
		ds.Train = fraction(ds.Train, sp.TrainFraction)
		ds.Name += fmt.Sprintf(", trained on %.0f%%", 100*sp.TrainFraction)
	}
	// The suite measures the sparse model unless the spec asks for the
	// served hybrid (dense: e5): embedding a public training set costs
	// minutes on a fresh machine, past the CI suite's budget.
	cfg := c.cfg
	if sp.Dense != "" {
		cfg.Intent.Dense = sp.Dense
		// The model's figure, not the machine's load: every turn waits
		// for its embedding (the served bound is measured by the app
		// benchmark).
		cfg.Intent.EmbedWait = 0
	} else {
		cfg.Intent.Dense = "none"
	}
	eng, err := app.NewEngines(cfg, c.log)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	fit, hybrid := eng.IntentTrainer(ctx)
	trainer := func(ctx context.Context, train, val []evals.IntentItem, oos string) (evals.IntentPredictor, error) {
		opt := linear.DefaultOptions()
		eo := nlu.EmbeddedOptions{Log: c.log}
		if hotline {
			// As served: the emergency rules, and the relevance model
			// fitted to the same training utterances.
			opt, eo.Rules = nlu.HotlineOptions(), nlu.DefaultRules
			var err error
			if eo, err = app.Guards(ctx, toExamples(train), cfg.Intent.OffTopic == "reject", eo); err != nil {
				return nil, err
			}
		}
		opt.OOSLabel = oos
		opt.Validation = toExamples(val)
		cl, err := fit(ctx, toExamples(train), opt, eo)
		if err != nil {
			return nil, err
		}
		return cl.Classify, nil
	}
	engine := "embedded linear model"
	if hybrid {
		engine += " + e5 head"
	}
	if hotline {
		engine += " + emergency rules"
	}
	var lat evals.LatencyRecorder
	rep, err := evals.RunIntent(ctx, engine, ds, evals.TimedIntentTrainer(trainer, &lat))
	if err != nil {
		return nil, err
	}
	return evals.IntentEvaluation(sp.Name, rep, &lat), nil
}

func runDialectSpec(ctx context.Context, c *common, s *evals.Suite, sp evals.EvalSpec) (*evals.Evaluation, error) {
	embedded := sp.Dataset == "embedded"
	if !embedded && sp.Dataset != "" && sp.Dataset != "shared" {
		return nil, fmt.Errorf("%w: dialect dataset %q is not embedded or shared", evals.ErrSuite, sp.Dataset)
	}
	load := func(split classifier.Split) ([]classifier.VarietyExample, error) {
		if embedded {
			return classifier.EmbeddedCorpus(split)
		}
		return classifier.SharedCorpus(sharedRoot(s, sp), split)
	}
	test, err := load(classifier.SplitTest)
	if err != nil {
		return nil, err
	}
	// The identifier the service runs (the same constructor and model
	// file); the test splits were held out of its training.
	id, err := app.LanguageIdentifier(ctx, c.cfg.Files.VarietyModel, c.log)
	if err != nil {
		return nil, err
	}
	items := make([]evals.DialectItem, len(test))
	for i, e := range test {
		items[i] = evals.DialectItem{Text: e.Text, Variety: e.Variety, Source: e.Source}
	}
	name := "held-out splits of HKCanCor, Tatoeba varieties and our text"
	if embedded {
		name = "held-out split of the built-in text"
	}
	var lat evals.LatencyRecorder
	rep, err := evals.RunDialect(ctx, "served: lingua-go + variety model (markers and character n-grams)", name, items, evals.TimedDialectPredictor(id.Identify, &lat))
	if err != nil {
		return nil, err
	}
	return evals.DialectEvaluation(sp.Name, rep, &lat), nil
}

func runVerifySpec(ctx context.Context, c *common, sp evals.EvalSpec) (*evals.Evaluation, error) {
	pol, err := policy.Default()
	if err != nil {
		return nil, err
	}
	accts, err := accounts.DemoAccounts()
	if err != nil {
		return nil, err
	}
	rep, err := evals.RunVerify(ctx, evals.VerifyConfig{Policy: pol, Accounts: accts, Guesses: sp.Guesses, Seed: 1, Log: c.log,
		// A fresh in-process store per scenario on the simulated clock, so
		// that lock expiry follows simulated time.
		NewStore: func(_ string, now func() time.Time) (store.Store, error) {
			return memory.New(memory.WithClock(now)), nil
		}})
	if err != nil {
		return nil, err
	}
	return evals.VerifyEvaluation(sp.Name, rep), nil
}

// runAdversarialSpec places the impostor calls through the stack `serve`
// builds from this run's configuration.
func runAdversarialSpec(ctx context.Context, c *common, sp evals.EvalSpec) (*evals.Evaluation, error) {
	rep, err := runAdversarial(ctx, c.cfg, c.log, evals.AdversarialConfig{Seed: 1})
	if err != nil {
		return nil, err
	}
	return evals.AdversarialEvaluation(sp.Name, rep), nil
}

// runAdversarial builds the served stack from cfg and runs the attacks.
func runAdversarial(ctx context.Context, cfg config.Config, log *slog.Logger, ac evals.AdversarialConfig) (*evals.AdversarialReport, error) {
	st, err := evals.BuildAdversarialStack(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ac.Stack = st
	return evals.RunAdversarial(ctx, ac)
}

func runASRSpec(ctx context.Context, c *common, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress) (*evals.Evaluation, error) {
	if sp.Data == "" {
		return nil, fmt.Errorf("%w: asr needs data: a folder with transcripts.tsv or a Sphinx transcription file", evals.ErrSuite)
	}
	dir := s.Path(sp.Data)
	items, err := evals.LoadASRDataset(dir)
	if err != nil {
		return nil, err
	}
	if sp.Language != "" {
		var keep []evals.ASRItem
		for _, it := range items {
			if string(it.Language) == sp.Language {
				keep = append(keep, it)
			}
		}
		items = keep
	}
	if sp.Limit > 0 && sp.Limit < len(items) {
		items = items[:sp.Limit]
	}
	eng, err := app.NewEngines(c.cfg, c.log)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	rec, err := eng.Recognizer()
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	var detName string
	run := func(ctx context.Context, it evals.ASRItem) (evals.ASRHypothesis, error) {
		defer p.Tick()
		var h evals.ASRHypothesis
		pcm, err := readAudio(it.File)
		if err != nil {
			return h, err
		}
		h.Audio = time.Duration(len(pcm)) * time.Second / vad.SampleRate
		det, err := eng.NewDetector()
		if err != nil {
			return h, err
		}
		detName = det.Name()
		tr, st, err := pipeline.Transcribe(ctx, pcm, det, rec, listenConfig(c, it.Language), pipeline.FileOptions{}, c.log)
		if err != nil {
			return h, err
		}
		h.Text, h.Process = tr.Text(), st.VADTime+st.ASRTime
		for _, u := range st.Utterances {
			h.EndpointDelays = append(h.EndpointDelays, u.EndpointDelay)
			h.FinalLatencies = append(h.FinalLatencies, u.FinalLatency)
		}
		return h, nil
	}
	p.Start(len(items))
	var lat evals.LatencyRecorder
	rep, err := evals.RunASR(ctx, rec.Name(), filepath.Base(dir), items, evals.TimedTranscriber(run, &lat))
	if err != nil {
		return nil, err
	}
	rep.Engine = rec.Name() + " + " + detName
	return evals.ASREvaluation(sp.Name, rep, &lat), nil
}

func runScenarioSpec(ctx context.Context, c *common, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress) (*evals.Evaluation, error) {
	path := s.Path(sp.Data)
	if sp.Data == "" {
		path = s.Path("scenarios")
	}
	scs, err := evals.LoadScenarios(path)
	if err != nil {
		return nil, err
	}
	if sp.Limit > 0 && sp.Limit < len(scs) {
		scs = scs[:sp.Limit]
	}
	rep, err := runScenarios(ctx, c, scs, sp.Modes, sp.KB, p)
	if err != nil {
		return nil, err
	}
	return evals.ScenarioEvaluation(sp.Name, rep), nil
}

// runScenarios runs call scenarios over the embedded default stack; audio
// mode uses the configured recognizer and VAD.
func runScenarios(ctx context.Context, c *common, scs []evals.CallScenario, modes []string, withKB bool, p *evals.Progress) (*evals.ScenarioReport, error) {
	eng, err := app.NewEngines(c.cfg, c.log)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	opt := evals.StackOptions{Log: c.log, Config: &c.cfg}
	if withKB {
		if opt.KB, err = eng.KB(ctx); err != nil {
			return nil, fmt.Errorf("scenarios with the knowledge base: %w", err)
		}
	}
	stack, err := evals.DefaultScenarioStack(ctx, opt)
	if err != nil {
		return nil, err
	}
	cfg := evals.ScenarioConfig{Stack: stack, Modes: modes, Progress: p}
	for _, m := range modes {
		if m != evals.ModeAudio {
			continue
		}
		rec, err := eng.Recognizer()
		if err != nil {
			return nil, err
		}
		defer rec.Close()
		cfg.Engine = rec.Name()
		cfg.Transcriber = pipeline.ListenTranscriber{NewDetector: eng.NewDetector, Recognizer: rec,
			Config: pipeline.ListenConfig{Endpoint: c.cfg.VAD.Endpoint}, TurnsAtOnce: pipeline.TurnsAtOnceFor(c.cfg.ASR.RecognitionServers()), Log: c.log}
		break
	}
	return evals.RunScenarios(ctx, cfg, scs)
}

func runRetrievalSpec(ctx context.Context, c *common, s *evals.Suite, sp evals.EvalSpec) (*evals.Evaluation, error) {
	queries := s.Path(sp.Data)
	if sp.Data == "" {
		return nil, fmt.Errorf("%w: retrieval needs data: a queries .jsonl file beside an articles folder", evals.ErrSuite)
	}
	qs, err := evals.LoadRetrievalQueries(queries)
	if err != nil {
		return nil, err
	}
	arts, err := kb.LoadDir(filepath.Join(filepath.Dir(queries), "articles"), kb.Limits{})
	if err != nil {
		return nil, err
	}
	key := sp.System
	if key == "" {
		key = "lexical"
	}
	sys, ok := retrievalSystems[key]
	if !ok {
		return nil, fmt.Errorf("%w: unknown retrieval system %q", evals.ErrSuite, key)
	}
	var k kbFlags
	k.register(flag.NewFlagSet("defaults", flag.ContinueOnError)) // the flags' defaults
	scratch, err := os.MkdirTemp("", "callbrief-eval-kb-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	rep, err := evalSystem(ctx, c, &k, sys, arts, qs, filepath.Base(queries), scratch, true, nil, 0, false)
	if err != nil {
		return nil, err
	}
	return evals.RetrievalEvaluation(sp.Name, rep), nil
}
