package handoff

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/callbrief/callbrief/handoff/queue"
)

// Desk lists.
const (
	ListMine      = "mine"
	ListWaiting   = "waiting"
	ListOthers    = "others"
	ListCallbacks = "callbacks"
)

// Operations on a desk's lists.
const (
	OpAdded   = "added"
	OpUpdated = "updated" // changed, or moved to another list
	OpRemoved = "removed"
)

// DeskOp is one change on one desk: a call added to a list, updated (or
// moved), or removed.
type DeskOp struct {
	Op     string     `json:"op"`
	CallID string     `json:"call_id"`
	List   string     `json:"list,omitempty"`
	Item   *QueueItem `json:"item,omitempty"`
}

// DeskDelta is what changed on one desk since its last delta.
type DeskDelta struct {
	Ops []DeskOp `json:"ops,omitempty"`
	// OthersTotal and NotReady, when set, are their new values.
	OthersTotal *int    `json:"others_total,omitempty"`
	NotReady    *string `json:"not_ready,omitempty"`
}

// Empty reports whether nothing changed.
func (d DeskDelta) Empty() bool { return len(d.Ops) == 0 && d.OthersTotal == nil && d.NotReady == nil }

type placed struct {
	list string
	item QueueItem
	js   []byte // the item as sent, to tell an update from nothing
}

// DeskState is what one open desk shows, kept by its node so that each
// change becomes the few operations that concern this desk. Not safe for
// concurrent use: one desk's feed owns it.
type DeskState struct {
	agent queue.Agent
	shown map[string]placed
	// hidden are greyed calls of other groups past MaxOthers: counted,
	// not sent, shown when a place frees.
	hidden      map[string]QueueItem
	othersTotal int
	notReady    string
}

// OpenDesk reads an agent's desk once, as the desk's first view, and the
// state its later deltas are computed against.
func (e *Engine) OpenDesk(ctx context.Context, agentID string) (DeskView, *DeskState, error) {
	a, err := e.cfg.Roster.Agent(agentID)
	if err != nil {
		return DeskView{}, nil, err
	}
	ds := &DeskState{agent: a, shown: map[string]placed{}, hidden: map[string]QueueItem{}}
	v, err := e.view(ctx, agentID)
	if err != nil {
		return v, nil, err
	}
	ds.reset(v)
	if len(v.Others) > MaxOthers {
		v.Others = v.Others[:MaxOthers]
	}
	return v, ds, nil
}

func (ds *DeskState) reset(v DeskView) {
	ds.shown, ds.hidden = map[string]placed{}, map[string]QueueItem{}
	for _, l := range []struct {
		name  string
		items []QueueItem
	}{{ListMine, v.Mine}, {ListWaiting, v.Waiting}, {ListCallbacks, v.Callbacks}, {ListOthers, v.Others}} {
		for i, it := range l.items {
			if l.name == ListOthers && i >= MaxOthers {
				ds.hidden[it.CallID] = it
				continue
			}
			js, _ := json.Marshal(it)
			ds.shown[it.CallID] = placed{list: l.name, item: it, js: js}
		}
	}
	ds.othersTotal, ds.notReady = v.OthersTotal, v.NotReady
}

// ResyncDesk re-reads the whole desk (the safety net for changes missed)
// and returns how it differs from what the desk shows.
func (e *Engine) ResyncDesk(ctx context.Context, ds *DeskState) (DeskDelta, error) {
	v, err := e.view(ctx, ds.agent.ID)
	if err != nil {
		return DeskDelta{}, err
	}
	var d DeskDelta
	total, notReady := ds.othersTotal, ds.notReady
	want := map[string]bool{}
	for _, l := range []struct {
		name  string
		items []QueueItem
	}{{ListMine, v.Mine}, {ListWaiting, v.Waiting}, {ListCallbacks, v.Callbacks}, {ListOthers, v.Others}} {
		for _, it := range l.items {
			want[it.CallID] = true
			ds.set(&d, it.CallID, l.name, it, true)
		}
	}
	for _, id := range ds.ids() {
		if !want[id] {
			ds.set(&d, id, "", QueueItem{}, false)
		}
	}
	ds.finish(&d, total)
	if v.NotReady != notReady {
		ds.notReady = v.NotReady
		d.NotReady = &ds.notReady
	}
	return d, nil
}

// ApplyDesk turns an update into the desk's delta: in memory, except one
// read of the agent's readiness when it changed.
func (e *Engine) ApplyDesk(ctx context.Context, ds *DeskState, u Update) DeskDelta {
	var d DeskDelta
	total := ds.othersTotal
	for _, s := range u.Calls {
		list, it, ok := classify(s, ds.agent)
		ds.set(&d, s.ID, list, it, ok)
	}
	ds.finish(&d, total)
	if slices.Contains(u.Agents, ds.agent.ID) {
		if nr, err := e.NotReady(ctx, ds.agent.ID); err == nil && nr != ds.notReady {
			ds.notReady = nr
			d.NotReady = &ds.notReady
		}
	}
	return d
}

// classify says where agent a's desk lists a call, as View does.
func classify(s CallSnapshot, a queue.Agent) (string, QueueItem, bool) {
	q := s.Entry
	switch {
	case s.Gone:
		return "", QueueItem{}, false
	case q.Owner == a.ID:
		return ListMine, itemOf(s, a), true
	case q.Owner != "":
		return "", QueueItem{}, false // with another agent
	}
	if g, cb := IsCallback(q.Group); cb {
		if !slices.Contains(a.Groups, g) || a.Level < q.MinLevel {
			return "", QueueItem{}, false
		}
		it := itemOf(s, a)
		it.State, it.Group, it.Eligible, it.Blocked = StateAbandoned, g, false, nil
		return ListCallbacks, it, true
	}
	if slices.Contains(a.Groups, q.Group) {
		return ListWaiting, itemOf(s, a), true
	}
	return ListOthers, itemOf(s, a), true
}

func (ds *DeskState) ids() []string {
	ids := make([]string, 0, len(ds.shown)+len(ds.hidden))
	for id := range ds.shown {
		ids = append(ids, id)
	}
	for id := range ds.hidden {
		ids = append(ids, id)
	}
	return ids
}

func (ds *DeskState) shownOthers() int {
	n := 0
	for _, p := range ds.shown {
		if p.list == ListOthers {
			n++
		}
	}
	return n
}

// set puts a call where it now belongs (ok false: nowhere) and records
// the operation the desk needs, if any.
func (ds *DeskState) set(d *DeskDelta, id, list string, it QueueItem, ok bool) {
	prev, wasShown := ds.shown[id]
	if _, h := ds.hidden[id]; h {
		delete(ds.hidden, id)
		ds.othersTotal--
	}
	if wasShown && prev.list == ListOthers {
		ds.othersTotal--
	}
	if !ok {
		if wasShown {
			delete(ds.shown, id)
			d.Ops = append(d.Ops, DeskOp{Op: OpRemoved, CallID: id})
		}
		return
	}
	if list == ListOthers {
		ds.othersTotal++
		if !(wasShown && prev.list == ListOthers) && ds.shownOthers() >= MaxOthers {
			ds.hidden[id] = it
			if wasShown {
				delete(ds.shown, id)
				d.Ops = append(d.Ops, DeskOp{Op: OpRemoved, CallID: id})
			}
			return
		}
	}
	js, _ := json.Marshal(it)
	ds.shown[id] = placed{list: list, item: it, js: js}
	switch {
	case !wasShown:
		d.Ops = append(d.Ops, DeskOp{Op: OpAdded, CallID: id, List: list, Item: &it})
	case prev.list != list || string(prev.js) != string(js):
		d.Ops = append(d.Ops, DeskOp{Op: OpUpdated, CallID: id, List: list, Item: &it})
	}
}

// finish fills the free places among the greyed calls, best first, and
// records a new total.
func (ds *DeskState) finish(d *DeskDelta, total int) {
	for n := ds.shownOthers(); n < MaxOthers && len(ds.hidden) > 0; n++ {
		var best *QueueItem
		for _, it := range ds.hidden {
			if best == nil || it.Priority > best.Priority || it.Priority == best.Priority && it.Waiting.Before(best.Waiting) {
				best = &it
			}
		}
		delete(ds.hidden, best.CallID)
		js, _ := json.Marshal(best)
		ds.shown[best.CallID] = placed{list: ListOthers, item: *best, js: js}
		d.Ops = append(d.Ops, DeskOp{Op: OpAdded, CallID: best.CallID, List: ListOthers, Item: best})
	}
	if ds.othersTotal != total {
		n := ds.othersTotal
		d.OthersTotal = &n
	}
}

// Mine lists the calls the desk shows as the agent's own.
func (ds *DeskState) Mine() []string {
	var ids []string
	for id, p := range ds.shown {
		if p.list == ListMine {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
