// Package queue holds the calls waiting for a human agent and the agents'
// presence: which agents are online, since when they are idle, and which
// calls each one holds. Two implementations satisfy Store: Memory (the
// in-process default) and queue/redisq (Redis sorted sets and Lua scripts,
// shared by every node). queue/queuetest is the suite both must pass.
//
// The one invariant that matters: a call is in exactly one place at a time,
// waiting in its queue or held by one agent. Claims are atomic, so two
// agents claiming at once never get the same call, and a call held by an
// agent who disconnects goes back to its queue, never lost.
package queue

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Errors.
var (
	// ErrEmpty: no waiting call the agent may take.
	ErrEmpty = errors.New("queue: no eligible call waiting")
	// ErrTaken: the call is no longer waiting (another agent has it, or it
	// ended).
	ErrTaken = errors.New("queue: call already taken")
	// ErrNotEligible: the agent may not take this call (group, level,
	// language or line).
	ErrNotEligible = errors.New("queue: agent not eligible for the call")
	// ErrUnknownCall: the call is not known to the queue.
	ErrUnknownCall = errors.New("queue: unknown call")
	// ErrUnknownAgent: the agent is not online.
	ErrUnknownAgent = errors.New("queue: agent not online")
	// ErrInvalid: a malformed entry or agent.
	ErrInvalid = errors.New("queue: invalid argument")
	// ErrUnavailable: the backend did not answer.
	ErrUnavailable = errors.New("queue: unavailable")
)

// Entry is one call as the queue knows it: where it waits and who may take
// it. The brief itself lives elsewhere; the queue carries only what
// eligibility and ordering need.
type Entry struct {
	CallID string `json:"call_id"`
	Group  string `json:"group"` // skill group, one queue per group
	// MinLevel is the lowest agent certification level (1-5) allowed.
	MinLevel int `json:"min_level"`
	// Language the agent must speak (en, cmn, yue, wuu); empty: any.
	Language string `json:"language,omitempty"`
	// Line is a special service line the agent must staff ("dialect");
	// empty: any agent of the group.
	Line string `json:"line,omitempty"`
	// Priority orders queues: larger first (see Score).
	Priority int       `json:"priority"`
	Enqueued time.Time `json:"enqueued"`
	// Declined lists agents who declined the call; it is not offered to
	// them again.
	Declined []string `json:"declined,omitempty"`
	// Owner is the agent holding the call; empty while waiting.
	Owner string `json:"owner,omitempty"`
}

// Score orders a queue, smaller first: priority class, then waiting time.
// Milliseconds since 2024 keep the sum exact in a float64 (Redis scores)
// for the next thirty years at priorities up to MaxPriority.
func (e Entry) Score() float64 {
	p := min(max(e.Priority, 0), MaxPriority)
	ms := max(e.Enqueued.Sub(epoch).Milliseconds(), 0)
	return float64(MaxPriority-p)*priorityStep + float64(ms)
}

// MaxPriority bounds Entry.Priority.
const MaxPriority = 999

const priorityStep = 1e12 // ms: about 31 years

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func (e Entry) validate() error {
	if e.CallID == "" || e.Group == "" || e.Enqueued.IsZero() {
		return ErrInvalid
	}
	return nil
}

// Agent is a human agent's routing profile.
type Agent struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Level     int      `json:"level"`     // certification level 1-5
	Groups    []string `json:"groups"`    // skill groups staffed
	Languages []string `json:"languages"` // en, cmn, yue, wuu
	Lines     []string `json:"lines,omitempty"`
}

// Eligible reports whether a may take e. Redis's claim script applies the
// same rule (see redisq); queuetest checks both agree.
func (a Agent) Eligible(e Entry) bool {
	return slices.Contains(a.Groups, e.Group) && a.Level >= e.MinLevel &&
		(e.Language == "" || slices.Contains(a.Languages, e.Language)) &&
		(e.Line == "" || slices.Contains(a.Lines, e.Line)) &&
		!slices.Contains(e.Declined, a.ID)
}

// Presence is an online agent.
type Presence struct {
	Agent Agent `json:"agent"`
	// IdleSince is when the agent last became free; zero while holding
	// a call.
	IdleSince time.Time `json:"idle_since"`
	Calls     []string  `json:"calls,omitempty"`
}

// Store is the queues and presence. All methods are safe for concurrent
// use from any number of nodes sharing the backend.
type Store interface {
	// Enqueue puts a call in its group's queue (replacing an earlier entry
	// of the same call).
	Enqueue(ctx context.Context, e Entry) error
	// Claim atomically takes the first waiting call, across the agent's
	// groups, that the agent may take; ErrEmpty when there is none. The
	// agent must be online; it is no longer idle afterwards.
	Claim(ctx context.Context, agentID string) (Entry, error)
	// ClaimCall atomically takes one call: ErrTaken when it is not
	// waiting, ErrNotEligible when the agent may not take it.
	ClaimCall(ctx context.Context, agentID, callID string) (Entry, error)
	// Requeue puts a held call back at its place in its queue (its
	// original priority and waiting time, so ahead of every call of its
	// class that arrived later). declinedBy, when set, is not offered the
	// call again.
	Requeue(ctx context.Context, callID, declinedBy string) error
	// Done forgets a call that ended or was answered to completion.
	Done(ctx context.Context, callID string) error
	// Get returns a call's entry.
	Get(ctx context.Context, callID string) (Entry, error)
	// Waiting lists the waiting calls of the groups, best first.
	Waiting(ctx context.Context, groups ...string) ([]Entry, error)

	// Online registers or refreshes an agent as online and idle since at
	// (unless the agent holds calls).
	Online(ctx context.Context, a Agent, at time.Time) error
	// Idle marks an online agent free since at.
	Idle(ctx context.Context, agentID string, at time.Time) error
	// Offline removes an agent and requeues every call it held; it
	// returns those calls.
	Offline(ctx context.Context, agentID string) ([]string, error)
	// Agents lists online agents, the longest idle first, then busy ones.
	Agents(ctx context.Context) ([]Presence, error)
	// IdleAgents lists the online agents who are idle, the longest idle
	// first: what a dispatch needs, read from an index (no scan of every
	// agent when none is free).
	IdleAgents(ctx context.Context) ([]Presence, error)

	// Answer records that the agent holding the call answered it: it no
	// longer rings (Offers). A call requeued and taken again rings anew.
	Answer(ctx context.Context, callID string) error
	// Offers lists the calls held by an agent and not answered: what a
	// ring-out sweep checks, read from an index (no scan of every agent).
	Offers(ctx context.Context) ([]Entry, error)

	// Seen records that the agent's desk was connected at at (any node).
	Seen(ctx context.Context, agentID string, at time.Time) error
	// LastSeen is when the agent's desk was last seen; zero: never.
	LastSeen(ctx context.Context, agentID string) (time.Time, error)
	// Unseen lists the online agents last seen before before, from an
	// index: what a sweep for desks lost with their node needs, one read
	// when every desk is fresh. (An agent online but never seen is not
	// listed: the engine records a desk seen before it goes online.)
	Unseen(ctx context.Context, before time.Time) ([]string, error)
}
