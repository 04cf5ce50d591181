package handoff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/internal/redact"
	"github.com/callbrief/callbrief/store"
)

// The floor: what an ACD does besides offering calls. Offers ring out,
// agents who let a call ring are set not ready, callers who hung up go to
// a call-back list that is never offered as live, and supervisors see the
// whole floor on a wallboard.

// More states of a call on the desk.
const (
	// StateAbandoned: the caller hung up (or was told they will be
	// called back) before an agent talked to them. The call is in its
	// group's call-back list; it can never be accepted as a live call.
	StateAbandoned CallState = "abandoned"
)

// CallbackPrefix prefixes the queue group of an abandoned call: the call
// stays findable (brief, audit) but no agent staffs such a group, so it is
// never offered or claimed as live.
const CallbackPrefix = "callback:"

// IsCallback reports whether a queue group is a call-back list, and the
// skill group it belongs to.
func IsCallback(group string) (string, bool) {
	return strings.CutPrefix(group, CallbackPrefix)
}

func notReadyKey(agentID string) string { return "handoff:notready:" + agentID }

// Why an agent is not ready.
const (
	// NotReadyRangOut: an offer rang out on the agent's desk.
	NotReadyRangOut = "rang_out"
)

// NotReady returns why the agent is not ready ("" when ready).
func (e *Engine) NotReady(ctx context.Context, agentID string) (string, error) {
	v, err := e.cfg.Store.Get(ctx, notReadyKey(agentID))
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", unavailable(err)
	}
	return v, nil
}

// Ready puts a not-ready agent back: idle from now, offered waiting calls.
func (e *Engine) Ready(ctx context.Context, agentID string) error {
	if _, err := e.cfg.Roster.Agent(agentID); err != nil {
		return err
	}
	if err := e.cfg.Store.Delete(ctx, notReadyKey(agentID)); err != nil {
		return unavailable(err)
	}
	if err := e.cfg.Queue.Idle(ctx, agentID, e.cfg.Now()); err != nil && !errors.Is(err, queue.ErrUnknownAgent) {
		return unavailable(err)
	}
	e.cfg.Log.Info("agent ready", "agent", agentID)
	err := e.Dispatch(ctx)
	e.changed(ctx, Change{Agents: []string{agentID}})
	return err
}

// OfferTimeout is how long an offer rings before RingOut moves it.
func (e *Engine) OfferTimeout() time.Duration { return e.cfg.OfferTimeout }

// RingOut moves every offer that has rung past OfferTimeout to the next
// eligible agent, as an ACD does: the call goes back to the head of its
// queue and is offered again, and the agent who let it ring is set not
// ready (so it is not offered straight back to them) with the reason
// shown on their desk, until they say they are ready. It returns the
// calls moved. Every node runs it; the requeue is atomic in the queue and
// a call already moved by another node is not moved twice (its state is
// read again under the dispatch lock, and its owner checked).
func (e *Engine) RingOut(ctx context.Context) ([]string, error) {
	if e.cfg.OfferTimeout <= 0 {
		return nil, nil
	}
	// The queue's index of calls held and not answered: one read when
	// nothing rings, whatever the number of agents and calls.
	offers, err := e.cfg.Queue.Offers(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	now := e.cfg.Now()
	var moved, rang []string
	for _, o := range offers {
		id, owner := o.CallID, o.Owner
		st, agent, at := e.stateAt(ctx, id)
		if st == StateAccepted && agent == owner {
			// Answered before the index knew (a previous version).
			_ = e.cfg.Queue.Answer(ctx, id)
			continue
		}
		if st != StateOffered || agent != owner || at.IsZero() || now.Sub(at) < e.cfg.OfferTimeout {
			continue
		}
		q, err := e.cfg.Queue.Get(ctx, id)
		if err != nil || q.Owner != owner {
			continue // moved meanwhile (another node, a decline)
		}
		// Not ready first: the dispatch the requeue triggers must not
		// offer the call straight back.
		if err := e.cfg.Store.Set(ctx, notReadyKey(owner), NotReadyRangOut, e.cfg.BriefTTL); err != nil {
			return moved, unavailable(err)
		}
		if err := e.cfg.Queue.Requeue(ctx, id, ""); err != nil {
			return moved, unavailable(err)
		}
		_ = e.cfg.Store.Delete(ctx, stateKey(id))
		if _, err := e.cfg.Store.Append(ctx, "handoff:events", map[string]string{
			"kind": "rang_out", "call_id": id, "agent": owner, "group": q.Group,
			"at": strconv.FormatInt(now.UnixNano(), 10),
		}); err != nil {
			e.cfg.Log.Warn("ring-out not recorded for the wallboard", "call_id", id, "err", err)
		}
		e.cfg.Log.Warn("offer rang out: call back in its queue, agent set not ready", "call_id", id, "agent", owner,
			"rang_for", now.Sub(at).Round(time.Millisecond))
		moved = append(moved, id)
		rang = append(rang, owner)
	}
	if len(moved) > 0 {
		e.changed(ctx, Change{Calls: moved, Agents: rang})
		if err := e.Dispatch(ctx); err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// RunRingOut calls RingOut every tick until ctx ends.
func (e *Engine) RunRingOut(ctx context.Context, tick time.Duration) {
	if e.cfg.OfferTimeout <= 0 {
		return
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if _, err := e.RingOut(rctx); err != nil && ctx.Err() == nil {
			e.cfg.Log.Warn("ring-out sweep failed", "err", err)
		}
		cancel()
	}
}

// Blocked says why agent a may not take the waiting call q: "group",
// "level", "language", "line", "declined"; none when a may.
func Blocked(a queue.Agent, q queue.Entry) []string {
	var why []string
	if !slices.Contains(a.Groups, q.Group) {
		why = append(why, "group")
	}
	if a.Level < q.MinLevel {
		why = append(why, "level")
	}
	if q.Language != "" && !slices.Contains(a.Languages, q.Language) {
		why = append(why, "language")
	}
	if q.Line != "" && !slices.Contains(a.Lines, q.Line) {
		why = append(why, "line")
	}
	if slices.Contains(q.Declined, a.ID) {
		why = append(why, "declined")
	}
	return why
}

// CallerLeft records that a call's caller is no longer on the line
// although no agent talked to them (they hung up while waiting, or no
// agent joined in time). The call leaves the live queue for its group's
// call-back list: shown as abandoned, never offered or accepted as live.
// The brief keeps everything else, and says why.
func (e *Engine) CallerLeft(ctx context.Context, callID, why string) error {
	b, err := e.Brief(ctx, callID)
	if err != nil {
		return err
	}
	now := e.cfg.Now()
	var freed []string
	b.Reason = "abandoned: " + why + " (was: " + b.Reason + ")"
	b.AbandonedAt = now
	if err := e.saveBrief(ctx, b); err != nil {
		return err
	}
	q, err := e.cfg.Queue.Get(ctx, callID)
	switch {
	case errors.Is(err, queue.ErrUnknownCall):
		// Closed already: nothing to call back.
	case err != nil:
		return unavailable(err)
	default:
		if _, cb := IsCallback(q.Group); !cb {
			owner := q.Owner
			if err := e.cfg.Queue.Done(ctx, callID); err != nil {
				return unavailable(err)
			}
			q.Group, q.Owner = CallbackPrefix+q.Group, ""
			if err := e.cfg.Queue.Enqueue(ctx, q); err != nil {
				return unavailable(err)
			}
			_ = e.cfg.Store.Delete(ctx, stateKey(callID))
			if owner != "" {
				freed = append(freed, owner)
				// The agent it rang on, or who had not joined, is free.
				if nr, _ := e.NotReady(ctx, owner); nr == "" {
					if err := e.cfg.Queue.Idle(ctx, owner, now); err != nil && !errors.Is(err, queue.ErrUnknownAgent) {
						return unavailable(err)
					}
				}
			}
			group, _ := IsCallback(q.Group)
			if _, err := e.cfg.Store.Append(ctx, "handoff:events", map[string]string{
				"kind": "abandoned", "call_id": callID, "group": group, "at": strconv.FormatInt(now.UnixNano(), 10),
				"waited_ms": strconv.FormatInt(now.Sub(q.Enqueued).Milliseconds(), 10),
			}); err != nil {
				e.cfg.Log.Warn("abandon not recorded for the wallboard", "call_id", callID, "err", err)
			}
		}
	}
	e.cfg.Log.Info("caller left before an agent talked to them: call-back list", "call_id", callID, "why", why)
	if err := e.Dispatch(ctx); err != nil {
		e.cfg.Log.Warn("dispatch after an abandon failed", "call_id", callID, "err", err)
	}
	e.changed(ctx, Change{Calls: []string{callID}, Agents: freed})
	return nil
}

// CalledBack closes an abandoned call from the call-back list once an
// agent of its group has called the caller back (or tried): the note is
// kept with the outcomes, redacted.
func (e *Engine) CalledBack(ctx context.Context, agentID, callID string, o Outcome) error {
	a, err := e.cfg.Roster.Agent(agentID)
	if err != nil {
		return err
	}
	if strings.TrimSpace(o.Resolution) == "" {
		return fmt.Errorf("%w: resolution is empty", ErrInvalid)
	}
	if len(o.Resolution) > MaxOutcomeText {
		return fmt.Errorf("%w: resolution longer than %d bytes", ErrInvalid, MaxOutcomeText)
	}
	q, err := e.cfg.Queue.Get(ctx, callID)
	if errors.Is(err, queue.ErrUnknownCall) {
		return fmt.Errorf("%w: call %q", ErrNotFound, callID)
	}
	if err != nil {
		return unavailable(err)
	}
	g, cb := IsCallback(q.Group)
	if !cb {
		return fmt.Errorf("%w: call %q is not in a call-back list", ErrInvalid, callID)
	}
	if !slices.Contains(a.Groups, g) || a.Level < q.MinLevel {
		return fmt.Errorf("%w: call %q", ErrNotFound, callID)
	}
	b, err := e.Brief(ctx, callID)
	if err != nil {
		return err
	}
	if err := e.saveBrief(ctx, b.Redacted()); err != nil {
		return err
	}
	if _, err := e.cfg.Store.Append(ctx, "handoff:outcomes", map[string]string{
		"call_id": callID, "agent": agentID, "resolved": strconv.FormatBool(o.Resolved), "resolution": redact.String(o.Resolution),
		"intent": string(b.Intent.Intent), "called_back": "true", "at": e.cfg.Now().UTC().Format(time.RFC3339),
	}); err != nil {
		return unavailable(err)
	}
	if err := e.cfg.Queue.Done(ctx, callID); err != nil {
		return unavailable(err)
	}
	e.cfg.Log.Info("abandoned call called back", "call_id", callID, "agent", agentID)
	e.changed(ctx, Change{Calls: []string{callID}})
	return nil
}

// ServiceLevelTarget is the answer time the wallboard's service level
// counts against: answered within 20 s, the contact-centre convention.
const ServiceLevelTarget = 20 * time.Second

// GroupStats is one group's line on the wallboard (or the floor's, Group
// empty).
type GroupStats struct {
	Group string `json:"group"`
	// Waiting live callers and the longest of their waits, in seconds.
	Waiting     int     `json:"waiting"`
	LongestWait float64 `json:"longest_wait_s"`
	Offered     int     `json:"offered"`
	Talking     int     `json:"talking"`
	// Over the last hour: calls answered, of them within the target, the
	// service level (percent; -1 with nothing answered), abandoned, rung
	// out, and the call-back list now.
	Answered      int     `json:"answered"`
	AnsweredInSL  int     `json:"answered_in_sl"`
	ServiceLevel  float64 `json:"service_level"`
	Abandoned     int     `json:"abandoned"`
	RangOut       int     `json:"rang_out"`
	CallbacksOpen int     `json:"callbacks_open"`
	// Handled calls closed in the hour and their average handle time
	// (accepted to outcome recorded: talk and wrap-up), seconds; -1 with
	// none.
	Handled       int     `json:"handled"`
	AvgHandleS    float64 `json:"avg_handle_s"`
	handleSeconds float64
}

// Bucket is one slice of the wallboard's hour: calls answered (and of
// them within the service-level target) and abandoned in it.
type Bucket struct {
	Start        time.Time `json:"start"`
	Answered     int       `json:"answered"`
	AnsweredInSL int       `json:"answered_in_sl"`
	Abandoned    int       `json:"abandoned"`
}

// TimelineBuckets slices the wallboard's hour for its chart.
const TimelineBuckets = 12

// AgentState is one agent on the wallboard.
type AgentState struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"` // offline, ready, not_ready, offered, talking
	// Reason of not_ready; Since: how long in the state, seconds (ready).
	Reason string   `json:"reason,omitempty"`
	Since  float64  `json:"since_s,omitempty"`
	Groups []string `json:"groups"`
}

// Wallboard is the floor at a moment.
type Wallboard struct {
	At     time.Time    `json:"at"`
	Floor  GroupStats   `json:"floor"`
	Groups []GroupStats `json:"groups"`
	Agents []AgentState `json:"agents"`
	// AgentsByState counts the roster's agents by State.
	AgentsByState map[string]int `json:"agents_by_state"`
	SLTargetS     float64        `json:"sl_target_s"`
	// Timeline is the floor's hour in TimelineBuckets slices, oldest first.
	Timeline []Bucket `json:"timeline"`
}

// WallboardWindow is how far back the wallboard's counts look.
const WallboardWindow = time.Hour

// maxEvents bounds the events read for the wallboard's hour.
const maxEvents = 5000

// Wallboard reads the floor for a supervisor; the read is audited.
func (e *Engine) Wallboard(ctx context.Context, supervisorID string) (Wallboard, error) {
	a, err := e.cfg.Roster.Record(supervisorID)
	if err != nil {
		return Wallboard{}, err
	}
	if a.Role != RoleSupervisor {
		return Wallboard{}, fmt.Errorf("%w: the wallboard is for supervisors", ErrForbidden)
	}
	now := e.cfg.Now()
	if _, err := e.cfg.Store.Append(ctx, "audit:desk", map[string]string{
		"kind": "wallboard_read", "agent": supervisorID, "at": now.UTC().Format(time.RFC3339Nano),
	}); err != nil {
		return Wallboard{}, unavailable(err)
	}
	w := Wallboard{At: now, AgentsByState: map[string]int{}, SLTargetS: ServiceLevelTarget.Seconds()}
	byGroup := map[string]*GroupStats{}
	for _, g := range e.cfg.Router.Groups() {
		byGroup[g] = &GroupStats{Group: g}
	}
	stat := func(g string) *GroupStats {
		s, ok := byGroup[g]
		if !ok {
			s = &GroupStats{Group: g}
			byGroup[g] = s
		}
		return s
	}
	waiting, err := e.cfg.Queue.Waiting(ctx)
	if err != nil {
		return w, unavailable(err)
	}
	for _, q := range waiting {
		if g, cb := IsCallback(q.Group); cb {
			stat(g).CallbacksOpen++
			continue
		}
		s := stat(q.Group)
		s.Waiting++
		s.LongestWait = max(s.LongestWait, now.Sub(q.Enqueued).Seconds())
	}
	ps, err := e.cfg.Queue.Agents(ctx)
	if err != nil {
		return w, unavailable(err)
	}
	online := map[string]queue.Presence{}
	for _, p := range ps {
		online[p.Agent.ID] = p
	}
	for _, id := range e.cfg.Roster.IDs() {
		rec, _ := e.cfg.Roster.Record(id)
		if rec.Role == RoleSupervisor && len(rec.Groups) == 0 {
			continue
		}
		as := AgentState{ID: id, Name: rec.Name, Groups: rec.Groups, State: "offline"}
		if p, ok := online[id]; ok {
			as.State = "ready"
			if !p.IdleSince.IsZero() {
				as.Since = now.Sub(p.IdleSince).Seconds()
			}
			for _, c := range p.Calls {
				st, _ := e.state(ctx, c)
				q, qerr := e.cfg.Queue.Get(ctx, c)
				if st == StateAccepted {
					as.State = "talking"
					if qerr == nil {
						stat(q.Group).Talking++
					}
				} else if as.State != "talking" {
					as.State = "offered"
					if qerr == nil {
						stat(q.Group).Offered++
					}
				}
			}
			if len(p.Calls) == 0 {
				if nr, _ := e.NotReady(ctx, id); nr != "" {
					as.State, as.Reason, as.Since = "not_ready", nr, 0
				}
			}
		}
		w.AgentsByState[as.State]++
		w.Agents = append(w.Agents, as)
	}
	evs, err := e.cfg.Store.Tail(ctx, "handoff:events", maxEvents)
	if err != nil {
		return w, unavailable(err)
	}
	from := now.Add(-WallboardWindow)
	slice := WallboardWindow / TimelineBuckets
	w.Timeline = make([]Bucket, TimelineBuckets)
	for i := range w.Timeline {
		w.Timeline[i].Start = from.Add(time.Duration(i) * slice)
	}
	for _, ev := range evs {
		ns, err := strconv.ParseInt(ev.Fields["at"], 10, 64)
		at := time.Unix(0, ns)
		if err != nil || at.Before(from) || at.After(now) {
			continue
		}
		b := &w.Timeline[min(TimelineBuckets-1, int(at.Sub(from)/slice))]
		s := stat(ev.Fields["group"])
		switch ev.Fields["kind"] {
		case "answered":
			s.Answered++
			b.Answered++
			if ms, err := strconv.ParseInt(ev.Fields["waited_ms"], 10, 64); err == nil && time.Duration(ms)*time.Millisecond <= ServiceLevelTarget {
				s.AnsweredInSL++
				b.AnsweredInSL++
			}
		case "abandoned":
			s.Abandoned++
			b.Abandoned++
		case "rang_out":
			s.RangOut++
		case "handled":
			if ms, err := strconv.ParseInt(ev.Fields["handled_ms"], 10, 64); err == nil && ms >= 0 {
				s.Handled++
				s.handleSeconds += float64(ms) / 1000
			}
		}
	}
	w.Floor.ServiceLevel = -1
	for _, s := range byGroup {
		s.ServiceLevel = serviceLevel(s.AnsweredInSL, s.Answered)
		s.AvgHandleS = average(s.handleSeconds, s.Handled)
		w.Groups = append(w.Groups, *s)
		f := &w.Floor
		f.Waiting += s.Waiting
		f.LongestWait = max(f.LongestWait, s.LongestWait)
		f.Offered += s.Offered
		f.Talking += s.Talking
		f.Answered += s.Answered
		f.AnsweredInSL += s.AnsweredInSL
		f.Abandoned += s.Abandoned
		f.RangOut += s.RangOut
		f.CallbacksOpen += s.CallbacksOpen
		f.Handled += s.Handled
		f.handleSeconds += s.handleSeconds
	}
	w.Floor.ServiceLevel = serviceLevel(w.Floor.AnsweredInSL, w.Floor.Answered)
	w.Floor.AvgHandleS = average(w.Floor.handleSeconds, w.Floor.Handled)
	sort.Slice(w.Groups, func(i, j int) bool {
		gi, gj := w.Groups[i], w.Groups[j]
		if gi.Waiting != gj.Waiting {
			return gi.Waiting > gj.Waiting
		}
		return gi.Group < gj.Group
	})
	return w, nil
}

func average(sum float64, n int) float64 {
	if n == 0 {
		return -1
	}
	return sum / float64(n)
}

func serviceLevel(in, of int) float64 {
	if of == 0 {
		return -1
	}
	return float64(in) * 100 / float64(of)
}
