package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue/redisq"
	storeredis "github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
)

// redisNode is one node of the service on a shared Redis: its own engine,
// desk and HTTP server, nothing shared in process with the other nodes.
func redisNode(t testing.TB, addr, prefix string) (*Desk, *handoff.Engine, *httptest.Server) {
	t.Helper()
	tx, _ := taxonomy.Load()
	r, err := handoff.DefaultRouter(tx)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := handoff.DemoRoster(r.Groups())
	if err != nil {
		t.Fatal(err)
	}
	return redisNodeWith(t, addr, prefix, r, ro, tx, 0)
}

// redisNodeWith builds a node with this routing and roster; ring is the
// offers' ring-out time (0: none).
func redisNodeWith(t testing.TB, addr, prefix string, r *handoff.Router, ro *handoff.Roster, tx *taxonomy.Taxonomy, ring time.Duration) (*Desk, *handoff.Engine, *httptest.Server) {
	t.Helper()
	st, err := storeredis.New(storeredis.Config{Addr: addr, Prefix: prefix + ":"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := redisq.New(redisq.Config{Addr: addr, Prefix: prefix + ":{handoff}:"})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: q, Store: st, Taxonomy: tx, OfferTimeout: ring})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDesk(eng, []byte("0123456789abcdef0123456789abcdef"), time.Hour, nil).WithStore(st)
	mux := http.NewServeMux()
	d.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d.Close(ctx)
		cancel()
		q.Close()
		st.Close()
	})
	return d, eng, srv
}

type deskMsg struct {
	Type  string             `json:"type"`
	View  *handoff.DeskView  `json:"view"`
	Delta *handoff.DeskDelta `json:"delta"`
}

// readUntil reads the desk's messages until ok holds for one, or the
// deadline passes.
func readUntil(t *testing.T, c *websocket.Conn, within time.Duration, what string, ok func(deskMsg) bool) []deskMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var seen []deskMsg
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("%s: not seen within %s (%v); messages: %+v", what, within, err, seen)
		}
		var m deskMsg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, m)
		if ok(m) {
			return seen
		}
	}
}

func hasOp(m deskMsg, op, id, list string) bool {
	if m.Delta == nil {
		return false
	}
	for _, o := range m.Delta.Ops {
		if o.Op == op && o.CallID == id && (list == "" || o.List == list) {
			return true
		}
	}
	return false
}

// TestPushAcrossNodes: two nodes on one real Redis. An agent's desk is
// connected to node B; calls enter, and are abandoned, on node A. Each
// change reaches the desk by push as a delta naming only that call
// (added, then moved), well before any poll or resync would.
func TestPushAcrossNodes(t *testing.T) {
	srv := redistest.Start(t)
	prefix := fmt.Sprintf("push%d", time.Now().UnixNano())
	_, engA, _ := redisNode(t, srv.Addr, prefix)
	deskB, _, httpB := redisNode(t, srv.Addr, prefix)
	tok := deskB.Token("li.na", time.Now().Add(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, liveURL(t, httpB.URL, tok), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	first := readUntil(t, c, 10*time.Second, "first view", func(m deskMsg) bool { return m.Type == "view" })
	if v := first[len(first)-1].View; v == nil || len(v.Mine) != 0 {
		t.Fatalf("first view: %+v", v)
	}
	req := func(id string) handoff.Request {
		return handoff.Request{CallID: id, Caller: "+8613812345678",
			Transcript: call.Transcript{Segments: []call.Segment{{Text: "my phone will not turn on", Final: true, End: 2 * time.Second}}},
			Intent:     call.IntentResult{Intent: "device_power_boot", Confidence: 0.93},
			Language:   call.LanguageResult{Language: call.LangMandarin, Confidence: 0.9}}
	}
	start := time.Now()
	if _, err := engA.Handoff(ctx, req(prefix+"-1")); err != nil {
		t.Fatal(err)
	}
	// Node A offers it to the agent whose desk is on node B.
	readUntil(t, c, 5*time.Second, "call offered on node A in the desk's own list", func(m deskMsg) bool {
		return hasOp(m, handoff.OpAdded, prefix+"-1", handoff.ListMine) || hasOp(m, handoff.OpUpdated, prefix+"-1", handoff.ListMine)
	})
	t.Logf("offer on node A shown on node B's desk after %s", time.Since(start).Round(time.Millisecond))
	// The agent is busy now: the next call waits in the desk's queue.
	if _, err := engA.Handoff(ctx, req(prefix+"-2")); err != nil {
		t.Fatal(err)
	}
	msgs := readUntil(t, c, 5*time.Second, "second call waiting", func(m deskMsg) bool {
		return hasOp(m, handoff.OpAdded, prefix+"-2", handoff.ListWaiting)
	})
	if err := engA.CallerLeft(ctx, prefix+"-2", "hung up"); err != nil {
		t.Fatal(err)
	}
	msgs = append(msgs, readUntil(t, c, 5*time.Second, "abandoned call moved to the call-back list", func(m deskMsg) bool {
		return hasOp(m, handoff.OpUpdated, prefix+"-2", handoff.ListCallbacks)
	})...)
	// Deltas only, naming only the calls that changed.
	for _, m := range msgs {
		if m.Type != "delta" {
			t.Fatalf("a %q message after the first view: the desk must get deltas only", m.Type)
		}
		if m.Delta != nil {
			for _, o := range m.Delta.Ops {
				if o.CallID != prefix+"-1" && o.CallID != prefix+"-2" {
					t.Fatalf("delta names a call that did not change: %+v", o)
				}
			}
		}
	}
}
