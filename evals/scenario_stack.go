package evals

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/callbrief/callbrief/app"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/nlu"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/policy"
)

// ScenarioStack is what every scenario call shares: the trained models,
// routing, roster, policy and accounts. Each call gets its own store,
// queue, verifier and clock on top (see RunScenarios), so that one
// scenario's lockouts or queue cannot decide another's.
type ScenarioStack struct {
	Understander pipeline.Understander
	Taxonomy     *taxonomy.Taxonomy
	Router       *handoff.Router
	Roster       *handoff.Roster
	Policy       *policy.Policy
	Accounts     []accounts.Account
	// KB suggests articles for briefs; nil: the kb brief field is not
	// scored (there is nothing to suggest from).
	KB  handoff.KB
	Log *slog.Logger
}

// StackOptions changes the served stack's parts; every change is named in
// the report (see Overrides).
type StackOptions struct {
	// Config is the configuration to build from; the zero value means
	// config.Default(), what `serve` runs with no file or flag.
	Config *config.Config
	// Intents replaces the served intent model (tests of the gate use a
	// broken one).
	Intents nlu.IntentClassifier
	KB      handoff.KB
	Log     *slog.Logger
}

// DefaultScenarioStack builds the scenarios' stack through the composition
// root (package app) from the configuration `serve` would run with, so a
// scenario measures the served understanding, routing, roster, policy and
// accounts rather than a copy wired separately.
func DefaultScenarioStack(ctx context.Context, opt StackOptions) (*ScenarioStack, error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := config.Default()
	if opt.Config != nil {
		cfg = *opt.Config
	}
	// Every turn waits for its utterance's embedding, so that a scenario's
	// outcome is the served model's and not the machine's load (the
	// served wait bound is measured by the app benchmark).
	cfg.Intent.EmbedWait = 0
	under, err := app.Understanding(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("evals: scenario stack: %w", err)
	}
	if opt.Intents != nil {
		under.Intents = opt.Intents
	}
	d, err := app.LoadData(cfg, under.Taxonomy)
	if err != nil {
		return nil, fmt.Errorf("evals: scenario stack: %w", err)
	}
	return &ScenarioStack{
		Understander: under, Taxonomy: under.Taxonomy, Router: d.Router, Roster: d.Roster, Policy: d.Policy, Accounts: d.Accounts,
		KB: opt.KB, Log: log,
	}, nil
}
