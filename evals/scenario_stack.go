package evals

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/callbrief/callbrief/classifier"
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

// StackOptions changes the default stack's parts.
type StackOptions struct {
	// Intents classifies intents; nil trains the hotline model from the
	// embedded taxonomy (well under a second).
	Intents nlu.IntentClassifier
	KB      handoff.KB
	Log     *slog.Logger
}

// DefaultScenarioStack is the embedded default of every stage: the
// hotline intent model and rules, the variety model trained on the
// built-in text, the default routing, demo roster, default policy and demo
// accounts (the accounts scenarios refer to).
func DefaultScenarioStack(ctx context.Context, opt StackOptions) (*ScenarioStack, error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tax, err := taxonomy.Load()
	if err != nil {
		return nil, fmt.Errorf("evals: scenario stack: %w", err)
	}
	intents := opt.Intents
	if intents == nil {
		mod, err := nlu.TrainHotline(ctx, nlu.HotlineOptions(), log)
		if err != nil {
			return nil, fmt.Errorf("evals: scenario stack: intent model: %w", err)
		}
		if intents, err = nlu.NewEmbedded(mod, nlu.EmbeddedOptions{Log: log}); err != nil {
			return nil, fmt.Errorf("evals: scenario stack: intent model: %w", err)
		}
	}
	corpus, err := classifier.EmbeddedCorpus(classifier.SplitTrain)
	if err != nil {
		return nil, fmt.Errorf("evals: scenario stack: %w", err)
	}
	variety, err := classifier.TrainVariety(ctx, corpus)
	if err != nil {
		return nil, fmt.Errorf("evals: scenario stack: variety model: %w", err)
	}
	lid, err := classifier.NewIdentifier(variety, log)
	if err != nil {
		return nil, fmt.Errorf("evals: scenario stack: %w", err)
	}
	router, err := handoff.DefaultRouter(tax.IDs())
	if err != nil {
		return nil, fmt.Errorf("evals: scenario stack: %w", err)
	}
	roster, err := handoff.DemoRoster(router.Groups())
	if err != nil {
		return nil, fmt.Errorf("evals: scenario stack: %w", err)
	}
	pol, err := policy.Default()
	if err != nil {
		return nil, fmt.Errorf("evals: scenario stack: %w", err)
	}
	accts, err := accounts.DemoAccounts()
	if err != nil {
		return nil, fmt.Errorf("evals: scenario stack: %w", err)
	}
	return &ScenarioStack{
		Understander: pipeline.Understand{Intents: intents, Language: lid, Taxonomy: tax},
		Taxonomy:     tax, Router: router, Roster: roster, Policy: pol, Accounts: accts, KB: opt.KB, Log: log,
	}, nil
}
