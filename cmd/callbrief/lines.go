package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/web"
)

// lines are this node's live calls as the desk sees their audio: from
// the moment a caller connects until they leave, an agent who holds the
// call may join its audio (web.Media). A leg that joins before the
// caller's handoff is finished waits for it.
type lines struct {
	whip *webrtc.Server

	mu    sync.Mutex
	calls map[string]*line
	subs  map[chan struct{}]struct{}
}

// line is one live call.
type line struct {
	legs        chan webrtc.Call // to pipeline.HoldConfig.Legs
	agentHangup atomic.Bool
	status      web.MediaStatus
}

func newLines(whip *webrtc.Server) *lines {
	return &lines{whip: whip, calls: map[string]*line{}, subs: map[chan struct{}]struct{}{}}
}

// open registers a live call; close it when the call ends.
func (ls *lines) open(callID string) *line {
	ln := &line{legs: make(chan webrtc.Call, 1), status: web.MediaStatus{State: "answering", Since: time.Now()}}
	ls.mu.Lock()
	ls.calls[callID] = ln
	ls.mu.Unlock()
	return ln
}

// close forgets the call and ends a leg that joined but was never taken.
func (ls *lines) close(callID string) {
	ls.mu.Lock()
	ln := ls.calls[callID]
	delete(ls.calls, callID)
	ls.mu.Unlock()
	if ln == nil {
		return
	}
	select {
	case leg := <-ln.legs:
		leg.Close()
	default:
	}
	ls.notify()
}

// set records the call's state as pipeline.HoldConfig.OnState reports it.
func (ls *lines) set(callID, state, mode string) {
	ls.mu.Lock()
	if ln := ls.calls[callID]; ln != nil {
		ln.status.State, ln.status.Mode, ln.status.Since = state, mode, time.Now()
	}
	ls.mu.Unlock()
	ls.notify()
}

// Status implements web.Media.
func (ls *lines) Status(callID string) web.MediaStatus {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ln := ls.calls[callID]; ln != nil {
		return ln.status
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
	leg, answer, err := ls.whip.Join(ctx, callID, offer)
	if err != nil {
		return "", err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	select {
	case old := <-ln.legs:
		old.Close()
	default:
	}
	ln.legs <- leg
	ln.status.Agent = agent
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
	return ls.whip.Hangup(callID)
}

// Subscribe implements web.Media. Signals coalesce.
func (ls *lines) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	ls.mu.Lock()
	ls.subs[ch] = struct{}{}
	ls.mu.Unlock()
	return ch, func() {
		ls.mu.Lock()
		delete(ls.subs, ch)
		ls.mu.Unlock()
	}
}

func (ls *lines) notify() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for ch := range ls.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// holdConfig is the call's hold stage, reporting to the desk.
func (ls *lines) holdConfig(callID string, ln *line, timeout time.Duration) pipeline.HoldConfig {
	return pipeline.HoldConfig{Legs: ln.legs, AgentHangup: ln.agentHangup.Load, Timeout: timeout,
		OnState: func(state, mode string) { ls.set(callID, state, mode) }}
}
