package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	mwebrtc "github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/media/webrtc/webrtctest"
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
