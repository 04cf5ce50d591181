package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbrief/callbrief/internal/notify"
	"github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/web"
)

// lines are this node's live calls as the desk sees their audio: from
// the moment a caller connects until they leave, an agent who holds the
// call may join its audio (web.Media). A leg that joins before the
// caller's handoff is finished waits for it.
type lines struct {
	whip *webrtc.Server
	// With a shared store and this node's address, the other nodes learn
	// which node holds each call and how its audio stands.
	kv   store.KV
	self string
	log  *slog.Logger

	mu    sync.Mutex
	calls map[string]*line
	hub   notify.Hub
}

// line is one live call.
type line struct {
	legs        chan webrtc.Call // to pipeline.HoldConfig.Legs
	closed      chan struct{}    // the call is over and gone from the lines
	agentHangup atomic.Bool
	status      web.MediaStatus // under lines.mu
	shareMu     sync.Mutex      // orders the status's writes to the store
	unshared    bool            // under shareMu: the call ended, write no more
	// external is the caller's call when another ingress made it (a SIP
	// call): the agent's leg is joined to it with WebRTC's
	// JoinExternal, and the agent's hang-up closes it.
	external webrtc.Call
}

func newLines(whip *webrtc.Server, kv store.KV, self string, log *slog.Logger) *lines {
	if self == "" {
		kv = nil // nothing to share: one node
	}
	return &lines{whip: whip, kv: kv, self: strings.TrimRight(self, "/"), log: log,
		calls: map[string]*line{}}
}

// Keys of the shared store: the node holding a call's audio, and its
// status for desks on other nodes. They outlive no call by long.
func nodeKey(callID string) string   { return "media:node:" + callID }
func statusKey(callID string) string { return "media:status:" + callID }

const sharedTTL = 12 * time.Hour

// forwardedHeader marks a request one node passed to another, which must
// not pass it on again.
const forwardedHeader = "X-Callbrief-Forwarded"

// share publishes a call's node and its status as it stands when
// written; failures are logged, not fatal: only desks on other nodes lose
// sight of the call. Writes of one call are serialised and each writes
// the status current when it takes its turn, so the last write is never
// older than the last change (two changes racing to the store, such as
// the agent's join and the bridge it leads to, cannot leave the stale
// one behind).
func (ls *lines) share(callID string, ln *line) {
	if ls.kv == nil {
		return
	}
	ln.shareMu.Lock()
	defer ln.shareMu.Unlock()
	if ln.unshared {
		return
	}
	ls.mu.Lock()
	st := ln.status
	ls.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, _ := json.Marshal(st)
	err := ls.kv.Set(ctx, nodeKey(callID), ls.self, sharedTTL)
	if err == nil {
		err = ls.kv.Set(ctx, statusKey(callID), string(b), sharedTTL)
	}
	if err != nil {
		ls.log.Warn("call's audio not shared with other nodes", "call_id", callID, "err", err)
	}
}

// unshare removes the call's keys for good: a write still on its way
// (an agent joining as the call ends) finds the call unshared.
func (ls *lines) unshare(callID string, ln *line) {
	if ls.kv == nil {
		return
	}
	ln.shareMu.Lock()
	defer ln.shareMu.Unlock()
	ln.unshared = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ls.kv.Delete(ctx, nodeKey(callID), statusKey(callID)); err != nil {
		// Other nodes see the call's audio until the keys expire.
		ls.log.Warn("ended call's audio not removed from the shared store", "call_id", callID, "err", err)
	}
}

// Elsewhere implements web.Media: a request for a call held by another
// node is passed to it (the agent's token goes along; that node checks it
// again). The media then flows between the agent and that node.
func (ls *lines) Elsewhere(ctx context.Context, callID string, r *http.Request) http.Handler {
	ls.mu.Lock()
	_, local := ls.calls[callID]
	ls.mu.Unlock()
	if local || ls.kv == nil || r.Header.Get(forwardedHeader) != "" {
		return nil
	}
	node, err := ls.kv.Get(ctx, nodeKey(callID))
	if err != nil || node == ls.self {
		return nil
	}
	target, err := url.Parse(node)
	if err != nil {
		ls.log.Warn("bad node address in the store", "call_id", callID, "node", node, "err", err)
		return nil
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(forwardedHeader, ls.self)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			ls.log.Warn("passing the agent's audio request to the call's node failed", "call_id", callID, "node", node, "err", err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf("the node holding call %s (%s) did not answer", callID, node)})
		},
	}
}

// open registers a live call; close it when the call ends.
func (ls *lines) open(callID string) *line { return ls.openCall(callID, nil) }

// openExternal registers a live call another ingress made (SIP): the
// agent's WebRTC leg is bridged to it by transcoding.
func (ls *lines) openExternal(c webrtc.Call) *line { return ls.openCall(c.ID(), c) }

func (ls *lines) openCall(callID string, external webrtc.Call) *line {
	ln := &line{legs: make(chan webrtc.Call, 1), closed: make(chan struct{}), status: web.MediaStatus{State: "answering", Since: time.Now()},
		external: external}
	ls.mu.Lock()
	ls.calls[callID] = ln
	ls.mu.Unlock()
	ls.share(callID, ln)
	return ln
}

// close forgets the call and ends a leg that joined but was never taken.
func (ls *lines) close(callID string) {
	ls.mu.Lock()
	ln := ls.calls[callID]
	delete(ls.calls, callID)
	var stranded webrtc.Call
	if ln != nil {
		select {
		case stranded = <-ln.legs:
		default:
		}
	}
	ls.mu.Unlock()
	if ln == nil {
		return
	}
	if stranded != nil {
		stranded.Close()
	}
	ls.unshare(callID, ln)
	close(ln.closed)
	ls.notify()
}

// set records the call's state as pipeline.HoldConfig.OnState reports it.
func (ls *lines) set(callID, state, mode string) {
	ls.mu.Lock()
	ln := ls.calls[callID]
	if ln != nil {
		ln.status.State, ln.status.Mode, ln.status.Since = state, mode, time.Now()
	}
	ls.mu.Unlock()
	if ln != nil {
		ls.share(callID, ln)
	}
	ls.notify()
}

// key records a key the caller pressed while bridged, for the desk.
func (ls *lines) key(callID string, k rune) {
	ls.mu.Lock()
	ln := ls.calls[callID]
	if ln != nil {
		keys := ln.status.Keys + string(k)
		if n := len(keys) - web.MaxMediaKeys; n > 0 {
			keys = keys[n:] // keys are ASCII
		}
		ln.status.Keys = keys
	}
	ls.mu.Unlock()
	if ln != nil {
		ls.share(callID, ln)
	}
	ls.notify()
}

// Status implements web.Media: this node's calls from memory, the other
// nodes' from the shared store.
func (ls *lines) Status(callID string) web.MediaStatus {
	ls.mu.Lock()
	ln := ls.calls[callID]
	var st web.MediaStatus
	if ln != nil {
		st = ln.status
	}
	ls.mu.Unlock()
	if ln != nil {
		return st
	}
	if ls.kv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if v, err := ls.kv.Get(ctx, statusKey(callID)); err == nil && json.Unmarshal([]byte(v), &st) == nil && st.State != "" {
			return st
		}
	}
	return web.MediaStatus{State: web.MediaNone}
}

// Join implements web.Media: the agent's leg is made here and handed to
// the call, replacing one not yet taken.
func (ls *lines) Join(ctx context.Context, callID, agent string, offer []byte) (string, error) {
	ls.mu.Lock()
	ln := ls.calls[callID]
	ls.mu.Unlock()
	if ln == nil {
		return "", fmt.Errorf("%w: call %q is not on the line here", web.ErrNoMedia, callID)
	}
	var (
		leg    webrtc.Call
		answer string
		err    error
	)
	if ln.external != nil {
		leg, answer, err = ls.whip.JoinExternal(ctx, callID, ln.external.Codec(), offer)
	} else {
		leg, answer, err = ls.whip.Join(ctx, callID, offer)
	}
	if err != nil {
		return "", err
	}
	// Handed over under the lock close takes, so that a call ending now
	// cannot strand the leg: either close finds it queued, or this finds
	// the call gone.
	ls.mu.Lock()
	if ls.calls[callID] != ln {
		ls.mu.Unlock()
		leg.Close()
		return "", fmt.Errorf("%w: call %q ended", web.ErrNoMedia, callID)
	}
	var old webrtc.Call
	select {
	case old = <-ln.legs:
	default:
	}
	ln.legs <- leg
	ln.status.Agent = agent
	ls.mu.Unlock()
	if old != nil {
		old.Close()
	}
	ls.share(callID, ln)
	return answer, nil
}

// Hangup implements web.Media: the agent ends the call.
func (ls *lines) Hangup(ctx context.Context, callID, agent string) error {
	ls.mu.Lock()
	ln := ls.calls[callID]
	ls.mu.Unlock()
	if ln == nil {
		return fmt.Errorf("%w: call %q is not on the line here", web.ErrNoMedia, callID)
	}
	ln.agentHangup.Store(true)
	if ln.external != nil {
		// Ends the call (a BYE to the caller) and waits for it.
		_ = ln.external.Close()
	} else if err := ls.whip.Hangup(callID); err != nil {
		return err
	}
	// Answered once the call is gone from the lines too, so that no view
	// the desk gets afterwards shows its audio still up.
	select {
	case <-ln.closed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("desk: call %q hung up, still ending: %w", callID, ctx.Err())
	}
}

// Subscribe implements web.Media. Signals coalesce.
func (ls *lines) Subscribe() (<-chan struct{}, func()) { return ls.hub.Subscribe() }

func (ls *lines) notify() { ls.hub.Publish() }

// holdConfig is the call's hold stage, reporting to the desk; position
// is the call's place in its queue (handoff.Engine.QueuePosition).
func (ls *lines) holdConfig(callID string, ln *line, timeout time.Duration, position func(context.Context, string) (int, error)) pipeline.HoldConfig {
	return pipeline.HoldConfig{Legs: ln.legs, AgentHangup: ln.agentHangup.Load, Timeout: timeout,
		OnState: func(state, mode string) { ls.set(callID, state, mode) },
		OnKey:   func(k rune) { ls.key(callID, k) },
		Position: func(ctx context.Context) (int, bool) {
			pos, err := position(ctx, callID)
			return pos, err == nil
		}}
}
