package sip

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media/sip/siptest"
	"github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/media/webrtc/webrtctest"
)

// TestBridgeToWebRTCAgent: a telephone caller (sipp, G.711 mu-law) and an
// agent's WebRTC leg (the Go test client, Opus) are bridged by
// transcoding. The caller plays a 600 Hz tone: the agent hears it. The
// agent then says a 1000 Hz tone: the caller receives it (sipp returns
// what it receives, -rtp_echo) and the agent hears it back through the
// caller's leg, the only way audio reaches the agent.
func TestBridgeToWebRTCAgent(t *testing.T) {
	needSipp(t)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	ws, err := webrtc.NewServer(webrtc.Config{Loopback: true, OnCall: func(webrtc.Call) {}, Logger: testLoggerIf(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close(context.Background())

	var current atomic.Pointer[Call]
	up := make(chan struct{})
	legs := make(chan webrtc.Call, 1)
	type result struct {
		st  webrtc.BridgeStats
		err error
	}
	bridged := make(chan result, 1)
	var upOnce sync.Once
	s := testServer(t, nil, func(c *Call) {
		current.Store(c)
		upOnce.Do(func() { close(up) })
		select {
		case leg := <-legs:
			_, st, err := webrtc.Bridge(ctx, c, leg)
			leg.Close()
			bridged <- result{st, err}
		case <-ctx.Done():
		}
	})
	// The desk's join, reduced to its media: the agent's offer is
	// answered by a leg of the SIP call.
	desk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := current.Load()
		offer, _ := io.ReadAll(r.Body)
		leg, answer, err := ws.JoinExternal(r.Context(), c.ID(), c.Codec(), offer)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		legs <- leg
		w.Header().Set("Location", "/leg/"+leg.ID())
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, answer)
	}))
	defer desk.Close()

	tone := filepath.Join(t.TempDir(), "tone600.pcap")
	if _, err := siptest.WritePCAP(tone, siptest.Tone(600, 8000, 8000, 3*time.Second), 8000, "PCMU"); err != nil {
		t.Fatal(err)
	}
	sippDone := make(chan error, 1)
	var sippOut string
	go func() {
		var err error
		sippOut, err = siptest.Run(ctx, t.TempDir(), siptest.BridgeCallerScenario, map[string]string{"WAV": tone}, s.Addr().String(), "-rtp_echo")
		sippDone <- err
	}()
	select {
	case <-up:
	case err := <-sippDone:
		t.Fatalf("sipp: %v\n%s", err, sippOut)
	case <-ctx.Done():
		t.Fatal("no call")
	}
	agent, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if err := agent.Dial(ctx, desk.URL, nil); err != nil {
		t.Fatal(err)
	}
	// The agent listens in 100 ms windows: first for the caller's tone,
	// then, once it speaks, for its own tone back from the caller.
	var heard600, heard1000 int
	speak := make(chan struct{})
	var buf []int16
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	recvErr := make(chan error, 1)
	go func() {
		recvErr <- agent.Receive(rctx, func(pcm []int16) bool {
			buf = append(buf, pcm...)
			for len(buf) >= 1600 {
				w := buf[:1600]
				if rms(w) > 500 {
					switch {
					case siptest.ToneShare(w, 600, 16000) > 0.8:
						heard600++
						if heard600 == 10 {
							close(speak)
						}
					case heard600 >= 10 && siptest.ToneShare(w, 1000, 16000) > 0.8:
						heard1000++
					}
				}
				buf = buf[:copy(buf, buf[1600:])]
			}
			return heard1000 < 10
		})
	}()
	select {
	case <-speak:
	case err := <-recvErr:
		t.Fatalf("the agent stopped listening before hearing the caller's tone (%d windows of 600 Hz): %v", heard600, err)
	case <-ctx.Done():
		t.Fatalf("the agent did not hear the caller's 600 Hz tone (%d windows)", heard600)
	}
	sendErr := make(chan error, 1)
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	go func() {
		sendErr <- agent.SendPCM(sctx, siptest.Tone(1000, 16000, 8000, 5*time.Second), 20*time.Millisecond)
	}()
	if err := <-recvErr; err != nil {
		t.Fatalf("the agent's tone did not come back from the caller (%d windows of 1000 Hz): %v", heard1000, err)
	}
	scancel()
	<-sendErr
	// Hang up the caller: the bridge ends, sipp answers the BYE.
	current.Load().Close()
	r := <-bridged
	if r.err != nil || r.st.Mode != webrtc.BridgeTranscode || r.st.AToB < 100 || r.st.BToA < 10 {
		t.Fatalf("bridge %+v %v", r.st, r.err)
	}
	if err := <-sippDone; err != nil {
		t.Fatalf("sipp: %v\n%s", err, sippOut)
	}
	t.Logf("agent heard the caller's tone in %d windows and its own through the caller in %d; bridge %+v", heard600, heard1000, r.st)
}

func testLoggerIf(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return testLogger(t)
	}
	return nil
}
