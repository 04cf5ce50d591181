package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/store/memory"
)

type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time { return time.Unix(0, c.t.Load()) }

func newDesk(t *testing.T) (*Desk, *handoff.Engine, *httptest.Server, *clock) {
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
	clk := &clock{}
	clk.t.Store(time.Now().UnixNano())
	eng, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: queue.NewMemory(), Store: memory.New(), Taxonomy: tx, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDesk(eng, []byte("0123456789abcdef0123456789abcdef"), time.Hour, nil)
	mux := http.NewServeMux()
	d.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return d, eng, srv, clk
}

func do(t *testing.T, srv *httptest.Server, method, path, token string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestDeskErrors(t *testing.T) {
	d, eng, srv, clk := newDesk(t)
	good := d.Token("li.na", clk.now().Add(time.Hour))
	if _, err := eng.Handoff(context.Background(), handoff.Request{CallID: "c1", Intent: call.IntentResult{Intent: "device_power_boot"}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path, token string
		body                      []byte
		code                      int
		msg                       string
	}{
		{"login ok", "POST", "/desk/api/login", "", []byte(`{"agent":"li.na","token":"demo-token-li-na-0001"}`), 200, ""},
		{"unknown agent", "POST", "/desk/api/login", "", []byte(`{"agent":"nobody","token":"demo-token-li-na-0001"}`), 401, "sign-in failed"},
		{"wrong token", "POST", "/desk/api/login", "", []byte(`{"agent":"sam.taylor","token":"guess-guess-guess"}`), 401, "sign-in failed"},
		{"malformed JSON", "POST", "/desk/api/login", "", []byte(`{"agent":`), 400, "malformed JSON"},
		{"unknown field", "POST", "/desk/api/login", "", []byte(`{"agent":"li.na","password":"x"}`), 400, "malformed JSON"},
		{"oversized body", "POST", "/desk/api/login", "", []byte(`{"agent":"` + strings.Repeat("a", MaxBody) + `"}`), 413, "too large"},
		{"no token", "GET", "/desk/api/queue", "", nil, 401, "sign in"},
		{"forged token", "GET", "/desk/api/queue", good + "x", nil, 401, "sign in required"},
		{"expired token", "GET", "/desk/api/queue", d.Token("li.na", clk.now().Add(-time.Second)), nil, 401, "sign in required"},
		{"token of an agent no longer listed", "GET", "/desk/api/queue", d.Token("gone", clk.now().Add(time.Hour)), nil, 401, "sign in required"},
		{"token in the query string", "GET", "/desk/api/queue?token=" + good, "", nil, 401, "sign in required"},
		{"live feed without a ticket", "GET", "/desk/api/live", "", nil, 401, "sign in required"},
		{"live feed with the access token", "GET", "/desk/api/live?token=" + good + "&ticket=" + good, "", nil, 401, "sign in required"},
		{"queue ok", "GET", "/desk/api/queue", good, nil, 200, ""},
		{"unknown call", "GET", "/desk/api/calls/nope/brief", good, nil, 404, "not found"},
		{"feedback without helpful", "POST", "/desk/api/calls/c1/kb-feedback", good, []byte(`{"article_id":"a"}`), 400, "helpful is required"},
		{"outcome on a call not held", "POST", "/desk/api/calls/c1/outcome", good, []byte(`{"resolved":true,"resolution":"x"}`), 403, "not held"},
		{"decline a call not held", "POST", "/desk/api/calls/c1/decline", good, nil, 403, "not held"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, m := do(t, srv, c.method, c.path, c.token, c.body)
			msg, _ := m["error"].(string)
			if code != c.code || !strings.Contains(msg, c.msg) {
				t.Fatalf("%d %q, want %d containing %q", code, msg, c.code, c.msg)
			}
		})
	}
}

// TestDeskInChromium drives the desk in a real headless Chromium: the
// agent signs in, a call enters, its brief shows, the agent accepts.
func TestDeskInChromium(t *testing.T) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not installed: run make setup-test")
	}
	_, eng, srv, _ := newDesk(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/desk/?lang=en"),
		chromedp.SendKeys(chromedp.ID("agent"), "li.na"),
		chromedp.SendKeys(chromedp.ID("token"), "demo-token-li-na-0001"),
		chromedp.Click(chromedp.ID("login-btn")),
		chromedp.WaitVisible(chromedp.ID("desk")),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="conn" and text()="live"]`)),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	// The call enters after the agent is online: it must be offered live.
	_, err = eng.Handoff(context.Background(), handoff.Request{CallID: "call-desk-1",
		Transcript: call.Transcript{Segments: []call.Segment{{Text: "my phone will not turn on", Final: true, End: 2 * time.Second}}},
		Intent:     call.IntentResult{Intent: "device_power_boot", Confidence: 0.93},
		Language:   call.LanguageResult{Language: call.LangMandarin, Confidence: 0.9}})
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`#mine li[data-call="call-desk-1"]`)),
		chromedp.WaitVisible(chromedp.ID("brief")),
		chromedp.WaitVisible(chromedp.Search(`//section[@id="brief" and @data-call="call-desk-1"]`)),
	); err != nil {
		t.Fatalf("brief: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("brief-title")))
	if err != nil {
		t.Fatal(err)
	}
	// The summary sits in the folded transcript: its text, not its rendering.
	summary, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("summary").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("accept-btn")),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="call-state" and @data-state="accepted"]`)),
		chromedp.WaitVisible(chromedp.ID("outcome-form")),
	); err != nil {
		t.Fatalf("accept: %v", err)
	}
	state, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("call-state")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "will not turn on") || strings.Contains(title, "call-desk-1") || !strings.Contains(summary, "will not turn on") || state != "talking" {
		t.Fatalf("title %q summary %q state %q", title, summary, state)
	}
	v, err := eng.View(context.Background(), "li.na")
	if err != nil || len(v.Mine) != 1 || v.Mine[0].State != handoff.StateAccepted {
		t.Fatalf("engine view after accept: %+v %v", v, err)
	}
}
