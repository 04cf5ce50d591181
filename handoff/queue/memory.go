package queue

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Memory is the in-process Store: one mutex makes every operation atomic.
type Memory struct {
	mu       sync.Mutex
	calls    map[string]*Entry
	agents   map[string]*Presence
	answered map[string]bool
	seen     map[string]time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-process store.
func NewMemory() *Memory {
	return &Memory{calls: map[string]*Entry{}, agents: map[string]*Presence{}, answered: map[string]bool{}, seen: map[string]time.Time{}}
}

// Enqueue implements Store.
func (m *Memory) Enqueue(ctx context.Context, e Entry) error {
	if err := e.validate(); err != nil {
		return fmt.Errorf("%w: call %q", err, e.CallID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.calls[e.CallID]; ok && old.Owner != "" {
		m.release(old)
	}
	e.Owner = ""
	m.calls[e.CallID] = &e
	return ctx.Err()
}

func (m *Memory) release(e *Entry) {
	if p, ok := m.agents[e.Owner]; ok {
		p.Calls = slices.DeleteFunc(p.Calls, func(id string) bool { return id == e.CallID })
	}
	e.Owner = ""
	delete(m.answered, e.CallID)
}

// waiting returns waiting calls in order; callers hold mu.
func (m *Memory) waiting(groups []string) []*Entry {
	var out []*Entry
	for _, e := range m.calls {
		if e.Owner == "" && (groups == nil || slices.Contains(groups, e.Group)) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := out[i].Score(), out[j].Score()
		if si != sj {
			return si < sj
		}
		return out[i].CallID < out[j].CallID
	})
	return out
}

func (m *Memory) take(p *Presence, e *Entry) Entry {
	e.Owner = p.Agent.ID
	p.Calls = append(p.Calls, e.CallID)
	p.IdleSince = time.Time{}
	return *e
}

// Claim implements Store.
func (m *Memory) Claim(ctx context.Context, agentID string) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.agents[agentID]
	if !ok {
		return Entry{}, fmt.Errorf("%w: %s", ErrUnknownAgent, agentID)
	}
	for _, e := range m.waiting(p.Agent.Groups) {
		if p.Agent.Eligible(*e) {
			return m.take(p, e), nil
		}
	}
	return Entry{}, ErrEmpty
}

// ClaimCall implements Store.
func (m *Memory) ClaimCall(ctx context.Context, agentID, callID string) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.agents[agentID]
	if !ok {
		return Entry{}, fmt.Errorf("%w: %s", ErrUnknownAgent, agentID)
	}
	e, ok := m.calls[callID]
	switch {
	case !ok:
		return Entry{}, fmt.Errorf("%w: %s", ErrUnknownCall, callID)
	case e.Owner != "":
		return Entry{}, fmt.Errorf("%w: %s", ErrTaken, callID)
	case !p.Agent.Eligible(*e):
		return Entry{}, fmt.Errorf("%w: %s for %s", ErrNotEligible, agentID, callID)
	}
	return m.take(p, e), nil
}

// Requeue implements Store.
func (m *Memory) Requeue(ctx context.Context, callID, declinedBy string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.calls[callID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownCall, callID)
	}
	if e.Owner != "" {
		m.release(e)
	}
	if declinedBy != "" && !slices.Contains(e.Declined, declinedBy) {
		e.Declined = append(e.Declined, declinedBy)
	}
	return nil
}

// Done implements Store.
func (m *Memory) Done(ctx context.Context, callID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.calls[callID]; ok {
		if e.Owner != "" {
			m.release(e)
		}
		delete(m.calls, callID)
		delete(m.answered, callID)
	}
	return nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, callID string) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.calls[callID]
	if !ok {
		return Entry{}, fmt.Errorf("%w: %s", ErrUnknownCall, callID)
	}
	return *e, nil
}

// Waiting implements Store.
func (m *Memory) Waiting(ctx context.Context, groups ...string) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(groups) == 0 {
		groups = nil
	}
	var out []Entry
	for _, e := range m.waiting(groups) {
		out = append(out, *e)
	}
	return out, nil
}

// Online implements Store.
func (m *Memory) Online(ctx context.Context, a Agent, at time.Time) error {
	if a.ID == "" {
		return fmt.Errorf("%w: agent without id", ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.agents[a.ID]
	if !ok {
		m.agents[a.ID] = &Presence{Agent: a, IdleSince: at}
		return nil
	}
	p.Agent = a
	if len(p.Calls) == 0 && p.IdleSince.IsZero() {
		p.IdleSince = at
	}
	return nil
}

// Idle implements Store.
func (m *Memory) Idle(ctx context.Context, agentID string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.agents[agentID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownAgent, agentID)
	}
	p.IdleSince = at
	return nil
}

// Offline implements Store.
func (m *Memory) Offline(ctx context.Context, agentID string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.agents[agentID]
	if !ok {
		return nil, nil
	}
	held := slices.Clone(p.Calls)
	for _, id := range held {
		if e, ok := m.calls[id]; ok {
			e.Owner = ""
		}
		delete(m.answered, id)
	}
	delete(m.agents, agentID)
	return held, nil
}

// Agents implements Store.
func (m *Memory) Agents(ctx context.Context) ([]Presence, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Presence, 0, len(m.agents))
	for _, p := range m.agents {
		c := *p
		c.Calls = slices.Clone(p.Calls)
		out = append(out, c)
	}
	SortPresence(out)
	return out, nil
}

// IdleAgents implements Store.
func (m *Memory) IdleAgents(ctx context.Context) ([]Presence, error) {
	ps, _ := m.Agents(ctx)
	out := ps[:0]
	for _, p := range ps {
		if !p.IdleSince.IsZero() {
			out = append(out, p)
		}
	}
	return out, nil
}

// Answer implements Store.
func (m *Memory) Answer(ctx context.Context, callID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.calls[callID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownCall, callID)
	}
	if e.Owner != "" {
		m.answered[callID] = true
	}
	return nil
}

// Offers implements Store.
func (m *Memory) Offers(ctx context.Context) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for id, e := range m.calls {
		if e.Owner != "" && !m.answered[id] {
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CallID < out[j].CallID })
	return out, nil
}

// Seen implements Store.
func (m *Memory) Seen(ctx context.Context, agentID string, at time.Time) error {
	if agentID == "" {
		return fmt.Errorf("%w: agent without id", ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen[agentID] = at
	return nil
}

// LastSeen implements Store.
func (m *Memory) LastSeen(ctx context.Context, agentID string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[agentID], nil
}

// Unseen implements Store.
func (m *Memory) Unseen(ctx context.Context, before time.Time) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id := range m.agents {
		if at, ok := m.seen[id]; ok && at.Before(before) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out, nil
}

// SortPresence orders agents longest idle first, then busy agents, by id.
func SortPresence(ps []Presence) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		ai, bi := !a.IdleSince.IsZero(), !b.IdleSince.IsZero()
		if ai != bi {
			return ai
		}
		if ai && !a.IdleSince.Equal(b.IdleSince) {
			return a.IdleSince.Before(b.IdleSince)
		}
		return a.Agent.ID < b.Agent.ID
	})
}
