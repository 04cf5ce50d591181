package main

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media/webrtc/webrtctest"
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
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	if !strings.HasPrefix(loc, "/v1/whip/") || id == "" {
		t.Fatalf("Location %q", loc)
	}
	// The greeting: speech-level audio from the server.
	if err := cl.Receive(ctx, func(pcm []int16) bool { return rmsOf(pcm) < 500 }); err != nil {
		t.Fatalf("no greeting: %v", err)
	}
	return cl, id
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

// TestLiveCallGoClient is the whole live path without a browser: a Go
// WebRTC caller posts its offer to /v1/whip of the real service, hears the
// greeting, says "he was not an ill disposed young man" (a real
// recording, sent as Opus in real time), stays silent through the
// verification questions, and an agent signed in to the desk finds the
// brief with the transcript. The call's measures reach /metrics.
func TestLiveCallGoClient(t *testing.T) {
	checkLiveLeaks(t)
	pcm := librivoxPCM(t)
	ls := startLive(t)
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()

	cl, id := dialLive(t, ctx, ls)
	if err := cl.SendPCM(ctx, pcm, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sctx, stopSilence := context.WithCancel(ctx)
	silent := make(chan error, 1)
	go func() { silent <- keepSilent(sctx, cl) }()

	tok := ls.login(t, ctx, "li.na", "demo-token-li-na-0001")
	b := ls.awaitBrief(t, ctx, tok, id)
	stopSilence()
	if err := <-silent; err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("silence after the handoff: %v", err) // the server hangs up the leg after the handoff
	}
	if !strings.Contains(b.text(), "young man") || b.Route.Group == "" || strings.HasPrefix(b.Reason, "abandoned") {
		t.Fatalf("brief %+v", b)
	}
	t.Logf("brief: %q, reason %q, verification %s, group %s", b.text(), b.Reason, b.Verification.Status, b.Route.Group)
	m := ls.awaitMetric(t, ctx, `callbrief_live_calls_total{outcome="handed_over"} 1`)
	for _, want := range []string{"callbrief_live_speech_end_to_transcript_seconds_count 1", "callbrief_live_speech_end_to_intent_seconds_count 1",
		"callbrief_live_speech_end_to_handoff_seconds_count 1", "callbrief_live_jitter_seconds_count 1", "callbrief_live_frames_dropped_count 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, "callbrief_live_") && (strings.Contains(line, "_sum") || strings.Contains(line, "calls_total")) {
			t.Log(line)
		}
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
	captioned := make(chan error, 1)
	go func() { captioned <- ls.awaitCaption(ctx, id, "young man") }()
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
	tok := ls.login(t, ctx, "li.na", "demo-token-li-na-0001")
	b := ls.awaitBrief(t, ctx, tok, id)
	if !strings.HasPrefix(b.Reason, "abandoned") || !strings.Contains(b.text(), "young man") {
		t.Fatalf("brief of the abandoned call: %+v", b)
	}
	ls.awaitMetric(t, ctx, `callbrief_live_calls_total{outcome="abandoned"} 1`)
}
