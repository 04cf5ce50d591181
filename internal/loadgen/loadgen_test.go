package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbrief/callbrief/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m, "callbrief/internal/loadgen") }

func TestParseRamp(t *testing.T) {
	for in, want := range map[string][]int{
		"1":              {1},
		"1,2,4,8":        {1, 2, 4, 8},
		" 1, 2 ":         {1, 2},
		"1-4":            {1, 2, 3, 4},
		"10-50/10":       {10, 20, 30, 40, 50},
		"10-45/10":       {10, 20, 30, 40, 45},
		"1,2,4-6,200":    {1, 2, 4, 5, 6, 200},
		"1-3,16-64/16,5": {1, 2, 3, 16, 32, 48, 64, 5},
	} {
		got, err := ParseRamp(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseRamp(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "a", "1,,2", "4-2", "1-3/0", "1-3/x", "20000", "1-2-3"} {
		if _, err := ParseRamp(bad); !errors.Is(err, ErrPlan) {
			t.Errorf("ParseRamp(%q) err = %v, want ErrPlan", bad, err)
		}
	}
}

func TestPlan(t *testing.T) {
	got := Plan([]int{1, 4}, 30*time.Second)
	if len(got) != 2 || got[0] != (Step{1, 30 * time.Second}) || got[1] != (Step{4, 30 * time.Second}) {
		t.Fatalf("Plan = %v", got)
	}
}

func TestParseFault(t *testing.T) {
	cmds := map[string]string{"kill-redis": "redis-cli shutdown nosave"}
	f, err := ParseFault("kill-redis@30s", cmds)
	if err != nil || f.Name != "kill-redis" || f.At != 30*time.Second || f.Command != "redis-cli shutdown nosave" {
		t.Fatalf("ParseFault = %+v, %v", f, err)
	}
	if f, err := ParseFault("stop-node@1m", nil); err != nil || f.At != time.Minute || f.Command != "" {
		t.Fatalf("built-in fault = %+v, %v", f, err)
	}
	for _, bad := range []string{"kill-redis", "@30s", "kill-redis@soon", "kill-redis@-1s", "unknown@1s"} {
		if _, err := ParseFault(bad, cmds); !errors.Is(err, ErrPlan) {
			t.Errorf("ParseFault(%q) err = %v, want ErrPlan", bad, err)
		}
	}
	if n, c, err := ParseFaultCmd("a=sh -c 'x=1'"); err != nil || n != "a" || c != "sh -c 'x=1'" {
		t.Fatalf("ParseFaultCmd = %q %q %v", n, c, err)
	}
	for _, bad := range []string{"a", "=x", "a="} {
		if _, _, err := ParseFaultCmd(bad); err == nil {
			t.Errorf("ParseFaultCmd(%q) accepted", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	if d := Summarize(nil); d.N != 0 {
		t.Fatalf("empty: %+v", d)
	}
	var vs []float64
	for i := 100; i >= 1; i-- {
		vs = append(vs, float64(i))
	}
	d := Summarize(vs)
	if d.N != 100 || d.P50 != 50 || d.P95 != 95 || d.P99 != 99 || d.Max != 100 || d.Mean != 50.5 {
		t.Fatalf("1..100: %+v", d)
	}
	if vs[0] != 100 {
		t.Fatal("Summarize sorted its argument")
	}
	// Nearest rank: of 3 values p95 and p99 are the largest, p50 the middle.
	if d := Summarize([]float64{3, 1, 2}); d.P50 != 2 || d.P95 != 3 || d.P99 != 3 {
		t.Fatalf("3 values: %+v", d)
	}
}

const metricsText = `# HELP callbrief_live_speech_end_to_intent_seconds x
# TYPE callbrief_live_speech_end_to_intent_seconds histogram
callbrief_live_speech_end_to_intent_seconds_bucket{le="0.5"} 2
callbrief_live_speech_end_to_intent_seconds_bucket{le="1"} 6
callbrief_live_speech_end_to_intent_seconds_bucket{le="2"} 10
callbrief_live_speech_end_to_intent_seconds_bucket{le="+Inf"} 10
callbrief_live_speech_end_to_intent_seconds_sum 9
callbrief_live_speech_end_to_intent_seconds_count 10
callbrief_live_speech_end_to_transcript_seconds_bucket{le="0.5"} 1
process_resident_memory_bytes 2.097152e+08
`

func TestHistogram(t *testing.T) {
	h, ok := ParseHistogram(metricsText, histIntent)
	if !ok || len(h.Bounds) != 4 || !math.IsInf(h.Bounds[3], 1) || h.Count() != 10 {
		t.Fatalf("parsed %+v %v", h, ok)
	}
	// The 5th of 10 is in (0.5, 1]: 3 of that bucket's 4, so 0.5 + 0.5*3/4.
	if q, _ := h.Quantile(0.5); q != 875 {
		t.Fatalf("p50 = %v, want 875", q)
	}
	if q, _ := h.Quantile(1); q != 2000 {
		t.Fatalf("p100 = %v, want 2000", q)
	}
	before := Histogram{Bounds: h.Bounds, Counts: []float64{2, 2, 2, 2}}
	d := h.Sub(before)
	if d.Count() != 8 || d.Counts[0] != 0 {
		t.Fatalf("Sub = %+v", d)
	}
	// A node that restarted: counts went down, the newer reading stands.
	if got := before.Sub(h); got.Count() != 2 {
		t.Fatalf("Sub after a restart = %+v", got)
	}
	if s := (Histogram{}).Add(d).Add(d); s.Count() != 16 {
		t.Fatalf("Add = %+v", s)
	}
	// Observations past the last bound report that bound (a floor).
	inf := Histogram{Bounds: []float64{1, math.Inf(1)}, Counts: []float64{0, 3}}
	if q, _ := inf.Quantile(0.95); q != 1000 {
		t.Fatalf("+Inf quantile = %v", q)
	}
	if _, ok := (Histogram{}).Quantile(0.5); ok {
		t.Fatal("quantile of nothing")
	}
	if _, ok := ParseHistogram(metricsText, "no_such_seconds"); ok {
		t.Fatal("found a histogram that is not there")
	}
}

func TestProcParsing(t *testing.T) {
	v, err := parseVmRSS([]byte("Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t  204800 kB\n"))
	if err != nil || v != 200 {
		t.Fatalf("VmRSS = %v, %v", v, err)
	}
	if _, err := parseVmRSS([]byte("Name:\tkthreadd\n")); err == nil {
		t.Fatal("no VmRSS line accepted")
	}
	if _, err := parseVmRSS([]byte("VmRSS: lots\n")); err == nil {
		t.Fatal("bad VmRSS accepted")
	}
	if p, ok := parentOf([]byte("123 (a) b) (c) S 77 123 123 0")); !ok || p != 77 {
		t.Fatalf("parent = %d %v", p, ok)
	}
	if _, ok := parentOf([]byte("garbage")); ok {
		t.Fatal("garbage parsed")
	}
}

// TestProcTree reads a fake /proc: the node, its speech server and that
// server's child count; an unrelated process does not.
func TestProcTree(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []struct{ pid, ppid, kb int }{{10, 1, 1024}, {11, 10, 2048}, {12, 11, 1024}, {13, 1, 99999}} {
		d := filepath.Join(dir, fmt.Sprint(p.pid))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "stat"), fmt.Appendf(nil, "%d (x y) S %d 0", p.pid, p.ppid), 0o644)
		os.WriteFile(filepath.Join(d, "status"), fmt.Appendf(nil, "VmRSS:\t%d kB\n", p.kb), 0o644)
	}
	old := procRoot
	procRoot = dir
	defer func() { procRoot = old }()
	own, tree, err := sampleProc(10)
	if err != nil || own != 1 || tree != 4 {
		t.Fatalf("sampleProc = %v %v %v, want 1 and 4 MB", own, tree, err)
	}
	if _, _, err := sampleProc(99); err == nil {
		t.Fatal("a missing process sampled")
	}
}

func TestSummarizeMemory(t *testing.T) {
	ss := []RSSSample{{Calls: 0, TreeMB: 100}, {Calls: 50, TreeMB: 300}, {Calls: 120, TreeMB: 400}, {Calls: 300, TreeMB: 500}, {Calls: 400, TreeMB: 440}}
	m := summarizeMemory(ss, 100)
	if m.AtWarmup.Calls != 120 || m.End.Calls != 400 || m.PeakTreeMB != 500 || m.GrowthPct != 10 {
		t.Fatalf("memory = %+v", m)
	}
	if summarizeMemory(nil, 100) != nil {
		t.Fatal("memory of nothing")
	}
}

func ptr(v float64) *float64 { return &v }

func TestSummarizeStepAndBest(t *testing.T) {
	os := []Outcome{
		{Class: ClassOK, WallMS: 900, ToIntentMS: ptr(800), HandoffToBriefMS: ptr(20)},
		{Class: ClassOK, WallMS: 1200, ToIntentMS: ptr(1000), Refusals: []Refusal{{Reason: "503 overloaded", RetryAfter: "2"}}},
		{Class: ClassRefused, WallMS: 5, Refusals: []Refusal{{Reason: "503 overloaded", RetryAfter: "1"}, {Reason: "429"}}},
		{Class: ClassServerError, WallMS: 70000},
		{Class: ClassLost, WallMS: 10},
	}
	s := summarizeStep(4, 2*time.Second, os, time.Minute)
	if s.Calls != 5 || s.OK != 2 || s.Throughput != 1 || s.ServerErrors != 1 || s.Lost != 1 || s.OverDeadline != 1 ||
		s.Refusals["503 overloaded"] != 2 || s.Refusals["429"] != 1 || s.WithRetryAfter != 2 || s.NoRetryAfter != 1 ||
		s.TakenAfterRetry != 1 || s.ToIntent.N != 2 || s.ToIntent.P95 != 1000 || s.HandoffToBrief.N != 1 || s.Classes[ClassRefused] != 1 {
		t.Fatalf("step = %+v", s)
	}
	clean := func(c int, p95 float64) StepReport {
		return StepReport{Concurrency: c, Calls: 10, OK: 10, Refusals: map[string]int{}, ToIntent: Dist{N: 10, P95: p95}}
	}
	refused := clean(8, 900)
	refused.OK, refused.Refusals["503 overloaded"] = 6, 4
	erred := clean(6, 900)
	erred.ServerErrors = 1
	b := best([]StepReport{clean(1, 500), clean(2, 1400), clean(4, 1600), refused, erred}, 1500*time.Millisecond)
	if b.Concurrency != 2 || b.P95ms != 1400 {
		t.Fatalf("best = %+v", b)
	}
	if b := best([]StepReport{clean(1, 2000)}, 1500*time.Millisecond); b.Concurrency != 0 {
		t.Fatalf("best over the SLO = %+v", b)
	}
}

func TestStability(t *testing.T) {
	os := []Outcome{
		{Recording: "a", Class: ClassOK, Transcript: "hello", Engine: "openai"},
		{Recording: "a", Class: ClassOK, Transcript: "hello "},
		{Recording: "b", Class: ClassOK, Transcript: "x"},
		{Recording: "b", Class: ClassOK, Transcript: "y", Engine: "sphinx"},
		{Recording: "c", Class: ClassRefused},
		{Recording: "a", Class: ClassOK, Transcript: ""}, // unheard: not a variant
	}
	s := stability(os)
	if s.Recordings != 2 || s.Stable || len(s.Unstable) != 1 || s.Unstable[0].Recording != "b" || s.Unstable[0].Distinct != 2 ||
		s.All[0].Distinct != 1 || s.All[0].Variants != nil || s.All[0].Unheard != 1 || s.Unheard != 1 || s.All[0].Calls != 3 {
		t.Fatalf("stability = %+v", s)
	}
	if !stability(os[:2]).Stable {
		t.Fatal("one transcript is not stable")
	}
}

func TestRefusal(t *testing.T) {
	rf, wait := refusal(503, "overloaded", "3")
	if rf.Reason != "503 overloaded" || rf.RetryAfter != "3" || wait != 3*time.Second {
		t.Fatalf("refusal = %+v %v", rf, wait)
	}
	if rf, wait := refusal(429, "", ""); rf.Reason != "429" || wait != time.Second {
		t.Fatalf("no header: %+v %v", rf, wait)
	}
	if _, wait := refusal(503, "", time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat)); wait != 0 {
		t.Fatalf("a date passed: %v", wait)
	}
}

func TestReportJSON(t *testing.T) {
	r := &Report{Targets: []string{"http://127.0.0.1:1"}, Mode: ModeUpload, Ramp: []int{1, 2}, SLOms: 1500,
		Steps: []StepReport{summarizeStep(1, time.Second, []Outcome{{Class: ClassOK, ToIntentMS: ptr(5), Transcript: "secret words"}}, time.Minute)},
		Calls: []Outcome{{Class: ClassOK, Transcript: "secret words"}}}
	r.Best = best(r.Steps, 1500*time.Millisecond)
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "secret words") {
		t.Fatal("a caller's words are in the report")
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	steps := back["steps"].([]any)
	st := steps[0].(map[string]any)
	if st["ok"].(float64) != 1 || st["speech_end_to_intent"].(map[string]any)["p95_ms"].(float64) != 5 {
		t.Fatalf("step in JSON: %v", st)
	}
	var sb strings.Builder
	r.Print(&sb)
	if !strings.Contains(sb.String(), "conc") || !strings.Contains(sb.String(), "best: 1 concurrent") {
		t.Fatalf("printed:\n%s", sb.String())
	}
}

// fakeNode answers POST /v1/calls as a node admitting max calls at once:
// the rest get 503 with Retry-After. It counts the most calls it held at
// once.
type fakeNode struct {
	max      int32
	hold     time.Duration
	inFlight atomic.Int32
	peak     atomic.Int32
	served   atomic.Int32
	refused  atomic.Int32
	mu       sync.Mutex
	failNext int
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" {
		fmt.Fprint(w, metricsText)
		return
	}
	if r.Header.Get("Authorization") != "Bearer k" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	fail := f.failNext > 0
	f.failNext--
	f.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":{"code":"internal","message":"x"}}`)
		return
	}
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	if n > f.max {
		f.refused.Add(1)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"code":"overloaded","message":"full"}}`)
		return
	}
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	select {
	case <-time.After(f.hold):
	case <-r.Context().Done():
		return
	}
	f.served.Add(1)
	fmt.Fprintf(w, `{"call_id":"c","brief":{"transcript":{"segments":[{"text":"%s","engine":"fake"}]}},"timing":{"queued_ms":1,"speech_end_to_intent_ms":%d,"handoff_to_brief_ms":3}}`,
		r.URL.Query().Get("caller"), f.hold.Milliseconds())
}

// TestRunAgainstFakeNode: the ramp's levels are the callers at once, the
// call bound holds, refusals are counted with their Retry-After, retries
// honour it, and a 500 is a server error.
func TestRunAgainstFakeNode(t *testing.T) {
	node := &fakeNode{max: 2, hold: 30 * time.Millisecond, failNext: 1}
	srv := httptest.NewServer(node)
	defer srv.Close()
	recs := []Recording{{Name: "r1", WAV: []byte("RIFF"), Caller: "one"}, {Name: "r2", WAV: []byte("RIFF"), Caller: "two"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Targets: []string{srv.URL + "/"}, APIKey: "k", Steps: Plan([]int{1, 4}, 300*time.Millisecond),
		Recordings: recs, Deadline: 5 * time.Second, Sample: 50 * time.Millisecond, WarmupCalls: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 2 || rep.Steps[0].Concurrency != 1 || rep.Steps[1].Concurrency != 4 {
		t.Fatalf("steps: %+v", rep.Steps)
	}
	one, four := rep.Steps[0], rep.Steps[1]
	if one.ServerErrors != 1 || one.OK < 3 || len(one.Refusals) != 0 {
		t.Fatalf("one caller: %+v", one)
	}
	if four.Refusals["503 overloaded"] == 0 || four.WithRetryAfter != four.Refusals["503 overloaded"] || four.OK == 0 {
		t.Fatalf("four callers on a node taking two: %+v", four)
	}
	if p := node.peak.Load(); p != 2 {
		t.Fatalf("the node held %d calls at once, want 2", p)
	}
	if rep.Total.Calls != one.Calls+four.Calls || rep.Total.ToIntent.P50 != 30 || rep.Total.HandoffToBrief.P50 != 3 {
		t.Fatalf("total: %+v", rep.Total)
	}
	if !rep.Transcripts.Stable || rep.Transcripts.Recordings != 2 {
		t.Fatalf("transcripts: %+v", rep.Transcripts)
	}
	if rep.Memory == nil || rep.Memory.End.Source != "metrics" || rep.Memory.End.RSSMB != 200 {
		t.Fatalf("memory from /metrics: %+v", rep.Memory)
	}

	// A bound on calls, and retries: every call is taken in the end
	// (Retry-After 0), none is refused for good.
	node2 := &fakeNode{max: 1, hold: 10 * time.Millisecond}
	srv2 := httptest.NewServer(node2)
	defer srv2.Close()
	rep, err = Run(ctx, Config{Targets: []string{srv2.URL}, APIKey: "k", Steps: Plan([]int{3}, 0), Calls: 12,
		Recordings: recs, Deadline: 5 * time.Second, Retry: true, Sample: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Calls != 12 || rep.Total.OK != 12 || rep.Total.Classes[ClassRefused] != 0 || node2.served.Load() != 12 {
		t.Fatalf("bounded run with retries: %+v (served %d)", rep.Total, node2.served.Load())
	}
	if node2.refused.Load() > 0 && rep.Total.TakenAfterRetry == 0 {
		t.Fatalf("refused %d times but no call taken after a retry: %+v", node2.refused.Load(), rep.Total)
	}
}

// TestRunUnreachableAndFaults: a node that is not there is unreachable
// (never lost), and a fault's command runs at its time.
func TestRunUnreachableAndFaults(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	mark := filepath.Join(t.TempDir(), "fault")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Targets: []string{url}, Steps: Plan([]int{1}, 0), Calls: 3, Recordings: []Recording{{Name: "r", WAV: []byte("x")}},
		Faults:   []Fault{{Name: "touch", At: 0, Command: "echo done > " + mark}, {Name: "late", At: time.Hour, Command: "true"}},
		Deadline: 2 * time.Second, Sample: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Classes[ClassUnreachable] != 3 || rep.Total.Lost != 0 {
		t.Fatalf("calls to nothing: %+v", rep.Total)
	}
	// With --retry, a node that is down is skipped for the next.
	up := httptest.NewServer(&fakeNode{max: 5})
	defer up.Close()
	rep2, err := Run(ctx, Config{Targets: []string{url, up.URL}, APIKey: "k", Steps: Plan([]int{1}, 0), Calls: 4, Retry: true,
		Recordings: []Recording{{Name: "r", WAV: []byte("x")}}, Deadline: 2 * time.Second, Sample: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Total.OK != 4 {
		t.Fatalf("failover past a node that is down: %+v", rep2.Total)
	}
	// The run may end before the fault's goroutine gets the CPU; then it
	// is reported as not carried out.
	if len(rep.Faults) == 1 {
		if rep.Faults[0].Name != "touch" || rep.Faults[0].Error != "" {
			t.Fatalf("faults: %+v", rep.Faults)
		}
		if b, err := os.ReadFile(mark); err != nil || strings.TrimSpace(string(b)) != "done" {
			t.Fatalf("the fault's command did not run: %q %v", b, err)
		}
	} else if len(rep.Faults) > 1 {
		t.Fatalf("a fault due in an hour ran: %+v", rep.Faults)
	}
}

func TestConfigErrors(t *testing.T) {
	recs := []Recording{{Name: "r"}}
	for name, c := range map[string]Config{
		"no target":           {Steps: Plan([]int{1}, time.Second), Recordings: recs},
		"not a url":           {Targets: []string{"127.0.0.1:8080"}, Steps: Plan([]int{1}, time.Second), Recordings: recs},
		"bad mode":            {Targets: []string{"http://x"}, Mode: "sip", Steps: Plan([]int{1}, time.Second), Recordings: recs},
		"no ramp":             {Targets: []string{"http://x"}, Recordings: recs},
		"unbounded":           {Targets: []string{"http://x"}, Steps: Plan([]int{1}, 0), Recordings: recs},
		"no recordings":       {Targets: []string{"http://x"}, Steps: Plan([]int{1}, time.Second)},
		"stop-node needs pid": {Targets: []string{"http://x"}, Steps: Plan([]int{1}, time.Second), Recordings: recs, Faults: []Fault{{Name: FaultStopNode}}},
	} {
		if _, err := Run(context.Background(), c); !errors.Is(err, ErrPlan) {
			t.Errorf("%s: err = %v, want ErrPlan", name, err)
		}
	}
}

func TestLoadRecordings(t *testing.T) {
	if _, err := LoadRecordings(nil); !errors.Is(err, ErrPlan) {
		t.Fatalf("no sources: %v", err)
	}
	dir := t.TempDir()
	if _, err := LoadRecordings([]string{dir}); !errors.Is(err, ErrPlan) {
		t.Fatalf("empty folder: %v", err)
	}
	// A real served set: its recordings, with the scenario's ids.
	recs, err := LoadRecordings([]string{"../../data/evals/served/en.yaml"})
	if err != nil {
		t.Skipf("the English served set's recordings are not here: %v", err)
	}
	if len(recs) == 0 || !strings.HasPrefix(recs[0].Name, "en-real-") || len(recs[0].PCM) < 16000 || len(recs[0].WAV) != 44+2*len(recs[0].PCM) {
		t.Fatalf("recordings: %d, first %q with %d samples", len(recs), recs[0].Name, len(recs[0].PCM))
	}
	bad := filepath.Join(dir, "bad.wav")
	os.WriteFile(bad, []byte("not a wav"), 0o644)
	if _, err := LoadRecordings([]string{bad}); !errors.Is(err, ErrPlan) || !strings.Contains(err.Error(), "bad.wav") {
		t.Fatalf("bad WAV: %v", err)
	}
}

// TestMaxDurationEndsCleanly: the run's bound stops new calls; calls under
// way finish, and none is counted lost.
func TestMaxDurationEndsCleanly(t *testing.T) {
	node := &fakeNode{max: 10, hold: 300 * time.Millisecond}
	srv := httptest.NewServer(node)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Targets: []string{srv.URL}, APIKey: "k", Steps: Plan([]int{3}, 0), Calls: 1000, MaxDuration: 100 * time.Millisecond,
		Recordings: []Recording{{Name: "r", WAV: []byte("x")}}, Deadline: 5 * time.Second, Sample: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Calls != 3 || rep.Total.OK != 3 || rep.Total.Lost != 0 {
		t.Fatalf("bounded by time: %+v", rep.Total)
	}
}

// briefNode answers uploads with a fresh call id each and keeps the briefs
// of all but the ones it is told to lose; its desk serves the kept ones.
type briefNode struct {
	mu    sync.Mutex
	n     int
	kept  map[string]bool
	loseN int // lose every loseN-th brief
	// signInFrom: sign-in fails (503) before this time; signIns counts them all.
	signInFrom time.Time
	signIns    int
}

func (b *briefNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case r.URL.Path == "/desk/api/login":
		b.signIns++
		if time.Now().Before(b.signInFrom) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"access_token":"desk"}`)
	case strings.HasPrefix(r.URL.Path, "/desk/api/calls/"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/desk/api/calls/"), "/brief")
		if r.Header.Get("Authorization") != "Bearer desk" || !b.kept[id] {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `{}`)
	case r.URL.Path == "/v1/calls":
		b.n++
		id := fmt.Sprintf("call-%d", b.n)
		b.kept[id] = b.n%b.loseN != 0
		fmt.Fprintf(w, `{"call_id":%q,"timing":{"speech_end_to_intent_ms":5}}`, id)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// TestCheckBriefs: after the run every answered call's brief is looked for
// on the desk; the ones the node lost are named.
func TestCheckBriefs(t *testing.T) {
	node := &briefNode{kept: map[string]bool{}, loseN: 3}
	srv := httptest.NewServer(node)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Targets: []string{srv.URL}, Steps: Plan([]int{2}, 0), Calls: 6, Recordings: []Recording{{Name: "r", WAV: []byte("x")}},
		Deadline: 5 * time.Second, Sample: time.Hour, CheckBriefs: 1500 * time.Millisecond, Agents: map[string]string{"a": "t"}})
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Briefs
	if b == nil || b.Checked != 6 || b.Found != 4 || len(b.Missing) != 2 || !slices.Contains(b.Missing, "call-3") || !slices.Contains(b.Missing, "call-6") {
		t.Fatalf("briefs: %+v", b)
	}
}

// TestCheckBriefsSignInWaits: while the desk's sign-in fails (a store
// failover), the reader tries it again once a second, not once for every
// brief it looks for: that spent the desk's sign-in limits in seconds.
func TestCheckBriefsSignInWaits(t *testing.T) {
	node := &briefNode{kept: map[string]bool{}, loseN: 1 << 30}
	srv := httptest.NewServer(node)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node.mu.Lock()
	node.signInFrom = time.Now().Add(10 * time.Second) // past the calls; reset below
	node.mu.Unlock()
	go func() {
		// Sign-in works again a moment after the calls have ended.
		for {
			node.mu.Lock()
			n := node.n
			if n == 6 {
				node.signInFrom = time.Now().Add(300 * time.Millisecond)
			}
			node.mu.Unlock()
			if n == 6 || ctx.Err() != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	rep, err := Run(ctx, Config{Targets: []string{srv.URL}, Steps: Plan([]int{2}, 0), Calls: 6, Recordings: []Recording{{Name: "r", WAV: []byte("x")}},
		Deadline: 5 * time.Second, Sample: time.Hour, CheckBriefs: 10 * time.Second, Agents: map[string]string{"a": "t"}})
	if err != nil {
		t.Fatal(err)
	}
	node.mu.Lock()
	signIns := node.signIns
	node.mu.Unlock()
	if b := rep.Briefs; b == nil || b.Checked != 6 || b.Found != 6 || b.SignInFailures == 0 {
		t.Fatalf("briefs: %+v (want all 6 found, and the failed sign-in reported)", b)
	}
	if signIns > 3 {
		t.Fatalf("%d sign-ins for 6 briefs; want one a second while it fails", signIns)
	}
}
