package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/store/memory"
)

// floorDesk is a desk whose offers ring out after ring (real time).
func floorDesk(t *testing.T, ring time.Duration) (*handoff.Engine, string) {
	t.Helper()
	tx, _ := taxonomy.Load()
	r, err := handoff.DefaultRouter(tx)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := handoff.DemoRoster(r.Groups())
	if err != nil {
		t.Fatal(err)
	}
	eng, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: queue.NewMemory(), Store: memory.New(), Taxonomy: tx, OfferTimeout: ring})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.RunRingOut(ctx, 100*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	d := NewDesk(eng, []byte("0123456789abcdef0123456789abcdef"), time.Hour, nil)
	mux := http.NewServeMux()
	d.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return eng, srv.URL
}

// browser opens a headless Chromium tab at w×h.
func browser(t *testing.T, w, h int) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not installed: run make setup-test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.WindowSize(w, h))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// shotDir is where screenshots are kept for review (printed, not
// committed): $DESK_SHOTS or a folder under the system's temp.
func shotDir(t *testing.T) string {
	dir := os.Getenv("DESK_SHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "callbrief-desk-shots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG (below it, JPEG)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(shotDir(t), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func signIn(t *testing.T, ctx context.Context, base, lang, agent, token string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/desk/?lang="+lang),
		chromedp.WaitVisible(chromedp.ID("login-btn")),
	); err != nil {
		t.Fatalf("open: %v", err)
	}
	// Before sign-in nothing of the desk shows (a CSS rule used to
	// override hidden).
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`["desk","wallboard","not-ready"].some((id) => getComputedStyle(document.getElementById(id)).display !== "none")`))
	if err != nil || shown {
		t.Fatalf("a desk panel shows before sign-in (%v)", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("agent"), agent),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("login-btn")),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="conn" and @data-state="live"]`)),
	); err != nil {
		t.Fatalf("sign in %s: %v", agent, err)
	}
}

func bootCall(id string, lang call.Language) handoff.Request {
	text := "我的手机从今天早上开始就开不了机了，一直卡在标志那里"
	if lang == call.LangEnglish {
		text = "my phone will not turn on since this morning, it is stuck on the logo"
	}
	return handoff.Request{CallID: id,
		Transcript: call.Transcript{Segments: []call.Segment{{Text: text, Final: true, End: 3 * time.Second}}},
		Intent:     call.IntentResult{Intent: "device_power_boot", Confidence: 0.93},
		Language:   call.LanguageResult{Language: lang, Confidence: 0.9},
		Verification: call.VerificationOutcome{Status: call.StatusUnverified, Identity: call.Identity{CallerMasked: "138****5678"},
			Reason: "assurance below the one factor this intent needs (the caller number alone proves nothing)", AccountFound: true},
	}
}

// TestDeskFloorChromium drives the floor end to end in real Chromium, in
// Chinese and English at a laptop and a large-screen size: an offer rings
// out from one agent's desk to the next and the first is shown not ready;
// a caller who hangs up lands in the call-back list and cannot be
// accepted; a supervisor's wallboard shows it all, pushed. Screenshots
// are kept for review.
func TestDeskFloorChromium(t *testing.T) {
	sizes := []struct {
		name string
		w, h int
	}{{"laptop", 1366, 768}, {"large", 1920, 1080}}
	for _, lang := range []string{"zh", "en"} {
		for _, sz := range sizes {
			t.Run(lang+"-"+sz.name, func(t *testing.T) { floorFlow(t, lang, sz.name, sz.w, sz.h) })
		}
	}
	t.Logf("screenshots kept in %s", shotDir(t))
}

func floorFlow(t *testing.T, lang, size string, w, h int) {
	eng, base := floorDesk(t, 5*time.Second)
	shot := func(ctx context.Context, what string) { shoot(t, ctx, what+"-"+lang+"-"+size) }
	li, sam, boss := browser(t, w, h), browser(t, w, h), browser(t, w, h)
	if err := chromedp.Do(li, chromedp.Navigate(base+"/desk/?lang="+lang), chromedp.WaitVisible(chromedp.ID("login-btn"))); err != nil {
		t.Fatal(err)
	}
	shot(li, "signin")
	signIn(t, li, base, lang, "li.na", "demo-token-li-na-0001")
	signIn(t, sam, base, lang, "sam.taylor", "demo-token-sam-taylor-0005")
	signIn(t, boss, base, lang, "he.ping", "demo-token-he-ping-0006")
	ctx := context.Background()
	// A Cantonese caller: neither agent speaks it, so it is greyed on
	// both desks with why.
	other := bootCall("call-yue", call.LangCantonese)
	if _, err := eng.Handoff(ctx, other); err != nil {
		t.Fatal(err)
	}
	lang1 := call.LangMandarin
	if lang == "en" {
		lang1 = call.LangEnglish
	}
	if _, err := eng.Handoff(ctx, bootCall("call-ring", lang1)); err != nil {
		t.Fatal(err)
	}
	// Offered to one of the two; it rings out to the other.
	first, second, firstID := li, sam, "li.na"
	for deadline := time.Now().Add(10 * time.Second); ; {
		if v, _ := eng.View(ctx, "sam.taylor"); len(v.Mine) == 1 && v.Mine[0].CallID == "call-ring" {
			first, second, firstID = sam, li, "sam.taylor"
			break
		}
		if v, _ := eng.View(ctx, "li.na"); len(v.Mine) == 1 && v.Mine[0].CallID == "call-ring" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call was offered to nobody")
		}
		time.Sleep(20 * time.Millisecond)
	}
	wctx, wcancel := context.WithTimeout(first, 15*time.Second)
	defer wcancel()
	if err := chromedp.Do(wctx,
		chromedp.WaitVisible(chromedp.Search(`//ul[@id="mine"]/li[@data-call="call-ring" and @data-state="offered"]`)),
		chromedp.WaitVisible(chromedp.Search(`//section[@id="brief" and @data-call="call-ring"]`)),
	); err != nil {
		dbg, _ := chromedp.Run(first, chromedp.Evaluate[string](`(() => { try { render(view); return "ok " + window.deskViews + " " + JSON.stringify(view) } catch (e) { return e.stack } })()`))
		t.Fatalf("offer on %s: %v (%s)", firstID, err, dbg)
	}
	shot(first, "brief")
	if err := chromedp.Do(second,
		chromedp.WaitVisible(chromedp.Search(`//ul[@id="mine"]/li[@data-call="call-ring" and @data-state="offered"]`)),
	); err != nil {
		t.Fatalf("ring-out to the next agent: %v", err)
	}
	if err := chromedp.Do(first, chromedp.WaitVisible(chromedp.ID("not-ready"))); err != nil {
		t.Fatalf("not-ready banner: %v", err)
	}
	why, _ := chromedp.Run(first, chromedp.Text(chromedp.ID("not-ready-why")))
	if why == "" || strings.Contains(why, "not_ready.") {
		t.Fatalf("not-ready reason %q", why)
	}
	shot(first, "ringout")
	// The second agent takes it with the keyboard: A.
	if err := chromedp.Do(second,
		chromedp.WaitVisible(chromedp.ID("accept-btn")),
		chromedp.KeyEvent("a"),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="call-state" and @data-state="accepted"]`)),
	); err != nil {
		t.Fatalf("accept by key: %v", err)
	}
	// A caller who hangs up while waiting: the call-back list, never live.
	if _, err := eng.Handoff(ctx, bootCall("call-gone", lang1)); err != nil {
		t.Fatal(err)
	}
	if err := eng.CallerLeft(ctx, "call-gone", "the caller hung up while waiting for an agent"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(second,
		chromedp.WaitVisible(chromedp.Search(`//ul[@id="callbacks"]/li[@data-call="call-gone" and @data-state="abandoned"]`)),
		chromedp.Click(chromedp.Search(`//ul[@id="callbacks"]/li[@data-call="call-gone"]`)),
		chromedp.WaitVisible(chromedp.Search(`//section[@id="brief" and @data-call="call-gone" and @data-state="abandoned"]`)),
		chromedp.WaitVisible(chromedp.ID("abandoned-note")),
	); err != nil {
		t.Fatalf("call-back list: %v", err)
	}
	if acceptShown, err := chromedp.Run(second, chromedp.Evaluate[bool](`!document.getElementById("accept-btn").hidden`)); err != nil || acceptShown {
		t.Fatalf("accept offered on an abandoned call (%v)", err)
	}
	if err := eng.Accept(ctx, "li.na", "call-gone"); err == nil {
		t.Fatal("the server accepted an abandoned call")
	}
	shot(second, "abandoned")
	// The wallboard, pushed: one waiting elsewhere, one abandoned, one
	// agent not ready, one rang out.
	if err := chromedp.Do(boss,
		chromedp.WaitVisible(chromedp.ID("wallboard")),
		chromedp.WaitVisible(chromedp.Search(`//div[@data-k="wb.abandoned"]/div[@class="n" and text()="1"]`)),
		chromedp.WaitVisible(chromedp.Search(`//div[@data-k="agent.not_ready"]/div[@class="n" and text()="1"]`)),
		chromedp.WaitVisible(chromedp.Search(`//tr[@data-group="all"]/td[7][text()="1"]`)),
	); err != nil {
		t.Fatalf("wallboard: %v", err)
	}
	shot(boss, "wallboard")
	shot(li, "queue")
	// Every string came from the catalogue: no key shows raw.
	for _, c := range []context.Context{li, sam, boss} {
		raw, err := chromedp.Run(c, chromedp.Evaluate[string](`(document.body.innerText.match(/\b(state|why|group|wb|agent|rel|ver|method|field|ticket|urgency|lang|not_ready)\.[a-z_]+/) || [""])[0]`))
		if err != nil || raw != "" {
			t.Fatalf("a catalogue key shows raw: %q (%v)", raw, err)
		}
	}
	audit, _ := eng.DeskAudit(ctx, 200)
	reads := 0
	for _, a := range audit {
		if a["kind"] == "wallboard_read" && a["agent"] == "he.ping" {
			reads++
		}
	}
	if reads == 0 {
		t.Fatal("wallboard reads not audited")
	}
}
