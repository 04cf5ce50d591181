package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	mwebrtc "github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/media/webrtc/webrtctest"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/web"
)

// agentOffer is a complete offer from a Go peer, as a desk would post.
func agentOffer(t *testing.T) []byte {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-g
	return []byte(pc.LocalDescription().SDP)
}

// TestLinesNoStrandedLegs: a leg that joins a call that then ends without
// taking it is closed, and a leg joining a call that has just ended is
// refused and closed; nothing is left running.
func TestLinesNoStrandedLegs(t *testing.T) {
	checkLiveLeaks(t)
	calls := make(chan mwebrtc.Call, 1)
	ws, err := mwebrtc.NewServer(mwebrtc.Config{Loopback: true, OnCall: func(c mwebrtc.Call) { calls <- c; <-c.Done() }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/whip", http.StripPrefix("/v1/whip", ws))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()
	defer ws.Close(ctx)
	cl, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Dial(ctx, srv.URL+"/v1/whip", nil); err != nil {
		t.Fatal(err)
	}
	c := <-calls
	ls := newLines(ws, nil, "", slog.New(slog.DiscardHandler))

	// Joined, never taken: closing the line closes the leg.
	ln := ls.open(c.ID())
	if _, err := ls.Join(ctx, c.ID(), "li.na", agentOffer(t)); err != nil {
		t.Fatal(err)
	}
	if st := ls.Status(c.ID()); st.Agent != "li.na" || st.State != "answering" {
		t.Fatalf("status %+v", st)
	}
	leg := <-ln.legs
	ln.legs <- leg
	ls.close(c.ID())
	select {
	case <-leg.Done():
	case <-time.After(liveGuard):
		t.Fatal("stranded leg not closed")
	}
	// The call is gone from the lines: joining is refused.
	if _, err := ls.Join(ctx, c.ID(), "li.na", agentOffer(t)); !errors.Is(err, web.ErrNoMedia) {
		t.Fatalf("join after the call ended: %v", err)
	}
	if ws.Active() != 1 {
		t.Fatalf("%d calls", ws.Active())
	}
	c.Close()
}

// gatedKV holds the first write of a call's status until released, as a
// slow round trip to the shared store would.
type gatedKV struct {
	store.KV
	held    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedKV) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if strings.HasPrefix(key, "media:status:") {
		if g.held.CompareAndSwap(false, true) {
			close(g.entered)
			<-g.release
		}
	}
	return g.KV.Set(ctx, key, value, ttl)
}

// TestLinesShareInOrder: two changes of a call's audio racing to the
// shared store (the agent's join, and the bridge it leads to) leave the
// later one there, whichever write was slower; and a call that ended
// leaves nothing behind, even with a write still on its way.
func TestLinesShareInOrder(t *testing.T) {
	kv := &gatedKV{KV: memory.New(), entered: make(chan struct{}), release: make(chan struct{})}
	ls := newLines(nil, kv, "http://node-a", slog.New(slog.DiscardHandler))
	opened := make(chan *line, 1)
	go func() { opened <- ls.open("c1") }() // its write is the held one
	<-kv.entered
	done := make(chan struct{})
	go func() { ls.set("c1", "bridged", mwebrtc.BridgeForward); close(done) }()
	for ls.Status("c1").State != "bridged" { // changed in memory; its write waits
		time.Sleep(time.Millisecond)
	}
	close(kv.release)
	<-done
	ln := <-opened
	shared := func() web.MediaStatus {
		var st web.MediaStatus
		if v, err := kv.Get(context.Background(), statusKey("c1")); err == nil {
			_ = json.Unmarshal([]byte(v), &st)
		}
		return st
	}
	if st := shared(); st.State != "bridged" {
		t.Fatalf("shared status %+v after the bridge; the slower, older write won", st)
	}
	ls.close("c1")
	ls.share("c1", ln) // late, as from a join racing the call's end
	if v, err := kv.Get(context.Background(), statusKey("c1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("status %q (%v) left behind by an ended call", v, err)
	}
}
