package main

import (
	"context"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media/webrtc/webrtctest"
	"github.com/callbrief/callbrief/store/redistest"
)

func rmsOf(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}

// dialLive places a call on the real service from a Go client and waits
// until the greeting is heard. It returns the client and the call's id.
func dialLive(t *testing.T, ctx context.Context, ls *liveServer) (*webrtctest.Client, string) {
	t.Helper()
	cl, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if err := cl.Dial(ctx, ls.base+"/v1/whip", nil); err != nil {
		t.Fatalf("%v\n%s", err, ls.stderr.String())
	}
	loc := cl.Location()
	id := cl.CallID()
	if !strings.HasPrefix(loc, "/v1/whip/") || id == "" || cl.Resource() == id {
		t.Fatalf("Location %q: want /v1/whip/ID.SECRET", loc)
	}
	// The greeting: speech-level audio from the server.
	if err := cl.Receive(ctx, func(pcm []int16) bool { return rmsOf(pcm) < 500 }); err != nil {
		t.Fatalf("no greeting: %v", err)
	}
	return cl, id
}

// callAndSpeak places a call on ls, says pcm in real time, then stays
// silent until stop is called (or the test ends). stop waits for the
// silence to end and may be called more than once.
func callAndSpeak(t *testing.T, ctx context.Context, ls *liveServer, pcm []int16) (*webrtctest.Client, string, func()) {
	t.Helper()
	cl, id := dialLive(t, ctx, ls)
	if err := cl.SendPCM(ctx, pcm, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	silent := make(chan struct{})
	go func() { _ = keepSilent(sctx, cl); close(silent) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-silent }) }
	t.Cleanup(stop)
	return cl, id, stop
}

// exchangeTones has the caller send a 600 Hz tone and the agent 1 kHz,
// and fails unless each hears the other's through the server.
func exchangeTones(t *testing.T, ctx context.Context, ls *liveServer, cl, ag *webrtctest.Client) {
	t.Helper()
	heard := make(chan error, 2)
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { heard <- hearsTone(hctx, ag, 600) }()
	go func() { heard <- hearsTone(hctx, cl, 1000) }()
	for _, s := range []struct {
		c  *webrtctest.Client
		hz float64
	}{{cl, 600}, {ag, 1000}} {
		go func() {
			for hctx.Err() == nil {
				_ = s.c.SendPCM(hctx, tone(time.Second, s.hz), 20*time.Millisecond)
			}
		}()
	}
	for range 2 {
		if err := <-heard; err != nil {
			t.Fatalf("bridge: %v\n%s", err, ls.stderr.String())
		}
	}
}

// keepSilent sends silence in real time until ctx is done: a caller who
// says nothing more (the verification questions time out).
func keepSilent(ctx context.Context, cl *webrtctest.Client) error {
	for ctx.Err() == nil {
		if err := cl.SendSilence(ctx, time.Second, 20*time.Millisecond); err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

// dominantHz estimates a tone's frequency (16 kHz) from zero crossings.
func dominantHz(pcm []int16) float64 {
	cross := 0
	for i := 1; i < len(pcm); i++ {
		if (pcm[i-1] < 0) != (pcm[i] < 0) {
			cross++
		}
	}
	return float64(cross) / 2 / (float64(len(pcm)) / 16000)
}

func tone(d time.Duration, hz float64) []int16 {
	s := make([]int16, int(d.Seconds()*16000))
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/16000))
	}
	return s
}

// hearsTone reads cl's incoming audio until a 100 ms stretch carries a
// loud tone near hz.
func hearsTone(ctx context.Context, cl *webrtctest.Client, hz float64) error {
	var win []int16
	return cl.Receive(ctx, func(pcm []int16) bool {
		win = append(win, pcm...)
		if len(win) < 1600 {
			return true
		}
		got := dominantHz(win)
		heard := rmsOf(win) > 1500 && math.Abs(got-hz) < hz/20
		win = win[:0]
		return !heard
	})
}

// TestLiveCallGoClient is the whole live path without a browser: a Go
// WebRTC caller posts its offer to /v1/whip of the real service, hears the
// greeting, says "he was not an ill disposed young man" (a real
// recording, sent as Opus in real time), stays silent through the
// verification questions, and the brief with the transcript reaches the
// desk. The agent the call is offered to accepts it and joins its audio
// from the desk (a second Go peer posting to the desk's media endpoint):
// caller and agent hear each other's tones through the server, forwarded
// without re-encoding. The agent hangs up from the desk, which ends the
// caller's call. The call's measures reach /metrics.
func TestLiveCallGoClient(t *testing.T) {
	checkLiveLeaks(t)
	pcm := librivoxPCM(t)
	ls := startLive(t)
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()

	// The pages' ICE configuration: none here (host candidates only).
	var ice []map[string]any
	if code, err := ls.do(ctx, http.MethodGet, "/v1/ice-servers", "", nil, &ice); err != nil || code != http.StatusOK || ice == nil || len(ice) != 0 {
		t.Fatalf("ice servers: %d %v %v", code, ice, err)
	}
	cl, id, stopSilence := callAndSpeak(t, ctx, ls, pcm)
	b := ls.awaitBrief(t, ctx, id)
	if !strings.Contains(b.text(), "young man") || b.Route.Group == "" || strings.HasPrefix(b.Reason, "abandoned") {
		t.Fatalf("brief %+v", b)
	}
	t.Logf("brief: %q, reason %q, verification %s, group %s", b.text(), b.Reason, b.Verification.Status, b.Route.Group)

	// The caller holds; the agent it is offered to accepts and joins.
	agent, access := ls.staffDesk(t, ctx, id)
	// Only the agent who accepted may join: not before, nor anyone else.
	if code, _ := ls.do(ctx, http.MethodGet, "/desk/api/calls/"+id+"/media", access, nil, nil); code != http.StatusConflict {
		t.Fatalf("media before accepting: %d, want 409", code)
	}
	if code, err := ls.do(ctx, http.MethodPost, "/desk/api/calls/"+id+"/accept", access, nil, nil); err != nil || code != http.StatusOK {
		t.Fatalf("accept as %s: %d %v", agent, code, err)
	}
	ls.awaitMedia(t, ctx, access, id, "holding")
	if code, _ := ls.do(ctx, http.MethodPost, "/desk/api/calls/"+id+"/media", "", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("media join without signing in: %d, want 401", code)
	}
	other := "li.na"
	if agent == other {
		other = "sam.taylor"
	}
	if code, _ := ls.do(ctx, http.MethodDelete, "/desk/api/calls/"+id+"/media", ls.login(t, ctx, other, demoAgents[other]), nil, nil); code != http.StatusForbidden {
		t.Fatalf("hang-up by %s who does not hold the call: %d, want 403", other, code)
	}
	ag, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	joining := time.Now()
	if err := ag.Dial(ctx, ls.base+"/desk/api/calls/"+id+"/media", http.Header{"Authorization": {"Bearer " + access}}); err != nil {
		t.Fatalf("agent joining the audio: %v\n%s", err, ls.stderr.String())
	}
	connected := time.Since(joining)
	st := ls.awaitMedia(t, ctx, access, id, "bridged")
	t.Logf("agent's offer to media connected: %v; to bridged (as the desk polls it): %v", connected.Round(time.Millisecond), time.Since(joining).Round(time.Millisecond))
	if st["mode"] != "forward" || st["agent"] != agent {
		t.Fatalf("media status %v", st)
	}
	stopSilence()
	exchangeTones(t, ctx, ls, cl, ag)

	// The agent hangs up: the caller's call ends with it.
	if code, err := ls.do(ctx, http.MethodDelete, "/desk/api/calls/"+id+"/media", access, nil, nil); err != nil || code != http.StatusOK {
		t.Fatalf("hang up from the desk: %d %v", code, err)
	}
	m := ls.awaitMetric(t, ctx, `callbrief_live_after_handoff_total{bridged="true",ended_by="agent",mode="forward"} 1`)
	for _, want := range []string{`callbrief_live_calls_total{outcome="handed_over"} 1`, "callbrief_live_speech_end_to_transcript_seconds_count 1",
		"callbrief_live_speech_end_to_intent_seconds_count 1", "callbrief_live_speech_end_to_handoff_seconds_count 1",
		"callbrief_live_jitter_seconds_count 1", "callbrief_live_frames_dropped_count 1", "callbrief_live_hold_seconds_count 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, "callbrief_live_") && (strings.Contains(line, "_sum") || strings.Contains(line, "_total")) {
			t.Log(line)
		}
	}
	ls.awaitMedia(t, ctx, access, id, "none")
}

// TestLiveCallHoldTimeout: no agent joins; after webrtc.hold_timeout the
// caller is told they will be called back and the call ends.
func TestLiveCallHoldTimeout(t *testing.T) {
	checkLiveLeaks(t)
	pcm := librivoxPCM(t)
	ls := startLive(t, "--set", "webrtc.hold_timeout=1s")
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()
	_, id, _ := callAndSpeak(t, ctx, ls, pcm)
	ls.awaitMetric(t, ctx, `callbrief_live_after_handoff_total{bridged="false",ended_by="timeout",mode=""} 1`)
	// The desk sees the caller is gone, to be called back.
	b := ls.awaitBrief(t, ctx, id)
	if !strings.HasPrefix(b.Reason, "abandoned: no agent joined within 1s") {
		t.Fatalf("brief reason %q", b.Reason)
	}
}

// TestLiveCallAbandoned: the caller speaks, sees the caption of what they
// said, and hangs up during verification. The desk still gets the brief,
// with the transcript, marked abandoned.
func TestLiveCallAbandoned(t *testing.T) {
	checkLiveLeaks(t)
	pcm := librivoxPCM(t)
	ls := startLive(t, "--set", "webrtc.answer_timeout=30s")
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()

	cl, id := dialLive(t, ctx, ls)
	// The call id, which agents and logs see, opens neither the caller's
	// captions nor their hang-up: only the page's resource (ID.SECRET) does.
	for _, probe := range []struct{ method, path string }{{http.MethodGet, "/call/captions/" + id}, {http.MethodDelete, "/v1/whip/" + id}} {
		req, _ := http.NewRequestWithContext(ctx, probe.method, ls.base+probe.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s %s with the bare call id: %d, want 404", probe.method, probe.path, resp.StatusCode)
		}
	}
	captioned := make(chan error, 1)
	go func() { captioned <- ls.awaitCaption(ctx, cl.Resource(), "young man") }()
	if err := cl.SendPCM(ctx, pcm, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sctx, stopSilence := context.WithCancel(ctx)
	silent := make(chan error, 1)
	go func() { silent <- keepSilent(sctx, cl) }()
	if err := <-captioned; err != nil {
		t.Fatal(err)
	}
	stopSilence()
	<-silent
	if err := cl.Hangup(ctx, ls.base); err != nil {
		t.Fatal(err)
	}
	b := ls.awaitBrief(t, ctx, id)
	if !strings.HasPrefix(b.Reason, "abandoned") || !strings.Contains(b.text(), "young man") {
		t.Fatalf("brief of the abandoned call: %+v", b)
	}
	ls.awaitMetric(t, ctx, `callbrief_live_calls_total{outcome="abandoned"} 1`)
}

// TestLiveCallTwoNodes: two nodes share one Redis. The call arrives on
// node A; the agents' desks are connected to node B. The agent accepts on
// B and joins the audio through B, which passes the request to A (the
// media then flows between the agent and A); they hear each other, and
// hanging up through B ends the call on A.
func TestLiveCallTwoNodes(t *testing.T) {
	checkLiveLeaks(t)
	pcm := librivoxPCM(t)
	rd := redistest.Start(t)
	addrA, addrB := freeAddr(t), freeAddr(t)
	// No reconnect grace: with a shared store a node shutting down waits
	// for it (the test's desks close first).
	shared := []string{"--set", "store.redis_addr=" + rd.Addr, "--set", "store.secret=node-shared-store-secret",
		"--set", "desk.secret=node-shared-desk-secret", "--set", "desk.reconnect_grace=0s", "--set", "api.key=" + testAPIKey}
	a := startLiveAt(t, addrA, append(shared, "--set", "http.advertise_url=http://"+addrA)...)
	b := startLiveAt(t, addrB, append(shared, "--set", "http.advertise_url=http://"+addrB)...)
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()

	cl, id, stopSilence := callAndSpeak(t, ctx, a, pcm)
	b.awaitBrief(t, ctx, id)

	agent, access := b.staffDesk(t, ctx, id)
	if code, err := b.do(ctx, http.MethodPost, "/desk/api/calls/"+id+"/accept", access, nil, nil); err != nil || code != http.StatusOK {
		t.Fatalf("accept on node B: %d %v", code, err)
	}
	b.awaitMedia(t, ctx, access, id, "holding") // node A's state, read on B
	ag, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	if err := ag.Dial(ctx, b.base+"/desk/api/calls/"+id+"/media", http.Header{"Authorization": {"Bearer " + access}}); err != nil {
		t.Fatalf("agent joining through node B: %v\nA: %s\nB: %s", err, a.stderr.String(), b.stderr.String())
	}
	t.Logf("agent joined at %s", time.Now().UTC().Format(time.RFC3339Nano))
	if st := b.awaitMedia(t, ctx, access, id, "bridged"); st["agent"] != agent {
		t.Fatalf("status on B: %v", st)
	}
	stopSilence()
	exchangeTones(t, ctx, a, cl, ag)
	if code, err := b.do(ctx, http.MethodDelete, "/desk/api/calls/"+id+"/media", access, nil, nil); err != nil || code != http.StatusOK {
		t.Fatalf("hang up through node B: %d %v", code, err)
	}
	a.awaitMetric(t, ctx, `callbrief_live_after_handoff_total{bridged="true",ended_by="agent",mode="forward"} 1`)
	b.awaitMedia(t, ctx, access, id, "none")
}
