package evals

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callbrief/callbrief/call"
)

// sampleReport is a report with one evaluation of each plotted kind, from
// real runs where they are fast (scenarios, verification) and small
// literal reports for the rest.
func sampleReport(t *testing.T) *Report {
	t.Helper()
	ctx := context.Background()
	scs, err := LoadScenarios(filepath.Join("..", "data", "evals", "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := DefaultScenarioStack(ctx, StackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srep, err := RunScenarios(ctx, ScenarioConfig{Stack: st}, scs)
	if err != nil {
		t.Fatal(err)
	}
	items := []ASRItem{{File: "a.wav", Language: call.LangEnglish, Reference: "my phone will not turn on"},
		{File: "b.wav", Language: call.LangMandarin, Reference: "我的手机开不了机"}}
	var lat LatencyRecorder
	arep, err := RunASR(ctx, "fake", "two clips", items, TimedTranscriber(func(_ context.Context, it ASRItem) (ASRHypothesis, error) {
		return ASRHypothesis{Text: strings.Replace(it.Reference, "will", "well", 1), Audio: time.Second, Process: 100 * time.Millisecond,
			EndpointDelays: []time.Duration{200 * time.Millisecond}, FinalLatencies: []time.Duration{90 * time.Millisecond}}, nil
	}, &lat))
	if err != nil {
		t.Fatal(err)
	}
	irep := &IntentReport{Engine: "fixture", Dataset: "three intents", Test: 30, Accuracy: 0.8, MacroF1: 0.79,
		PerIntent:  []IntentScores{{"order_status", 10, 0.9, 0.9, 0.9}, {"complaint", 10, 0.7, 0.7, 0.7}, {"out_of_scope", 10, 0.8, 0.8, 0.8}},
		Confusions: []Confusion{{"complaint", "order_status", 2}, {"complaint", "out_of_scope", 1}, {"order_status", "complaint", 1}, {"out_of_scope", "complaint", 2}}}
	return &Report{Version: ReportVersion, Suite: "screenshot", Started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Machine: "test",
		Evaluations: []*Evaluation{IntentEvaluation("intent", irep, nil), ASREvaluation("asr", arep, &lat), ScenarioEvaluation("scenarios", srep)}}
}

func TestReportHTMLInChromium(t *testing.T) {
	const browser = "/usr/bin/chromium"
	if _, err := os.Stat(browser); err != nil {
		t.Fatalf("Debian chromium is required for the report check: %v", err)
	}
	rep := sampleReport(t)
	worse := rep.Compact()
	worse.Evaluations[0].Metrics[0].Value += 0.05 // the baseline was better: a regression to show
	cmp := Compare(&Suite{}, worse, rep)

	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, rep, cmp); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+page), chromedp.WaitVisible("#comparison")); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	count := func(sel string) int {
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("`+sel+`").length`))
		if err != nil {
			t.Fatalf("counting %s: %v", sel, err)
		}
		return n
	}
	gateText, err := chromedp.Run(bctx, chromedp.Text("#comparison h2"))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100: lossless PNG
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("CALLBRIEF_KEEP_SCREENSHOT") != "" {
		_ = os.WriteFile(os.Getenv("CALLBRIEF_KEEP_SCREENSHOT"), png, 0o644)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))

	checks := []struct {
		what      string
		got, want int
	}{
		{"evaluation sections", count("section.evaluation"), len(rep.Evaluations)},
		{"sections with a plot", count("section.evaluation:has(svg)"), len(rep.Evaluations)},
		{"confusion heatmaps (intent, scenario routes)", count("svg.confusion"), 2},
		{"per-class F1 charts", count("svg.f1bars"), 1},
		{"latency histograms (asr 3 series, scenario time to brief)", count("svg.histogram"), 4},
		{"per-stage breakdowns", count("svg.stages"), 1},
		{"WER-by-clip charts", count("svg.clips"), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.what, c.got, c.want)
		}
	}
	if title != "callbrief evaluation: screenshot" {
		t.Errorf("title %q", title)
	}
	if !strings.Contains(gateText, "gate FAILED") {
		t.Errorf("comparison heading %q does not show the regression", gateText)
	}
	if len(png) < 10000 {
		t.Errorf("screenshot is only %d bytes: the page did not render", len(png))
	}
}
