package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/handoff/queue/redisq"
	"github.com/callbrief/callbrief/nlu"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
	storeredis "github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/verify"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/otp"
	"github.com/callbrief/callbrief/verify/policy"
)

// stack is everything after listening: understanding, verification and
// handoff, built from configuration. An empty Redis address means the
// in-process store and queues (one node); with Redis, any number of nodes
// share calls, queues, lockouts and agents.
type stack struct {
	tax      *taxonomy.Taxonomy
	engine   *handoff.Engine
	verifier *verify.Verifier
	gateway  *otp.DevGateway
	under    pipeline.Understand
	kv       store.Store // shared by the nodes when Redis is configured
	closers  []func() error
}

func secretOrRandom(s string) []byte {
	if s != "" {
		return []byte(s)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func buildStack(ctx context.Context, e *engines) (*stack, error) {
	cfg, log := e.cfg, e.log
	st := &stack{}
	var err error
	if st.tax, err = taxonomy.Load(); err != nil {
		return nil, err
	}
	// Understanding: the intent model from a file when given, else trained
	// from the embedded taxonomy now (well under a second).
	var intents *nlu.Embedded
	if cfg.Files.IntentModel != "" {
		intents, err = nlu.LoadEmbedded(cfg.Files.IntentModel, nlu.EmbeddedOptions{Log: log})
	} else {
		mod, terr := nlu.TrainHotline(ctx, nlu.HotlineOptions(), log)
		if terr != nil {
			return nil, fmt.Errorf("intent model: %w", terr)
		}
		intents, err = nlu.NewEmbedded(mod, nlu.EmbeddedOptions{Log: log})
	}
	if err != nil {
		return nil, fmt.Errorf("intent model: %w", err)
	}
	corpus, err := classifier.EmbeddedCorpus(classifier.SplitTrain)
	if err != nil {
		return nil, err
	}
	variety, err := classifier.TrainVariety(ctx, corpus)
	if err != nil {
		return nil, fmt.Errorf("variety model: %w", err)
	}
	lid, err := classifier.NewIdentifier(variety, log)
	if err != nil {
		return nil, err
	}
	st.under = pipeline.Understand{Intents: intents, Language: lid, Taxonomy: st.tax}

	// State: Redis when configured, else in process.
	var kv store.Store
	var q queue.Store
	if cfg.Store.RedisAddr != "" {
		rs, err := storeredis.New(storeredis.Config{Addr: cfg.Store.RedisAddr, Password: cfg.Store.RedisPassword, DB: cfg.Store.RedisDB})
		if err != nil {
			return nil, fmt.Errorf("store.redis_addr %s: %w", cfg.Store.RedisAddr, err)
		}
		st.closers = append(st.closers, rs.Close)
		rq, err := redisq.New(redisq.Config{Addr: cfg.Store.RedisAddr, Password: cfg.Store.RedisPassword, DB: cfg.Store.RedisDB})
		if err != nil {
			return nil, fmt.Errorf("store.redis_addr %s: %w", cfg.Store.RedisAddr, err)
		}
		st.closers = append(st.closers, rq.Close)
		kv, q = rs, rq
	} else {
		kv, q = memory.New(), queue.NewMemory()
	}
	st.kv = kv

	var router *handoff.Router
	if cfg.Files.Routing != "" {
		var b []byte
		if b, err = os.ReadFile(cfg.Files.Routing); err == nil {
			router, err = handoff.ParseRouting(cfg.Files.Routing, b, st.tax.IDs())
		}
	} else {
		router, err = handoff.DefaultRouter(st.tax.IDs())
	}
	if err != nil {
		return nil, err
	}
	var roster *handoff.Roster
	if cfg.Files.Agents != "" {
		roster, err = handoff.LoadRoster(cfg.Files.Agents, router.Groups())
	} else {
		roster, err = handoff.DemoRoster(router.Groups())
	}
	if err != nil {
		return nil, err
	}
	if st.engine, err = handoff.NewEngine(handoff.Config{Router: router, Roster: roster, Queue: q, Store: kv, Taxonomy: st.tax, KB: e.kb(ctx), Log: log}); err != nil {
		return nil, err
	}

	var pol *policy.Policy
	if cfg.Files.Policy != "" {
		pol, err = policy.LoadFile(cfg.Files.Policy, nil)
	} else {
		pol, err = policy.Default()
	}
	if err != nil {
		return nil, err
	}
	var dir accounts.Directory
	if cfg.Files.Accounts != "" {
		accts, err := accounts.LoadFile(cfg.Files.Accounts)
		if err != nil {
			return nil, err
		}
		dir = accounts.NewMemory(accts)
	} else if dir, err = accounts.Demo(); err != nil {
		return nil, err
	}
	st.gateway = otp.NewDevGateway(log, 50)
	if st.verifier, err = verify.New(verify.Config{Policy: pol, Directory: dir, Store: kv, Gateway: st.gateway, Secret: secretOrRandom(cfg.Store.Secret), Log: log}); err != nil {
		return nil, err
	}
	return st, nil
}

// callConfig assembles a call over the listening stage.
func (st *stack) callConfig(e *engines, rec asr.Recognizer, realTime bool, log *slog.Logger) pipeline.CallConfig {
	return pipeline.CallConfig{
		Transcriber: pipeline.ListenTranscriber{NewDetector: e.newDetector, Recognizer: rec,
			Config: pipeline.ListenConfig{Endpoint: e.cfg.VAD.Endpoint}, RealTime: realTime, Log: log},
		Understander:  st.under,
		Verifier:      st.verifier,
		Handoff:       st.engine,
		AnswerTimeout: 10 * time.Second,
		Log:           log,
	}
}

func (st *stack) Close() error {
	var errs []error
	for _, c := range st.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}
