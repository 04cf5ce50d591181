package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/internal/notify"
	"github.com/callbrief/callbrief/internal/redact"
	"github.com/callbrief/callbrief/internal/zhscript"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
)

// Config assembles an Engine.
type Config struct {
	Router *Router
	Roster *Roster
	Queue  queue.Store
	// Store keeps briefs, call states, KB feedback, outcomes and drafts.
	Store    store.Store
	Taxonomy *taxonomy.Taxonomy
	// KB suggests articles; nil: no suggestions.
	KB KB
	// Summarizer writes case summaries; nil: Template.
	Summarizer Summarizer
	// SummaryTimeout bounds the summarizer; past it the template is used.
	// Default 2s.
	SummaryTimeout time.Duration
	// KBTimeout bounds the KB search; default 500ms. The brief never waits
	// past it: a search that has not answered is abandoned and the brief
	// marked.
	KBTimeout time.Duration
	// ObserveKB, when set, is told of every search: how long it took and
	// its error (ErrKBTimeout past the budget), for the metrics.
	ObserveKB func(d time.Duration, err error)
	// Outbox, when set, keeps handoffs the store or queue did not take (an
	// outage) and delivers them when it answers again (RunOutbox); nil:
	// such a handoff fails.
	Outbox *Outbox
	// BriefTTL is how long briefs stay in the store; default 24h.
	BriefTTL time.Duration
	// Changes carries desk changes between nodes; nil: Store's own
	// publish/subscribe when it has one (memory and Redis do), else within
	// this process.
	Changes store.PubSub
	// OfferTimeout is how long an offered call rings on one agent's desk
	// before it goes to the next eligible agent and the agent who let it
	// ring is set not ready (RingOut); 0: offers never ring out.
	OfferTimeout time.Duration
	Now          func() time.Time
	Log          *slog.Logger
}

// Engine routes, briefs and queues calls, and serves the desk. Safe for
// concurrent use.
type Engine struct {
	cfg      Config
	dispatch sync.Mutex
	hub      notify.Hub
	changes  changes
}

// NewEngine checks cfg.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Router == nil || cfg.Roster == nil || cfg.Queue == nil || cfg.Store == nil || cfg.Taxonomy == nil {
		return nil, fmt.Errorf("%w: router, roster, queue, store and taxonomy are required", ErrConfig)
	}
	if cfg.Summarizer == nil {
		cfg.Summarizer = Template{}
	}
	if cfg.SummaryTimeout <= 0 {
		cfg.SummaryTimeout = 2 * time.Second
	}
	if cfg.KBTimeout <= 0 {
		cfg.KBTimeout = 500 * time.Millisecond
	}
	if cfg.BriefTTL <= 0 {
		cfg.BriefTTL = 24 * time.Hour
	}
	if cfg.ObserveKB == nil {
		cfg.ObserveKB = func(time.Duration, error) {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Changes == nil {
		if ps, ok := cfg.Store.(store.PubSub); ok {
			cfg.Changes = ps
		} else {
			cfg.Changes = memory.NewPubSub()
		}
	}
	return &Engine{cfg: cfg, changes: changes{ps: cfg.Changes, local: make(chan Change, 256)}}, nil
}

// Roster returns the agents who may sign in.
func (e *Engine) Roster() *Roster { return e.cfg.Roster }

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.cfg.Now() }

func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Handoff routes a call, builds and stores its brief, queues it and
// offers it to the longest-idle eligible agent. The brief is ready on the
// desk when Handoff returns.
func (e *Engine) Handoff(ctx context.Context, req Request) (Brief, error) {
	return e.handoff(ctx, req, nil)
}

func (e *Engine) handoff(ctx context.Context, req Request, transfer func(group string) bool) (Brief, error) {
	if req.CallID == "" {
		return Brief{}, fmt.Errorf("%w: no call id", ErrInvalid)
	}
	if req.At.IsZero() {
		req.At = e.cfg.Now()
	}
	log := e.cfg.Log.With("call_id", req.CallID)
	d := e.cfg.Router.Route(req)
	b := e.BuildBrief(ctx, req, d)
	entry := d.Entry(req.CallID, req.At)
	if err := e.saveBrief(ctx, b); err != nil {
		if errors.Is(err, ErrUnavailable) {
			return e.keep(b, entry, err)
		}
		return b, err
	}
	if transfer != nil && transfer(d.Group) {
		// The contact centre's own ACD is to take the call: the brief is
		// stored for its agents; the desk queue gets the call only if the
		// transfer fails (TransferFailed).
		b.Delivery = DeliveryTransfer
		if err := e.saveBrief(ctx, b); err != nil {
			return b, err
		}
		log.Info("brief stored for a transfer to the contact centre", "group", d.Group, "intent", req.Intent.Intent)
		return b, nil
	}
	if err := e.cfg.Queue.Enqueue(ctx, entry); err != nil {
		if err = unavailable(err); errors.Is(err, ErrUnavailable) {
			return e.keep(b, entry, err)
		}
		return b, err
	}
	log.Info("call queued", "group", d.Group, "level", d.MinLevel, "language", d.Language, "line", d.Line,
		"priority", d.Priority, "rules", d.Rules, "intent", req.Intent.Intent, "verification", req.Verification.Status)
	if err := e.Dispatch(ctx); err != nil {
		log.Warn("dispatch failed; the call waits for an agent to take it", "err", err)
	}
	e.changed(ctx, Change{Calls: []string{req.CallID}})
	return b, nil
}

// BuildBrief assembles the brief. It never fails: a KB or summarizer
// failure leaves that part out (or falls back) and says so in the brief.
func (e *Engine) BuildBrief(ctx context.Context, req Request, d Decision) Brief {
	start := time.Now()
	b := Brief{
		CallID: req.CallID, CreatedAt: e.cfg.Now(), Reason: req.Reason, Verification: req.Verification.ForLevel(),
		Intent: req.Intent, Slots: req.Slots, Urgency: req.Urgency, Language: req.Language,
		Transcript: req.Transcript, Route: d,
	}
	b.Caller = profile(req)
	b.Timing.Profile = time.Since(start)

	in, ok := e.cfg.Taxonomy.Lookup(string(req.Intent.Intent))
	line := in.ProductLine
	if !ok {
		line = "general"
	}
	b.IntentName, b.IntentNameZH = strings.TrimSuffix(in.Description, "."), in.NameZH
	b.Ticket = suggestTicket(req, line, in.Ticket)
	if b.Ticket != nil && b.Ticket.Product == line {
		for _, pl := range e.cfg.Taxonomy.ProductLines {
			if pl.ID == line {
				b.Ticket.ProductName, b.Ticket.ProductNameZH = pl.Name, pl.NameZH
			}
		}
	}

	text := req.Transcript.Text()
	// The search runs beside the summary. Its answer is waited for only
	// until the budget is spent: an engine that ignores its context (an
	// embedder mid-inference) must not hold the agent's brief.
	type kbAnswer struct {
		s   []KBSuggestion
		err error
	}
	var kbc chan kbAnswer
	kctx, cancel := context.WithTimeout(ctx, e.cfg.KBTimeout)
	defer cancel()
	kbStart := time.Now()
	if e.cfg.KB == nil {
		b.KBError, b.KBStatus = "no knowledge base on this node", "none"
	} else {
		kbc = make(chan kbAnswer, 1) // buffered: a late answer never blocks its goroutine
		// The caller's variety, not just "zh": the KB reads the Chinese
		// articles for every variety but folds a Cantonese (or Wu) caller's
		// words to Mandarin before embedding them.
		lang := string(call.LangChinese)
		switch l := req.Language.Language; {
		case l == call.LangEnglish:
			lang = "en"
		case l.IsChinese():
			lang = string(l)
		}
		q := text
		if q == "" {
			q = in.Description
		}
		// Narrowed to the product the caller named, else the intent's.
		product := e.cfg.Taxonomy.KBProductFor(in, zhscript.Simplified(text))
		go func() {
			s, err := e.cfg.KB.Suggest(kctx, q, KBFilter{Product: product, Language: lang, Intent: in.ID}, 5)
			kbc <- kbAnswer{s, err}
		}()
	}
	t := time.Now()
	b.Summary = e.summarize(ctx, req, in)
	b.Timing.Summary = time.Since(t)
	if kbc != nil {
		var err error
		select {
		case a := <-kbc:
			b.KB, err = a.s, a.err
		case <-kctx.Done():
			err = ErrKBTimeout
		}
		b.Timing.KB = time.Since(kbStart)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = ErrKBTimeout
			}
			b.KB = nil
			b.KBError, b.KBStatus = "knowledge base: "+err.Error(), "failed"
			if errors.Is(err, ErrKBTimeout) {
				b.KBStatus = "timeout"
			}
			e.cfg.Log.Warn("brief without suggestions", "call_id", req.CallID, "err", err, "after", b.Timing.KB)
		}
		e.cfg.ObserveKB(b.Timing.KB, err)
	}
	b.Timing.Total = time.Since(start)
	return b
}

func (e *Engine) summarize(ctx context.Context, req Request, in taxonomy.Intent) Summary {
	si := SummaryInput{
		CallID: req.CallID, Transcript: req.Transcript.Text(), Intent: req.Intent, IntentName: in.Description,
		Slots: req.Slots, Urgency: req.Urgency, Status: req.Verification.Status,
	}
	if in.Description != "" {
		si.IntentName = strings.TrimSuffix(in.Description, ".")
	}
	if mayShowAccount(req) {
		si.Profile = profileFacts(req)
	}
	s := e.cfg.Summarizer
	if _, ok := s.(Template); ok {
		out, _ := Template{}.Summarize(context.WithoutCancel(ctx), si)
		return out
	}
	sctx, cancel := context.WithTimeout(ctx, e.cfg.SummaryTimeout)
	defer cancel()
	out, err := s.Summarize(sctx, si)
	if err == nil {
		err = Grounded(out.Text, si.Sources()...)
	}
	if err != nil {
		e.cfg.Log.Warn("summary engine failed; using the template", "call_id", req.CallID, "engine", s.Name(), "err", err)
		out, _ = Template{}.Summarize(context.WithoutCancel(ctx), si)
		out.Engine = s.Name() + "-fallback:template"
		out.Fallback = err.Error()
	}
	return out
}

// profileFacts is the verified account as text, for summaries and their
// grounding check.
func profileFacts(req Request) string {
	a := req.Account
	var b strings.Builder
	fmt.Fprintf(&b, "account %s %s. ", a.ID, a.Name)
	for _, d := range a.Devices {
		fmt.Fprintf(&b, "device %s imei %s serial %s purchased %s. ", d.Model, d.IMEI, d.Serial, d.Purchased)
	}
	for _, o := range a.Orders {
		fmt.Fprintf(&b, "order %s %s %s %s. ", o.Number, o.Item, o.Status, o.Placed)
	}
	for _, s := range a.Service {
		fmt.Fprintf(&b, "service %s %s %s %s. ", s.Date, s.Kind, s.Ticket, s.Summary)
	}
	return b.String()
}

func briefKey(id string) string { return "handoff:brief:" + id }
func stateKey(id string) string { return "handoff:state:" + id }

func (e *Engine) saveBrief(ctx context.Context, b Brief) error {
	js, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("%w: brief: %w", ErrInvalid, err)
	}
	if err := e.cfg.Store.Set(ctx, briefKey(b.CallID), string(js), e.cfg.BriefTTL); err != nil {
		return unavailable(err)
	}
	return nil
}

// Brief returns a stored brief, or one kept in this node's outbox.
func (e *Engine) Brief(ctx context.Context, callID string) (Brief, error) {
	if e.cfg.Outbox != nil {
		if p, ok := e.cfg.Outbox.get(callID); ok {
			return p.Brief, nil
		}
	}
	s, err := e.cfg.Store.Get(ctx, briefKey(callID))
	if errors.Is(err, store.ErrNotFound) {
		return Brief{}, fmt.Errorf("%w: brief of call %q", ErrNotFound, callID)
	}
	if err != nil {
		return Brief{}, unavailable(err)
	}
	var b Brief
	if err := json.Unmarshal([]byte(s), &b); err != nil {
		return Brief{}, unavailable(err)
	}
	return b, nil
}

// BriefFor returns a call's brief to an agent who may read it: the call
// is offered to or taken by them, or it belongs to one of their groups at
// or below their certification level. Any other call is ErrNotFound, the
// same answer as a call that does not exist, so call ids cannot be probed.
// Every read is appended to the audit log "audit:desk"; a read that cannot
// be audited is refused.
func (e *Engine) BriefFor(ctx context.Context, agentID, callID string) (Brief, error) {
	a, err := e.cfg.Roster.Agent(agentID)
	if err != nil {
		return Brief{}, err
	}
	q, err := e.cfg.Queue.Get(ctx, callID)
	switch {
	case errors.Is(err, queue.ErrUnknownCall):
		// A call transferred to the contact centre is in no queue: the
		// same rule (group and level) holds against its route.
		b, berr := e.Brief(ctx, callID)
		if berr != nil || (b.Delivery != DeliveryTransfer && b.Delivery != DeliveryTransferred) {
			return Brief{}, fmt.Errorf("%w: brief of call %q", ErrNotFound, callID)
		}
		q = queue.Entry{CallID: callID, Group: b.Route.Group, MinLevel: b.Route.MinLevel}
	case err != nil:
		return Brief{}, unavailable(err)
	}
	group, _ := IsCallback(q.Group) // a call-back is read by its group
	if q.Owner != agentID && !(slices.Contains(a.Groups, group) && a.Level >= q.MinLevel) {
		e.cfg.Log.Warn("brief read refused: not the agent's call, group or level", "call_id", callID, "agent", agentID)
		return Brief{}, fmt.Errorf("%w: brief of call %q", ErrNotFound, callID)
	}
	b, err := e.Brief(ctx, callID)
	if err != nil {
		return Brief{}, err
	}
	if _, err := e.cfg.Store.Append(ctx, "audit:desk", map[string]string{
		"kind": "brief_read", "agent": agentID, "call_id": callID, "at": e.cfg.Now().UTC().Format(time.RFC3339Nano),
		"level": strconv.Itoa(int(b.Caller.Level)),
	}); err != nil {
		return Brief{}, unavailable(err)
	}
	return b, nil
}

// QueuePosition is where a waiting call stands in its group's queue: 1 is
// next; 0 means it is already offered to or taken by an agent. For the
// hold announcement ("you are number 3 in the queue").
func (e *Engine) QueuePosition(ctx context.Context, callID string) (int, error) {
	q, err := e.cfg.Queue.Get(ctx, callID)
	if errors.Is(err, queue.ErrUnknownCall) {
		return 0, fmt.Errorf("%w: call %q", ErrNotFound, callID)
	}
	if err != nil {
		return 0, unavailable(err)
	}
	if q.Owner != "" {
		return 0, nil
	}
	waiting, err := e.cfg.Queue.Waiting(ctx, q.Group)
	if err != nil {
		return 0, unavailable(err)
	}
	for i, w := range waiting {
		if w.CallID == callID {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: call %q is not waiting", ErrNotFound, callID)
}

// Dispatch offers waiting calls to idle agents: each call, best first, to
// the longest-idle online agent who may take it. The claim is atomic in
// the queue, so nodes dispatching at once never offer one call twice.
// The idle agents are read first (from the queue's index): with nobody
// free, as on a busy floor, a dispatch costs one read, and otherwise only
// the queues of the free agents' groups are read.
func (e *Engine) Dispatch(ctx context.Context) error {
	e.dispatch.Lock()
	defer e.dispatch.Unlock()
	idle, err := e.cfg.Queue.IdleAgents(ctx)
	if err != nil {
		return unavailable(err)
	}
	// Not-ready agents (an offer rang out on their desk) are skipped even
	// if a reconnect made them idle in the queue.
	agents := idle[:0]
	var groups []string
	for _, p := range idle {
		if r, _ := e.NotReady(ctx, p.Agent.ID); r != "" {
			continue
		}
		agents = append(agents, p)
		for _, g := range p.Agent.Groups {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	if len(agents) == 0 {
		return nil
	}
	waiting, err := e.cfg.Queue.Waiting(ctx, groups...)
	if err != nil {
		return unavailable(err)
	}
	busy := map[string]bool{}
	var offered []string
	defer func() {
		if len(offered) > 0 {
			e.changed(ctx, Change{Calls: offered})
		}
	}()
	for _, c := range waiting {
		for _, p := range agents {
			if busy[p.Agent.ID] || !p.Agent.Eligible(c) {
				continue
			}
			_, err := e.cfg.Queue.ClaimCall(ctx, p.Agent.ID, c.CallID)
			if errors.Is(err, queue.ErrTaken) || errors.Is(err, queue.ErrNotEligible) || errors.Is(err, queue.ErrUnknownAgent) {
				continue
			}
			if err != nil {
				return unavailable(err)
			}
			busy[p.Agent.ID] = true
			offered = append(offered, c.CallID)
			if err := e.setState(ctx, c.CallID, StateOffered, p.Agent.ID); err != nil {
				return err
			}
			e.cfg.Log.Info("call offered", "call_id", c.CallID, "agent", p.Agent.ID, "idle_for", e.cfg.Now().Sub(p.IdleSince).Round(time.Millisecond))
			break
		}
	}
	return nil
}

// CallState is where a call stands on the desk.
type CallState string

// States.
const (
	StateWaiting  CallState = "waiting"
	StateOffered  CallState = "offered"
	StateAccepted CallState = "accepted"
	// StatePending: kept on this node while the shared store is down;
	// shown (emergencies) but not yet in the shared queue.
	StatePending CallState = "pending delivery"
)

// setState records where a call stands: "state:unix-nanos:agent", the
// time being when it got there (an offer rings out from it).
func (e *Engine) setState(ctx context.Context, callID string, st CallState, agent string) error {
	v := string(st) + ":" + strconv.FormatInt(e.cfg.Now().UnixNano(), 10) + ":" + agent
	if err := e.cfg.Store.Set(ctx, stateKey(callID), v, e.cfg.BriefTTL); err != nil {
		return unavailable(err)
	}
	return nil
}

func (e *Engine) state(ctx context.Context, callID string) (CallState, string) {
	st, agent, _ := e.stateAt(ctx, callID)
	return st, agent
}

// stateAt is the call's state, its agent and since when.
func (e *Engine) stateAt(ctx context.Context, callID string) (CallState, string, time.Time) {
	s, err := e.cfg.Store.Get(ctx, stateKey(callID))
	if err != nil {
		return StateWaiting, "", time.Time{}
	}
	st, rest, _ := strings.Cut(s, ":")
	ns, agent, ok := strings.Cut(rest, ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil {
		return CallState(st), rest, time.Time{}
	}
	return CallState(st), agent, time.Unix(0, n)
}

// Online marks an agent present (their desk connected) and offers them
// waiting calls.
func (e *Engine) Online(ctx context.Context, agentID string) error {
	a, err := e.cfg.Roster.Agent(agentID)
	if err != nil {
		return err
	}
	// Seen first: an agent online in the queue is then always seen, and
	// a desk that fails here is taken offline by its disconnection check.
	if err := e.Seen(ctx, agentID); err != nil {
		return err
	}
	if err := e.cfg.Queue.Online(ctx, a, e.cfg.Now()); err != nil {
		return unavailable(err)
	}
	if err := e.Dispatch(ctx); err != nil {
		return err
	}
	e.changed(ctx, Change{Agents: []string{agentID}})
	return nil
}

func seenKey(agentID string) string { return "handoff:seen:" + agentID }

// Seen records that the agent's desk is connected now. A desk refreshes
// it every few seconds while connected, on whichever node, so that a
// connection closing elsewhere does not take the agent offline
// (OfflineUnlessSeen).
func (e *Engine) Seen(ctx context.Context, agentID string) error {
	// In the queue's index, which the sweep for lost desks reads.
	now := e.cfg.Now()
	if err := e.cfg.Queue.Seen(ctx, agentID, now); err != nil {
		return unavailable(err)
	}
	// Also where nodes of the previous release read it, so that while a
	// deployment upgrades node by node they do not take the agents of
	// upgraded nodes offline. Drop once no such node runs.
	if err := e.cfg.Store.Set(ctx, seenKey(agentID), strconv.FormatInt(now.UnixNano(), 10), time.Hour); err != nil {
		return unavailable(err)
	}
	return nil
}

// OfflineUnlessSeen takes the agent offline (Offline) unless their desk
// was seen after since, the moment one of their connections closed: a
// desk that reconnected, or another of their desks still open, keeps
// their calls. Timestamps of several nodes are compared, so their clocks
// are assumed synchronised (to well under a desk's refresh period). It
// reports whether the agent went offline.
func (e *Engine) OfflineUnlessSeen(ctx context.Context, agentID string, since time.Time) (bool, error) {
	seen, err := e.seenSince(ctx, agentID, since)
	if err != nil || seen {
		return false, err
	}
	if err := e.Offline(ctx, agentID); err != nil {
		return false, err
	}
	// A desk that reconnected between the check and now is online again
	// (its calls, requeued, are offered anew).
	if seen, err := e.seenSince(ctx, agentID, since); err == nil && seen {
		return false, e.Online(ctx, agentID)
	}
	return true, nil
}

func (e *Engine) seenSince(ctx context.Context, agentID string, since time.Time) (bool, error) {
	at, err := e.cfg.Queue.LastSeen(ctx, agentID)
	if err != nil {
		return false, unavailable(err)
	}
	// The queue keeps microseconds (Redis); within the same one, the
	// nanoseconds below decide.
	if at.Truncate(time.Microsecond).After(since.Truncate(time.Microsecond)) {
		return true, nil
	}
	// A desk on a node of the previous release records it only here.
	v, err := e.cfg.Store.Get(ctx, seenKey(agentID))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, unavailable(err)
	}
	ns, err := strconv.ParseInt(v, 10, 64)
	return err == nil && ns > since.UnixNano(), nil
}

// Offline removes an agent (desk disconnected); the calls they held go
// back to their queues and are offered to others.
func (e *Engine) Offline(ctx context.Context, agentID string) error {
	held, err := e.cfg.Queue.Offline(ctx, agentID)
	if err != nil {
		return unavailable(err)
	}
	for _, id := range held {
		_ = e.cfg.Store.Delete(ctx, stateKey(id))
		e.cfg.Log.Warn("agent disconnected; call back in its queue", "call_id", id, "agent", agentID)
	}
	if err := e.Dispatch(ctx); err != nil {
		return err
	}
	e.changed(ctx, Change{Calls: held, Agents: []string{agentID}})
	return nil
}

// owned checks the agent holds the call.
func (e *Engine) owned(ctx context.Context, agentID, callID string) (queue.Entry, error) {
	q, err := e.cfg.Queue.Get(ctx, callID)
	if errors.Is(err, queue.ErrUnknownCall) {
		return q, fmt.Errorf("%w: call %q", ErrNotFound, callID)
	}
	if err != nil {
		return q, unavailable(err)
	}
	if q.Owner != agentID {
		return q, fmt.Errorf("%w: call %q is not held by %s", ErrForbidden, callID, agentID)
	}
	return q, nil
}

// Accept connects the agent to a call offered to them, or takes a
// waiting call they may handle.
func (e *Engine) Accept(ctx context.Context, agentID, callID string) error {
	q, err := e.cfg.Queue.Get(ctx, callID)
	switch {
	case errors.Is(err, queue.ErrUnknownCall):
		return fmt.Errorf("%w: call %q", ErrNotFound, callID)
	case err != nil:
		return unavailable(err)
	case strings.HasPrefix(q.Group, CallbackPrefix):
		// Never as a live call: the caller is gone.
		return fmt.Errorf("%w: call %q was abandoned (the caller hung up); it is in the call-back list", ErrConflict, callID)
	case q.Owner == "":
		if _, err := e.cfg.Queue.ClaimCall(ctx, agentID, callID); err != nil {
			switch {
			case errors.Is(err, queue.ErrTaken):
				return fmt.Errorf("%w: %w", ErrConflict, err)
			case errors.Is(err, queue.ErrNotEligible), errors.Is(err, queue.ErrUnknownAgent):
				return fmt.Errorf("%w: %w", ErrForbidden, err)
			}
			return unavailable(err)
		}
	case q.Owner != agentID:
		return fmt.Errorf("%w: call %q is with another agent", ErrConflict, callID)
	}
	if err := e.setState(ctx, callID, StateAccepted, agentID); err != nil {
		return err
	}
	// Answered: it no longer rings (the ring-out sweep reads the offers).
	if err := e.cfg.Queue.Answer(ctx, callID); err != nil && !errors.Is(err, queue.ErrUnknownCall) {
		return unavailable(err)
	}
	// For the wallboard's service level: how long the caller waited.
	now := e.cfg.Now()
	if _, err := e.cfg.Store.Append(ctx, "handoff:events", map[string]string{
		"kind": "answered", "call_id": callID, "agent": agentID, "group": q.Group,
		"at": strconv.FormatInt(now.UnixNano(), 10), "waited_ms": strconv.FormatInt(now.Sub(q.Enqueued).Milliseconds(), 10),
	}); err != nil {
		e.cfg.Log.Warn("answer not recorded for the wallboard", "call_id", callID, "err", err)
	}
	e.cfg.Log.Info("call accepted", "call_id", callID, "agent", agentID)
	e.changed(ctx, Change{Calls: []string{callID}, Agents: []string{agentID}})
	return nil
}

// CheckAccepted returns nil when agentID has accepted callID: what the
// desk requires before the agent's audio joins the call.
func (e *Engine) CheckAccepted(ctx context.Context, agentID, callID string) error {
	if _, err := e.owned(ctx, agentID, callID); err != nil {
		return err
	}
	if st, _ := e.state(ctx, callID); st != StateAccepted {
		return fmt.Errorf("%w: call %q is offered to %s but not accepted yet", ErrConflict, callID, agentID)
	}
	return nil
}

// Decline hands an offered call back; it goes to the head of its queue
// and is not offered to this agent again.
func (e *Engine) Decline(ctx context.Context, agentID, callID string) error {
	if _, err := e.owned(ctx, agentID, callID); err != nil {
		return err
	}
	if st, _ := e.state(ctx, callID); st == StateAccepted {
		return fmt.Errorf("%w: call %q already accepted", ErrInvalid, callID)
	}
	if err := e.cfg.Queue.Requeue(ctx, callID, agentID); err != nil {
		return unavailable(err)
	}
	_ = e.cfg.Store.Delete(ctx, stateKey(callID))
	if err := e.cfg.Queue.Idle(ctx, agentID, e.cfg.Now()); err != nil && !errors.Is(err, queue.ErrUnknownAgent) {
		return unavailable(err)
	}
	e.cfg.Log.Info("call declined", "call_id", callID, "agent", agentID)
	err := e.Dispatch(ctx)
	e.changed(ctx, Change{Calls: []string{callID}, Agents: []string{agentID}})
	return err
}

// Feedback records whether a suggested article helped, so the KB can
// learn which articles solve which calls.
func (e *Engine) Feedback(ctx context.Context, agentID, callID, articleID string, helpful bool) error {
	if articleID == "" {
		return fmt.Errorf("%w: no article id", ErrInvalid)
	}
	b, err := e.Brief(ctx, callID)
	if err != nil {
		return err
	}
	found := false
	for _, s := range b.KB {
		found = found || s.ArticleID == articleID
	}
	if !found {
		return fmt.Errorf("%w: article %q was not suggested for call %q", ErrInvalid, articleID, callID)
	}
	if _, err := e.owned(ctx, agentID, callID); err != nil {
		return err
	}
	_, err = e.cfg.Store.Append(ctx, "handoff:kb_feedback", map[string]string{
		"call_id": callID, "agent": agentID, "article_id": articleID, "helpful": strconv.FormatBool(helpful),
		"intent": string(b.Intent.Intent), "at": e.cfg.Now().UTC().Format(time.RFC3339),
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// DeskAudit returns the last n records of the desk's audit log: who read
// which call's brief, when, at which assurance level.
func (e *Engine) DeskAudit(ctx context.Context, n int) ([]map[string]string, error) {
	return e.tail(ctx, "audit:desk", n)
}

// FeedbackLog returns the most recent KB feedback records.
func (e *Engine) FeedbackLog(ctx context.Context, n int) ([]map[string]string, error) {
	return e.tail(ctx, "handoff:kb_feedback", n)
}

// tail returns the fields of the last n records of a log.
func (e *Engine) tail(ctx context.Context, log string, n int) ([]map[string]string, error) {
	ents, err := e.cfg.Store.Tail(ctx, log, n)
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]map[string]string, len(ents))
	for i, en := range ents {
		out[i] = en.Fields
	}
	return out, nil
}

// Outcome is how the agent closed a case.
type Outcome struct {
	Resolved   bool   `json:"resolved"`
	Resolution string `json:"resolution"` // what fixed it, or what happens next
	Notes      string `json:"notes,omitempty"`
	// DraftArticle asks for a KB article draft, awaiting expert review.
	DraftArticle bool `json:"draft_article,omitempty"`
}

// Draft is a KB article written from a case, awaiting review.
type Draft struct {
	ID        string    `json:"id"`
	CallID    string    `json:"call_id"`
	Agent     string    `json:"agent"`
	Title     string    `json:"title"`
	Intent    string    `json:"intent"`
	Product   string    `json:"product"`
	Language  string    `json:"language"`
	Body      string    `json:"body"`
	Status    string    `json:"status"` // awaiting_review
	CreatedAt time.Time `json:"created_at"`
}

// MaxOutcomeText bounds resolution and notes.
const MaxOutcomeText = 4000

// RecordOutcome closes the agent's call: the outcome is logged, the call
// leaves the queue, the agent is free again, and a draft article is
// written when asked.
func (e *Engine) RecordOutcome(ctx context.Context, agentID, callID string, o Outcome) (*Draft, error) {
	if strings.TrimSpace(o.Resolution) == "" {
		return nil, fmt.Errorf("%w: resolution is empty", ErrInvalid)
	}
	if len(o.Resolution) > MaxOutcomeText || len(o.Notes) > MaxOutcomeText {
		return nil, fmt.Errorf("%w: resolution or notes longer than %d bytes", ErrInvalid, MaxOutcomeText)
	}
	entry, err := e.owned(ctx, agentID, callID)
	if err != nil {
		return nil, err
	}
	st, _, acceptedAt := e.stateAt(ctx, callID)
	if st != StateAccepted {
		return nil, fmt.Errorf("%w: accept call %q before recording its outcome", ErrInvalid, callID)
	}
	b, err := e.Brief(ctx, callID)
	if err != nil {
		return nil, err
	}
	now := e.cfg.Now()
	// What is kept after the call is redacted: the outcome, the draft and
	// the brief itself (identifiers the caller said become tags).
	o.Resolution, o.Notes = redact.String(o.Resolution), redact.String(o.Notes)
	b = b.Redacted()
	if err := e.saveBrief(ctx, b); err != nil {
		return nil, err
	}
	if _, err := e.cfg.Store.Append(ctx, "handoff:outcomes", map[string]string{
		"call_id": callID, "agent": agentID, "resolved": strconv.FormatBool(o.Resolved), "resolution": o.Resolution,
		"notes": o.Notes, "intent": string(b.Intent.Intent), "at": now.UTC().Format(time.RFC3339),
	}); err != nil {
		return nil, unavailable(err)
	}
	var d *Draft
	if o.DraftArticle {
		d = e.draftFrom(b, agentID, o, now)
		js, _ := json.Marshal(d)
		if err := e.cfg.Store.Set(ctx, "handoff:draft:"+d.ID, string(js), 0); err != nil {
			return nil, unavailable(err)
		}
		if _, err := e.cfg.Store.Append(ctx, "handoff:drafts", map[string]string{"id": d.ID}); err != nil {
			return nil, unavailable(err)
		}
	}
	if err := e.cfg.Queue.Done(ctx, callID); err != nil {
		return d, unavailable(err)
	}
	_ = e.cfg.Store.Delete(ctx, stateKey(callID))
	if err := e.cfg.Queue.Idle(ctx, agentID, now); err != nil && !errors.Is(err, queue.ErrUnknownAgent) {
		return d, unavailable(err)
	}
	// For the wallboard's average handle time: accepted to closed.
	if !acceptedAt.IsZero() {
		group := entry.Group
		if group == "" {
			group = b.Route.Group
		}
		if _, err := e.cfg.Store.Append(ctx, "handoff:events", map[string]string{
			"kind": "handled", "call_id": callID, "agent": agentID, "group": group,
			"at": strconv.FormatInt(now.UnixNano(), 10), "handled_ms": strconv.FormatInt(now.Sub(acceptedAt).Milliseconds(), 10),
		}); err != nil {
			e.cfg.Log.Warn("handle time not recorded for the wallboard", "call_id", callID, "err", err)
		}
	}
	e.cfg.Log.Info("case closed", "call_id", callID, "agent", agentID, "resolved", o.Resolved, "draft", d != nil)
	err = e.Dispatch(ctx)
	e.changed(ctx, Change{Calls: []string{callID}, Agents: []string{agentID}})
	return d, err
}

func (e *Engine) draftFrom(b Brief, agentID string, o Outcome, now time.Time) *Draft {
	in, _ := e.cfg.Taxonomy.Lookup(string(b.Intent.Intent))
	lang := "zh"
	if b.Language.Language == call.LangEnglish {
		lang = "en"
	}
	title := in.Description
	if title == "" {
		title = string(b.Intent.Intent)
	}
	var body strings.Builder
	fmt.Fprintf(&body, "## Symptom\n\n%s\n\n## Resolution\n\n%s\n", quote(b.Transcript.Text()), o.Resolution)
	if o.Notes != "" {
		fmt.Fprintf(&body, "\n## Notes\n\n%s\n", o.Notes)
	}
	return &Draft{
		ID: "draft-" + b.CallID, CallID: b.CallID, Agent: agentID, Title: title, Intent: string(b.Intent.Intent),
		Product: in.ProductLine, Language: lang, Body: body.String(), Status: "awaiting_review", CreatedAt: now,
	}
}

// Drafts lists the most recent draft articles.
func (e *Engine) Drafts(ctx context.Context, n int) ([]Draft, error) {
	ents, err := e.cfg.Store.Tail(ctx, "handoff:drafts", n)
	if err != nil {
		return nil, unavailable(err)
	}
	var out []Draft
	for _, en := range ents {
		s, err := e.cfg.Store.Get(ctx, "handoff:draft:"+en.Fields["id"])
		if err != nil {
			continue
		}
		var d Draft
		if json.Unmarshal([]byte(s), &d) == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// QueueItem is one call as listed on the desk.
type QueueItem struct {
	CallID   string      `json:"call_id"`
	State    CallState   `json:"state"`
	Agent    string      `json:"agent,omitempty"`
	Group    string      `json:"group"`
	Priority int         `json:"priority"`
	Language string      `json:"language,omitempty"`
	Line     string      `json:"line,omitempty"`
	MinLevel int         `json:"min_level"`
	Intent   call.Intent `json:"intent"`
	// IntentName and IntentNameZH: the taxonomy's words for the intent.
	IntentName   string                  `json:"intent_name,omitempty"`
	IntentNameZH string                  `json:"intent_name_zh,omitempty"`
	Urgency      string                  `json:"urgency"`
	Verified     call.VerificationStatus `json:"verification"`
	Waiting      time.Time               `json:"waiting_since"`
	// Since: when the call reached State (an offer rings out from it).
	Since    time.Time `json:"since,omitzero"`
	Eligible bool      `json:"eligible"`
	// Blocked says why this agent may not take the call (group, level,
	// language, line, declined): the desk shows it greyed, with why.
	Blocked  []string `json:"blocked,omitempty"`
	Headline string   `json:"headline"`
}

// DeskView is what one agent's desk shows.
type DeskView struct {
	Agent   queue.Agent `json:"agent"`
	Role    string      `json:"role"`
	Mine    []QueueItem `json:"mine"`
	Waiting []QueueItem `json:"waiting"`
	// Others are waiting calls of groups the agent does not staff, greyed
	// (at most MaxOthers; OthersTotal counts them all).
	Others      []QueueItem `json:"others"`
	OthersTotal int         `json:"others_total"`
	// Callbacks are the abandoned calls of the agent's groups.
	Callbacks []QueueItem `json:"callbacks"`
	// NotReady says why the agent is not offered calls ("" when ready).
	NotReady string `json:"not_ready,omitempty"`
	// RingOutS is how long an offer rings on the desk, in seconds (0:
	// until declined).
	RingOutS float64   `json:"ring_out_s"`
	At       time.Time `json:"at"`
	// Degraded says what the desk cannot show (the shared queue down).
	Degraded string `json:"degraded,omitempty"`
}

// MaxOthers bounds the greyed calls a desk lists.
const MaxOthers = 20

// View returns an agent's desk: the calls they hold, the calls waiting
// that they may take, those they may not (with why), and their groups'
// call-back list.
func (e *Engine) View(ctx context.Context, agentID string) (DeskView, error) {
	v, err := e.view(ctx, agentID)
	if len(v.Others) > MaxOthers {
		v.Others = v.Others[:MaxOthers]
	}
	return v, err
}

// view is View with every greyed call of other groups listed.
func (e *Engine) view(ctx context.Context, agentID string) (DeskView, error) {
	a, err := e.cfg.Roster.Agent(agentID)
	if err != nil {
		return DeskView{}, err
	}
	rec, _ := e.cfg.Roster.Record(agentID)
	v := DeskView{Agent: a, Role: rec.Role, Mine: []QueueItem{}, Waiting: []QueueItem{}, Others: []QueueItem{}, Callbacks: []QueueItem{},
		At: e.cfg.Now(), RingOutS: e.cfg.OfferTimeout.Seconds()}
	// Emergencies kept on this node while the store is down come first,
	// and are shown even when the shared queue cannot be read.
	v.Waiting = append(v.Waiting, e.pendingItems(a)...)
	waiting, err := e.cfg.Queue.Waiting(ctx)
	if err != nil {
		if len(v.Waiting) > 0 {
			v.Degraded = "shared queue unavailable: showing the emergencies kept on this node"
			return v, nil
		}
		return v, unavailable(err)
	}
	for _, q := range waiting {
		if g, cb := IsCallback(q.Group); cb {
			if slices.Contains(a.Groups, g) && a.Level >= q.MinLevel {
				it := e.item(ctx, q, a)
				it.State, it.Group, it.Eligible, it.Blocked = StateAbandoned, g, false, nil
				v.Callbacks = append(v.Callbacks, it)
			}
			continue
		}
		if slices.Contains(a.Groups, q.Group) {
			// The agent's groups: greyed with why when level, language,
			// line or a decline keeps them from it.
			v.Waiting = append(v.Waiting, e.item(ctx, q, a))
			continue
		}
		v.OthersTotal++
		v.Others = append(v.Others, e.item(ctx, q, a))
	}
	if v.NotReady, err = e.NotReady(ctx, agentID); err != nil {
		return v, err
	}
	ps, err := e.cfg.Queue.Agents(ctx)
	if err != nil {
		return v, unavailable(err)
	}
	for _, p := range ps {
		if p.Agent.ID != agentID {
			continue
		}
		for _, id := range p.Calls {
			q, err := e.cfg.Queue.Get(ctx, id)
			if err != nil {
				continue
			}
			v.Mine = append(v.Mine, e.item(ctx, q, a))
		}
	}
	return v, nil
}

func (e *Engine) item(ctx context.Context, q queue.Entry, a queue.Agent) QueueItem {
	return itemOf(e.snapshotOf(ctx, q, maySee(a, q)), a)
}

// maySee: what the caller said, and why, is for the agents who may take
// the call: a waiting call of another group or above the agent's level
// shows only its place and why it is greyed.
func maySee(a queue.Agent, q queue.Entry) bool {
	group, _ := IsCallback(q.Group)
	return q.Owner == a.ID || (a.Level >= q.MinLevel && slices.Contains(a.Groups, group))
}

// itemOf is a call as agent a's desk lists it.
func itemOf(s CallSnapshot, a queue.Agent) QueueItem {
	q := s.Entry
	it := QueueItem{CallID: q.CallID, State: StateWaiting, Group: q.Group, Priority: q.Priority, Language: q.Language,
		Line: q.Line, MinLevel: q.MinLevel, Waiting: q.Enqueued, Eligible: q.Owner == "" && a.Eligible(q)}
	if q.Owner == "" && !it.Eligible {
		it.Blocked = Blocked(a, q)
	}
	if q.Owner != "" {
		it.State, it.Agent, it.Since = s.State, s.Agent, s.Since
	}
	if !maySee(a, q) {
		return it
	}
	if b := s.brief; b != nil {
		it.Intent, it.Urgency, it.Verified = b.Intent.Intent, b.Urgency.Level.String(), b.Verification.Status
		it.IntentName, it.IntentNameZH = b.IntentName, b.IntentNameZH
		it.Headline = quote(b.Transcript.Text())
		if len([]rune(it.Headline)) > 80 {
			it.Headline = string([]rune(it.Headline)[:80]) + "…"
		}
	}
	return it
}

// Subscribe returns a channel that receives a signal after every change
// to queues, offers or presence made through this engine, and a function
// to stop. Signals coalesce: a slow reader gets one, then reads the
// current view.
func (e *Engine) Subscribe() (<-chan struct{}, func()) { return e.hub.Subscribe() }

// ReapAbsent takes offline every online agent whose desk has not been seen
// (Seen) within lease, on any node: their calls, offered or held, go back
// to the queue. Desks refresh their presence every few seconds wherever
// they are connected, and a desk that closes normally is handled by the
// node it was on; this is for the node that died with its desks' feeds,
// which nobody else would notice. Every node runs it, so whichever notices
// first requeues; the queue's Offline is atomic, so two nodes reaping at
// once requeue each call once. It returns the agents taken offline.
func (e *Engine) ReapAbsent(ctx context.Context, lease time.Duration) ([]string, error) {
	since := e.cfg.Now().Add(-lease)
	// The queue's index of when desks were seen: one read when every desk
	// is fresh, whatever the number of agents.
	ids, err := e.cfg.Queue.Unseen(ctx, since)
	if err != nil {
		return nil, unavailable(err)
	}
	var gone []string
	for _, id := range ids {
		off, err := e.OfflineUnlessSeen(ctx, id, since)
		if err != nil {
			return gone, err
		}
		if off {
			e.cfg.Log.Warn("agent's desk not seen within the lease on any node (its node lost?): calls back in the queue",
				"agent", id, "lease", lease)
			gone = append(gone, id)
		}
	}
	return gone, nil
}
