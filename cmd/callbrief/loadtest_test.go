package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/pipeline"
)

// TestLoadtestCommand runs `callbrief loadtest` against a running node
// (pocketsphinx, to be quick) with a tiny ramp of real recordings: two
// uploads and one live call over WHIP, a node that admits one recording at
// a time with no queue (so the second caller meets 503 + Retry-After and,
// retrying, is taken), memory read from the node's process, a fault
// command at the start, and every call's brief found on the desk after. Every call must be answered, none lost or 5xx.
func TestLoadtestCommand(t *testing.T) {
	checkLiveLeaks(t)
	testenv.NeedLibrivox(t)
	ls := startLive(t, "--set", "asr.engine=sphinx", "--set", "admission.max=1", "--set", "admission.queue=0")
	dir := t.TempDir()
	out, mark := filepath.Join(dir, "load.json"), filepath.Join(dir, "fault-ran")
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()
	var stdout, stderr bytes.Buffer
	rc := run(ctx, []string{"loadtest", "--target", ls.base, "--key", testAPIKey,
		"--recordings", filepath.Join(testenv.RepoRoot(), "data", "evals", "served", "en.yaml"),
		"--mode", "mixed", "--live-every", "2", "--ramp", "2", "--step", "0", "--calls", "3", "--retry", "--deadline", "60s",
		"--pid", fmt.Sprint(os.Getpid()), "--sample", "200ms", "--warmup", "1",
		"--fault", "mark@0s", "--fault-cmd", "mark=touch " + mark, "--check-briefs", "30s", "--json", out}, &stdout, &stderr)
	if rc != 0 {
		t.Fatalf("loadtest exited %d: %s\n%s", rc, stderr.String(), stdout.String())
	}
	t.Logf("loadtest printed:\n%s", stdout.String())
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Total struct {
			Calls, OK, Lost int
			ServerErrors    int             `json:"server_errors"`
			Refusals        map[string]int  `json:"refusals"`
			WithRetryAfter  int             `json:"refusals_with_retry_after"`
			ToIntent        struct{ N int } `json:"speech_end_to_intent"`
			HandoffToBrief  struct{ N int } `json:"handoff_to_brief"`
			TakenAfterRetry int             `json:"taken_after_retry"`
		} `json:"total"`
		Live *struct {
			Calls float64 `json:"calls"`
		} `json:"live"`
		Memory *struct {
			End struct {
				TreeMB float64 `json:"tree_mb"`
			} `json:"end"`
		} `json:"memory"`
		Faults      []struct{ Name, Error string } `json:"faults"`
		Briefs      *struct{ Checked, Found int }  `json:"briefs"`
		Transcripts struct {
			Recordings int `json:"recordings"`
		} `json:"transcripts"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	tot := rep.Total
	if tot.Calls != 3 || tot.OK != 3 || tot.Lost != 0 || tot.ServerErrors != 0 {
		t.Fatalf("calls: %+v\n%s", tot, b)
	}
	// Two uploads report their times; the live call's come from the
	// node's histograms.
	if tot.ToIntent.N != 2 || tot.HandoffToBrief.N != 3 {
		t.Fatalf("times: %+v", tot)
	}
	if tot.WithRetryAfter != sum(tot.Refusals) {
		t.Fatalf("a refusal without Retry-After: %+v", tot)
	}
	for reason := range tot.Refusals {
		if reason != "503 overloaded" {
			t.Fatalf("refused for %q", reason)
		}
	}
	if sum(tot.Refusals) > 0 && tot.TakenAfterRetry == 0 {
		t.Fatalf("refused, retried, never taken: %+v", tot)
	}
	if rep.Live == nil || rep.Live.Calls != 1 {
		t.Fatalf("live latency from the node: %+v", rep.Live)
	}
	if rep.Memory == nil || rep.Memory.End.TreeMB <= 0 {
		t.Fatalf("memory: %+v", rep.Memory)
	}
	if len(rep.Faults) != 1 || rep.Faults[0].Error != "" {
		t.Fatalf("faults: %+v", rep.Faults)
	}
	if _, err := os.Stat(mark); err != nil {
		t.Fatalf("the fault's command did not run: %v", err)
	}
	if rep.Briefs == nil || rep.Briefs.Checked != 3 || rep.Briefs.Found != 3 {
		t.Fatalf("briefs after the run: %+v", rep.Briefs)
	}
	if rep.Transcripts.Recordings != 3 {
		t.Fatalf("transcripts of %d recordings, want 3", rep.Transcripts.Recordings)
	}
	if !strings.Contains(stdout.String(), "transcripts: 3 recordings") {
		t.Fatalf("summary:\n%s", stdout.String())
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestLoadtestUsage: bad plans are refused before any call, naming the flag.
func TestLoadtestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--ramp", "0"},
		{"--fault", "kill-redis@30s"},
		{"--fault-cmd", "nothing"},
		{"--pid", "x"},
		{"--recordings", "/nonexistent/calls.yaml"},
	} {
		var stdout, stderr bytes.Buffer
		rc := run(context.Background(), append([]string{"loadtest", "--target", "http://127.0.0.1:1"}, args...), &stdout, &stderr)
		if rc == 0 || stderr.Len() == 0 {
			t.Errorf("loadtest %v: exit %d, %q", args, rc, stderr.String())
		}
	}
}

type fakeTranscriber struct{ calls int }

func (f *fakeTranscriber) Transcribe(context.Context, []int16, asr.Mode) (call.Transcript, error) {
	f.calls++
	return call.Transcript{}, nil
}

// TestUploadPlaceFreedAfterOpening: an upload's admission place is for
// recognition; it is released when the opening's transcription ends, not
// when the call's verification questions have waited out.
func TestUploadPlaceFreedAfterOpening(t *testing.T) {
	released := 0
	tr := releasingTranscriber{Transcriber: &fakeTranscriber{}, release: func() { released++ }}
	if _, err := tr.Transcribe(context.Background(), nil, asr.ModeFree); err != nil || released != 1 {
		t.Fatalf("after the opening: released %d, %v", released, err)
	}
	if _, err := tr.Transcribe(context.Background(), nil, asr.ModeDigits); err != nil || released != 1 {
		t.Fatalf("an answer's transcription released again: %d", released)
	}
}

// TestUploadTiming: the times an upload's answer carries, from its state
// changes and the time before the call started.
func TestUploadTiming(t *testing.T) {
	res := pipeline.Result{Transitions: []pipeline.Transition{{State: pipeline.StateListening}, {State: pipeline.StateUnderstanding, At: time.Second},
		{State: pipeline.StateVerifying, At: 1100 * time.Millisecond}, {State: pipeline.StateHandingOff, At: 5 * time.Second}, {State: pipeline.StateDone, At: 5050 * time.Millisecond}}}
	tm := timingOf(res, 300*time.Millisecond, 250*time.Millisecond)
	if tm.QueuedMS != 250 || *tm.ToTranscriptMS != 1300 || *tm.ToIntentMS != 1400 || *tm.ToHandoffMS != 5300 || *tm.HandoffToBriefMS != 50 {
		t.Fatalf("timing %+v", tm)
	}
	// A call that failed before understanding has no later times.
	tm = timingOf(pipeline.Result{Transitions: []pipeline.Transition{{State: pipeline.StateListening}, {State: pipeline.StateFailed, At: time.Second}}}, 0, 0)
	if tm.ToTranscriptMS != nil || tm.ToIntentMS != nil || tm.HandoffToBriefMS != nil {
		t.Fatalf("failed call: %+v", tm)
	}
}
