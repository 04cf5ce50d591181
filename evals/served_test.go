package evals

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/pipeline"
)

// The test binary doubles as a fake `callbrief serve` when started with
// fakeServeEnv set, so that RunServed's process handling, uploads, API
// key and desk polling are tested without the real engines.
const fakeServeEnv = "CALLBRIEF_TEST_FAKE_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(fakeServeEnv) != "" {
		os.Exit(fakeServe())
	}
	os.Exit(m.Run())
}

// fakeServe answers like serve: prints its address, is ready, takes
// uploads (requiring the API key when one is configured), and keeps each
// call's brief for the desk. It exits 0 on SIGTERM.
func fakeServe() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if !slices.Equal(os.Args[1:4], []string{"serve", "--addr", "127.0.0.1:0"}) || !slices.Contains(os.Args, "log.level=warn") {
		fmt.Fprintln(os.Stderr, "unexpected arguments", os.Args)
		return 2
	}
	key := os.Getenv(fakeServeEnv + "_KEY")
	var mu sync.Mutex
	briefs := map[string]handoff.Brief{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"status": "ready", "asr": "fake", "vad": "fake"})
	})
	mux.HandleFunc("POST /desk/api/login", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"access_token": "desk-token"})
	})
	mux.HandleFunc("GET /desk/api/calls/{id}/brief", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b, ok := briefs[r.PathValue("id")]
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer desk-token" || !ok {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(b)
	})
	mux.HandleFunc("POST /v1/calls", func(w http.ResponseWriter, r *http.Request) {
		if key != "" && r.Header.Get("Authorization") != "Bearer "+key {
			http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
			return
		}
		a, err := media.ReadWAV(r.Body)
		if err != nil || a.Duration() < 100*time.Millisecond {
			http.Error(w, "bad audio", http.StatusUnprocessableEntity)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		id := fmt.Sprintf("call-%d", len(briefs)+1)
		// The caller's keyed answer decides the outcome, so the test can
		// see that answers reach the service.
		verified := r.URL.Query().Get("answers") == "951602#"
		b := handoff.Brief{CallID: id, CreatedAt: time.Now(),
			Transcript: call.Transcript{Segments: []call.Segment{{Text: "我手機屏幕碎了", Final: true}}},
			Intent:     call.IntentResult{Intent: "hardware_fault"}, Language: call.LanguageResult{Language: call.LangMandarin},
			Verification: call.VerificationOutcome{Status: call.StatusUnverified},
			Route:        handoff.Decision{Group: "phone_tech"},
			KB:           []handoff.KBSuggestion{{ArticleID: "zh-general-001"}, {ArticleID: "zh-screen-001"}}}
		if verified {
			b.Verification.Status = call.StatusVerified
		}
		briefs[id] = b
		res := pipeline.Result{CallID: id, Brief: b, Transitions: []pipeline.Transition{
			{State: pipeline.StateListening}, {State: pipeline.StateUnderstanding, At: 300 * time.Millisecond},
			{State: pipeline.StateVerifying, At: 310 * time.Millisecond}, {State: pipeline.StateHandingOff, At: 320 * time.Millisecond},
			{State: pipeline.StateDone, At: 400 * time.Millisecond}}}
		json.NewEncoder(w).Encode(res)
	})
	srv := &http.Server{Handler: mux}
	if key == "" {
		key = "dev-key-0123456789abcdefghij"
		fmt.Println("development API key for /v1/calls and /v1/transcribe (none configured; set api.key or api.keys): Authorization: Bearer " + key)
	}
	fmt.Printf("callbrief listening on http://%s (fake)\n", ln.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	go func() { <-stop; srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return 1
	}
	return 0
}

func servedScenario(t *testing.T) CallScenario {
	t.Helper()
	scs, err := ParseScenarios("t.yaml", []byte(`scenarios:
- id: zh-screen
  caller: '+8613812345678'
  turns:
  - {say: 我手机屏幕碎了, lang: cmn}
  - {dtmf: '951602#'}
  expect: {intent: hardware_fault, variety: cmn, verification: verified, group: phone_tech, kb_article: zh-screen-001}
`))
	if err != nil {
		t.Fatal(err)
	}
	return scs[0]
}

// fixedSynth speaks every turn as a second of a tone.
type fixedSynth struct{}

func (fixedSynth) Synthesize(ctx context.Context, text string, lang call.Language, v Voice) ([]int16, error) {
	pcm := make([]int16, 16000)
	for i := range pcm {
		pcm[i] = int16(3000 * ((i / 20) % 2))
	}
	return pcm, nil
}

func TestRunServedUploadsThroughTheBinary(t *testing.T) {
	t.Setenv(fakeServeEnv, "1")
	t.Setenv(fakeServeEnv+"_KEY", "k-123")
	sc := servedScenario(t)
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := ServedConfig{Binary: os.Args[0], Sets: []string{"log.level=warn"}, APIKey: "k-123", Modes: []string{ModeUpload},
		Synth: fixedSynth{}, ServerLog: &log}
	rep, err := RunServed(ctx, cfg, []CallScenario{sc})
	if err != nil {
		t.Fatal(err)
	}
	if rep.StopError != "" {
		t.Fatalf("stop: %s", rep.StopError)
	}
	if len(rep.Outcomes) != 1 {
		t.Fatalf("outcomes %+v", rep.Outcomes)
	}
	o := rep.Outcomes[0]
	if o.Error != "" || len(o.Wrong) != 0 {
		t.Fatalf("call: error %q, wrong %v", o.Error, o.Wrong)
	}
	// Traditional 機 folded to simplified 机: no transcript error.
	if o.Metric != "CER" || o.ErrorRate != 0 || !o.Synthetic || o.Verification != "verified" {
		t.Fatalf("outcome %+v", o)
	}
	if *o.Times.ToTranscript != 300 || *o.Times.ToIntent != 310 || *o.Times.ToHandoff != 320 || *o.Times.HandoffToBrief < 0 {
		t.Fatalf("times %+v", o.Times)
	}
	if !slices.Contains(rep.Overrides, "log.level=warn") || !rep.APIKey || rep.Server["asr"] != "fake" {
		t.Fatalf("report header %+v %v", rep.Overrides, rep.Server)
	}
	if len(rep.Rows) != 1 || rep.Rows[0].Language != "zh" || rep.Rows[0].KBTop5 != 1 || rep.Rows[0].IntentAccuracy != 1 {
		t.Fatalf("rows %+v", rep.Rows)
	}
	js, _ := json.Marshal(rep)
	if strings.Contains(string(js), "k-123") || strings.Contains(rep.Markdown(), "k-123") {
		t.Fatal("the API key is in the report")
	}

	// No key given: the development key serve printed is used, and the
	// report says so without it.
	t.Setenv(fakeServeEnv+"_KEY", "")
	cfg.APIKey = ""
	rep, err = RunServed(ctx, cfg, []CallScenario{sc})
	if err != nil {
		t.Fatal(err)
	}
	if o := rep.Outcomes[0]; o.Error != "" || !rep.DevKey || rep.APIKey || strings.Contains(rep.Markdown(), "dev-key-0123") {
		t.Fatalf("development key: %+v dev %v", o, rep.DevKey)
	}
	t.Setenv(fakeServeEnv+"_KEY", "k-123")

	// A wrong key: the service refuses the call, which is reported as a
	// failed call, scored wrong on every count.
	cfg.APIKey = "wrong"
	rep, err = RunServed(ctx, cfg, []CallScenario{sc})
	if err != nil {
		t.Fatal(err)
	}
	o = rep.Outcomes[0]
	if !strings.Contains(o.Error, "401") || rep.Rows[0].Failed != 1 || rep.Rows[0].IntentAccuracy != 0 || o.ErrorRate != 1 {
		t.Fatalf("refused call: %+v row %+v", o, rep.Rows[0])
	}
}

func TestRunServedStartErrors(t *testing.T) {
	ctx := context.Background()
	cfg := ServedConfig{Binary: filepath.Join(t.TempDir(), "missing"), Synth: fixedSynth{}}
	if _, err := RunServed(ctx, cfg, []CallScenario{servedScenario(t)}); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("missing binary: %v", err)
	}
	script := filepath.Join(t.TempDir(), "serve")
	os.WriteFile(script, []byte("#!/bin/sh\necho 'asr: model missing' >&2\nexit 3\n"), 0o755)
	cfg.Binary = script
	if _, err := RunServed(ctx, cfg, []CallScenario{servedScenario(t)}); err == nil || !strings.Contains(err.Error(), "model missing") {
		t.Fatalf("exiting binary: %v", err)
	}
	cfg.Modes = []string{"text"}
	if _, err := RunServed(ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), "not upload or live") {
		t.Fatalf("bad mode: %v", err)
	}
}

func TestUploadAnswers(t *testing.T) {
	sc := servedScenario(t)
	sc.Turns = append(sc.Turns, ScenarioTurn{DTMF: "1#"}, ScenarioTurn{Silence: true}, ScenarioTurn{DTMF: "2#"})
	got, err := uploadAnswers(sc)
	if err != nil || !slices.Equal(got, []string{"951602#", "1#"}) {
		t.Fatalf("%v %v", got, err)
	}
	sc.Turns = append(sc.Turns[:1], ScenarioTurn{Answer: "genuine"})
	if _, err := uploadAnswers(sc); err == nil || !strings.Contains(err.Error(), "keyed answers only") {
		t.Fatalf("genuine answer: %v", err)
	}
}

func TestWAVBytesRoundTrip(t *testing.T) {
	pcm := []int16{0, 1, -1, 32767, -32768, 1234}
	a, err := media.ReadWAV(bytes.NewReader(wavBytes(pcm)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.PCM16(16000)
	if err != nil || !slices.Equal(got, pcm) {
		t.Fatalf("%v %v", got, err)
	}
}

func TestScoreServedLiveAndGap(t *testing.T) {
	sc := servedScenario(t)
	o := newOutcome(sc, ModeLive)
	o.fill(handoff.Brief{Transcript: call.Transcript{Segments: []call.Segment{{Text: "我手机屏幕", Final: true}}},
		Intent: call.IntentResult{Intent: "complaint"}, Language: call.LanguageResult{Language: call.LangEnglish},
		Verification: call.VerificationOutcome{Status: call.StatusUnverified}, Route: handoff.Decision{Group: "complaints"}})
	scoreServed(&o, sc)
	if _, scored := o.checks["verification"]; scored {
		t.Fatal("live calls key nothing: verification must not be scored")
	}
	if o.checks["intent"] || o.checks["language"] || o.checks["route"] || o.checks["kb_top5"] || o.Edits.Deletions != 2 {
		t.Fatalf("outcome %+v", o)
	}
	rep := &ServedReport{Modes: []string{ModeLive}, Outcomes: []ServedOutcome{o}}
	rep.summarize()
	text := &ScenarioReport{Outcomes: []ScenarioOutcome{{ID: sc.ID, Mode: ModeText,
		checks: map[string]bool{"intent": true, "variety": true, "routing": true, "verification": true}}}}
	rep.AddTextMode([]CallScenario{sc}, text)
	gaps := rep.Gaps()
	if len(gaps) != 1 || !strings.Contains(gaps[0], "intent 1.00 → 0.00") || !strings.Contains(gaps[0], "served live") {
		t.Fatalf("gaps %q", gaps)
	}
	ev := ServedEvaluation("served", rep)
	for _, m := range ev.Metrics {
		if m.Gate && m.Name != "live.failed_calls" {
			t.Errorf("live metric %s is gated", m.Name)
		}
	}
}

func TestScenarioAudioPathAndTags(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(`scenarios:
- id: a
  audio: clips/a.wav
  turns: [{say: hello, lang: en}]
  expect: {intent: out_of_scope}
  tags: [ci]
- id: b
  turns: [{say: hello, lang: en}]
  expect: {intent: out_of_scope}
`), 0o644)
	scs, err := LoadScenarios(dir)
	if err != nil {
		t.Fatal(err)
	}
	if scs[0].AudioPath() != filepath.Join(dir, "clips/a.wav") || scs[1].AudioPath() != "" {
		t.Fatalf("audio paths %q %q", scs[0].AudioPath(), scs[1].AudioPath())
	}
	if got := WithTags(scs, []string{"ci"}); len(got) != 1 || got[0].ID != "a" {
		t.Fatalf("tags: %+v", got)
	}
	if got := WithTags(scs, nil); len(got) != 2 {
		t.Fatalf("no tags: %d", len(got))
	}
}

func TestSuiteServedModes(t *testing.T) {
	ok := "evaluations:\n- {name: s, kind: served, modes: [upload, live], set: [a.b=1], tags: [ci]}\n"
	if _, err := ParseSuite("ok", []byte(ok)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"evaluations:\n- {name: s, kind: served, modes: [text]}\n",
		"evaluations:\n- {name: s, kind: scenarios, modes: [upload]}\n",
	} {
		if _, err := ParseSuite("bad", []byte(bad)); err == nil || !strings.Contains(err.Error(), "mode") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
