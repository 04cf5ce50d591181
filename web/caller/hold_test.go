package caller

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/webrtc"
)

// TestChromiumHold: on a call placed from the page in real headless
// Chromium, the caller's place on hold is pushed as the queue moves and
// shown in the caller's language (Mandarin, Cantonese, English), then
// that an agent is being connected. Screenshots are kept for review in
// $DESK_SHOTS (default: a folder under the system's temp).
func TestChromiumHold(t *testing.T) {
	mic := make([]float32, media.Rate48k)
	for i := range mic {
		mic[i] = 0.3 * float32(math.Sin(2*math.Pi*440*float64(i)/media.Rate48k))
	}
	ctx := testenv.ChromiumWithMic(t, mic, guard)
	calls := make(chan webrtc.Call, 1)
	ws, err := webrtc.NewServer(webrtc.Config{Loopback: true, OnCall: func(c webrtc.Call) {
		calls <- c
		<-c.Done()
	}})
	if err != nil {
		t.Fatal(err)
	}
	hub := NewHub()
	// As serve wires it: the page reads its captions by the call's
	// resource (ID.SECRET), which the server resolves to the call id.
	page, err := New(Config{Resolve: ws.CallOfResource}, hub)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/whip/", http.StripPrefix("/v1/whip", ws))
	mux.Handle("/call/", http.StripPrefix("/call", page))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		_ = ws.Close(ctx)
	}()
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(430, 900),
		chromedp.Navigate(srv.URL+"/call/"),
		chromedp.Click(chromedp.ID("call")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="status" and text()="connected"]`)),
	); err != nil {
		t.Fatalf("placing the call: %v", err)
	}
	var c webrtc.Call
	select {
	case c = <-calls:
	case <-ctx.Done():
		t.Fatal("no call reached the server")
	}
	dir := os.Getenv("DESK_SHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "callbrief-desk-shots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		q    Queue
		want string
	}{
		{Queue{State: "waiting", Position: 3, Lang: PageLang("cmn")}, "您在队列中排第 3 位"},
		{Queue{State: "waiting", Position: 1, Lang: PageLang("yue")}, "下一位就到你"},
		{Queue{State: "waiting", Position: 2, Lang: PageLang("en")}, "you are number 2 in the queue"},
		{Queue{State: "agent", Lang: PageLang("en")}, "Connecting you to an agent"},
		{Queue{State: "agent", Lang: PageLang("wuu")}, "正在为您接通客服人员"},
	} {
		hub.Publish(ctx, c.ID(), Caption{Queue: &step.q})
		sel := `//p[@id="queue" and @data-state="` + step.q.State + `" and contains(text(), "` + step.want + `")]`
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.Search(sel))); err != nil {
			got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("queue")))
			t.Fatalf("%+v: page shows %q, want %q (%v)", step.q, got, step.want, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		name := "caller-hold-" + step.q.Lang + "-" + step.q.State + ".png"
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Gone (the caller's call ended or went to a call-back): nothing shown.
	hub.Publish(ctx, c.ID(), Caption{Queue: &Queue{State: "gone", Lang: "zh"}})
	if err := chromedp.Do(ctx, chromedp.WaitNotVisible(chromedp.ID("queue"))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("hangup"))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("hang-up did not end the call")
	}
	t.Logf("screenshots kept in %s", dir)
}
