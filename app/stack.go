package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/handoff/queue/redisq"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
	storeredis "github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redisconn"
	"github.com/callbrief/callbrief/verify"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/otp"
	"github.com/callbrief/callbrief/verify/policy"
)

// Taxonomy is the one registry of what an intent means: the operator's
// (files.taxonomy, files.utterances) or the embedded one.
func Taxonomy(cfg config.Config) (*taxonomy.Taxonomy, error) {
	return taxonomy.LoadFiles(cfg.Files.Taxonomy, cfg.Files.Utterances)
}

// checkModelLabels refuses an intent model trained on another taxonomy: a
// label the taxonomy lacks would be routed and verified as nothing.
func checkModelLabels(path string, labels []string, tax *taxonomy.Taxonomy) error {
	for _, l := range labels {
		if _, ok := tax.Lookup(l); !ok {
			return fmt.Errorf("files.intent_model %s: intent %q is not in the taxonomy: train it again (`callbrief models train`)", path, l)
		}
	}
	return nil
}

// LanguageIdentifier is the served language and Chinese-variety
// identifier; `eval dialect` measures this one. The variety model is the
// file at varietyModel (files.variety_model) when given, else the one built
// into the binary by `callbrief models train` (classifier.ServedVariety).
func LanguageIdentifier(ctx context.Context, varietyModel string, log *slog.Logger) (*classifier.Identifier, error) {
	variety, err := classifier.ServedVariety(ctx, varietyModel, log)
	if err != nil {
		return nil, fmt.Errorf("variety model: %w", err)
	}
	return classifier.NewIdentifier(variety, log)
}

// Data is the operator data a call is routed and verified by: from the
// files configured, else the embedded demo data.
type Data struct {
	Router   *handoff.Router
	Roster   *handoff.Roster
	Policy   *policy.Policy
	Accounts []accounts.Account
}

// LoadData reads the routing, roster, policy and accounts cfg names,
// checked against the taxonomy.
func LoadData(cfg config.Config, tax *taxonomy.Taxonomy) (*Data, error) {
	d := &Data{}
	var err error
	if cfg.Files.Routing != "" {
		var b []byte
		if b, err = os.ReadFile(cfg.Files.Routing); err == nil {
			d.Router, err = handoff.ParseRouting(cfg.Files.Routing, b, tax)
		}
	} else {
		d.Router, err = handoff.DefaultRouter(tax)
	}
	if err != nil {
		return nil, err
	}
	if cfg.Files.Agents != "" {
		d.Roster, err = handoff.LoadRoster(cfg.Files.Agents, d.Router.Groups())
	} else {
		d.Roster, err = handoff.DemoRoster(d.Router.Groups())
	}
	if err != nil {
		return nil, err
	}
	if cfg.Files.Policy != "" {
		d.Policy, err = policy.LoadFile(cfg.Files.Policy, nil)
	} else {
		d.Policy, err = policy.Default()
	}
	if err != nil {
		return nil, err
	}
	// Each intent's policy must be one the policy checks by (or its
	// fallback): a misspelt policy would verify a caller by the fallback's
	// lighter checks without anyone noticing.
	for _, in := range tax.Intents() {
		if _, ok := d.Policy.Intents[in.Policy]; in.Policy != "" && !ok && in.Policy != d.Policy.FallbackIntent {
			return nil, fmt.Errorf("taxonomy: intent %q: policy %q is not an intent of the verification policy %s", in.ID, in.Policy, cmpOr(cfg.Files.Policy, "(embedded)"))
		}
	}
	if cfg.Files.Accounts != "" {
		d.Accounts, err = accounts.LoadFile(cfg.Files.Accounts)
	} else {
		d.Accounts, err = accounts.DemoAccounts()
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Stack is everything after listening: understanding, verification and
// handoff, built from configuration. An empty Redis address means the
// in-process store and queues (one node); with Redis, any number of nodes
// share calls, queues, lockouts and agents.
type Stack struct {
	Taxonomy *taxonomy.Taxonomy
	Data     *Data
	Engine   *handoff.Engine
	Verifier *verify.Verifier
	// Gateway is the development SMS gateway (sms.gateway=dev), which
	// keeps the messages it did not send; nil with a provider's.
	Gateway *otp.DevGateway
	Under   pipeline.Understand
	KV      store.Store // shared by the nodes when Redis is configured
	closers []func() error

	// Outbox keeps handoffs while Redis is down (nil without Redis).
	Outbox *handoff.Outbox

	redis       *storeredis.Store // nil without Redis
	persistMu   sync.Mutex
	persistence redisconn.Persistence
}

// checkPersistence reads and judges the server's persistence at start.
// The nodes' whole shared state (briefs, queues, lockouts, audit) is in
// Redis: without an append-only file, a crash of Redis forgets all of it,
// so that is said as loudly as a log can.
func checkPersistence(ctx context.Context, rs *storeredis.Store, sentinelNoAcks bool, log *slog.Logger) redisconn.Persistence {
	p := rs.Persistence(ctx)
	switch {
	case p.Unknown != "":
		log.Warn("redis persistence unknown: make sure it runs with appendonly yes and appendfsync always, or a crash of Redis loses briefs, queues, lockouts and audit records", "why", p.Unknown)
	case p.Lossy():
		log.Error("REDIS PERSISTENCE IS OFF (appendonly no): a crash or restart of Redis loses every brief, queued call, lockout and audit record written since its last snapshot; run it with appendonly yes and appendfsync always")
	case !p.Durable():
		log.Warn("redis does not fsync every write: a crash may lose the last second of briefs, queued calls, lockouts and audit records; appendfsync always keeps them", "appendfsync", p.AppendFsync)
	default:
		log.Info("redis persistence", "appendonly", p.AppendOnly, "appendfsync", p.AppendFsync)
	}
	if sentinelNoAcks {
		log.Warn("sentinel without store.replica_acks: replication is asynchronous, so a failover may lose the last writes the old primary acknowledged; store.replica_acks=1 waits for a replica")
	}
	return p
}

// Persistence is what the store keeps across a crash of its server, for
// readyz: "memory" without Redis, else the server's settings (read again
// while they were unknown because it did not answer).
func (st *Stack) Persistence(ctx context.Context) any {
	if st.redis == nil {
		return "in process: lost when this node stops"
	}
	st.persistMu.Lock()
	defer st.persistMu.Unlock()
	if st.persistence.Unknown == redisconn.NoAnswer {
		st.persistence = st.redis.Persistence(ctx)
	}
	return st.persistence
}

// SecretOrRandom is the configured secret, or a random one for a node
// that shares no state.
func SecretOrRandom(s string) []byte {
	if s != "" {
		return []byte(s)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// BuildStack builds the stack over e's engines. The knowledge base is
// opened and warmed here, so the first caller's brief does not pay for it.
func BuildStack(ctx context.Context, e *Engines) (*Stack, error) {
	cfg, log := e.cfg, e.log
	st := &Stack{}
	var err error
	if st.Under, err = e.Understanding(ctx); err != nil {
		return nil, err
	}
	st.Taxonomy = st.Under.Taxonomy
	if st.Data, err = LoadData(cfg, st.Taxonomy); err != nil {
		return nil, err
	}

	// State: Redis when configured, else in process.
	var kv store.Store
	var q queue.Store
	if cfg.Store.Shared() {
		sc := storeredis.Config{Addr: cfg.Store.RedisAddr, Password: cfg.Store.RedisPassword, DB: cfg.Store.RedisDB,
			SentinelMaster: cfg.Store.SentinelMaster, SentinelAddrs: cfg.Store.SentinelList(), ReplicaAcks: cfg.Store.ReplicaAcks}
		where := "store.redis_addr " + cfg.Store.RedisAddr
		if sc.SentinelMaster != "" {
			where = "store.sentinel_master " + sc.SentinelMaster
		}
		rs, err := storeredis.New(sc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		st.closers = append(st.closers, rs.Close)
		rq, err := redisq.New(redisq.Config{Addr: sc.Addr, Password: sc.Password, DB: sc.DB,
			SentinelMaster: sc.SentinelMaster, SentinelAddrs: sc.SentinelAddrs, ReplicaAcks: sc.ReplicaAcks})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		st.closers = append(st.closers, rq.Close)
		// Queues written before the index of waiting calls are indexed
		// once; the queue's scripts keep it from then on.
		ictx, icancel := context.WithTimeout(ctx, 2*time.Second)
		groups := st.Data.Router.Groups()
		for _, g := range st.Data.Router.Groups() {
			groups = append(groups, handoff.CallbackPrefix+g)
		}
		if n, err := rq.Reindex(ictx, groups...); err != nil {
			log.Warn("queue index not rebuilt (Redis not answering yet?)", "err", err)
		} else if n > 0 {
			log.Info("queue index rebuilt", "waiting_calls", n)
		}
		icancel()
		kv, q = rs, rq
		st.redis = rs
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st.persistence = checkPersistence(pctx, rs, sc.SentinelMaster != "" && sc.ReplicaAcks == 0, log)
		cancel()
	} else {
		var opts []memory.Option
		if e.now != nil {
			opts = append(opts, memory.WithClock(e.now))
		}
		kv, q = memory.New(opts...), queue.NewMemory()
	}
	st.KV = kv

	kbase, kerr := e.KB(ctx)
	if kerr != nil {
		log.Warn("no knowledge base: briefs will say they carry no suggestions (build one with `callbrief kb ingest data/kb/articles`; make setup does)", "err", kerr)
	}
	if st.redis != nil {
		if st.Outbox, err = handoff.NewOutbox(cfg.Store.OutboxMax, cfg.Store.OutboxDir); err != nil {
			st.Close()
			return nil, fmt.Errorf("store.outbox_dir: %w", err)
		}
	}
	if st.Engine, err = handoff.NewEngine(handoff.Config{Router: st.Data.Router, Roster: st.Data.Roster, Queue: q, Store: kv, Taxonomy: st.Taxonomy, Outbox: st.Outbox,
		KB: kbase, KBTimeout: cfg.KB.Timeout, OfferTimeout: cfg.Desk.RingOut, Now: e.now, Log: log,
		// Every search counted, its errors and time-outs too
		// (callbrief_stage_errors_total{stage="kb"}).
		ObserveKB: func(d time.Duration, err error) { e.metrics.Observe("kb", "kb", d, err) }}); err != nil {
		return nil, err
	}
	if st.Outbox != nil {
		// Kept calls are delivered as soon as Redis answers again.
		octx, stop := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); st.Engine.RunOutbox(octx, 250*time.Millisecond) }()
		st.closers = append(st.closers, func() error {
			stop()
			<-done
			if n := st.Outbox.Len(); n > 0 {
				log.Error("stopping with calls not delivered to Redis", "kept", n, "on_disk", cfg.Store.OutboxDir != "")
			}
			return nil
		})
	}
	var sms otp.Gateway
	switch cfg.SMS.Gateway {
	case "http":
		sms = &otp.HTTPGateway{URL: cfg.SMS.URL, Token: cfg.SMS.Token, Sender: cfg.SMS.Sender, Log: log.With("component", "sms")}
	default:
		st.Gateway = otp.NewDevGateway(log, 50)
		sms = st.Gateway
	}
	if st.Verifier, err = verify.New(verify.Config{Policy: st.Data.Policy, Directory: accounts.NewMemory(st.Data.Accounts), Store: kv, Gateway: sms,
		Secret: SecretOrRandom(cfg.Store.Secret), Now: e.now, Log: log}); err != nil {
		return nil, err
	}
	return st, nil
}

// CallConfig assembles a call over the listening stage.
func (st *Stack) CallConfig(e *Engines, rec asr.Recognizer, realTime bool, log *slog.Logger) pipeline.CallConfig {
	return pipeline.CallConfig{
		Transcriber: pipeline.ListenTranscriber{NewDetector: e.NewDetector, Recognizer: rec,
			Config: pipeline.ListenConfig{Endpoint: e.cfg.VAD.Endpoint}, RealTime: realTime, TurnsAtOnce: pipeline.TurnsAtOnceFor(e.cfg.ASR.RecognitionServers()), Log: log},
		Understander:  st.Under,
		Verifier:      st.Verifier,
		Handoff:       st.Engine,
		AnswerTimeout: 10 * time.Second,
		Now:           e.now,
		Log:           log,
	}
}

// Close stops the outbox, then releases the stores (the reverse of their
// start).
func (st *Stack) Close() error {
	var errs []error
	for i := len(st.closers) - 1; i >= 0; i-- {
		errs = append(errs, st.closers[i]())
	}
	st.closers = nil
	return errors.Join(errs...)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
