package caller

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/webrtc"
)

const guard = 60 * time.Second

func TestPageServes(t *testing.T) {
	h, err := New(Config{WHIP: "/x/whip"}, NewHub())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{"/", `data-whip="/x/whip"`},
		{"/static/caller.js", "insertDTMF"},
		{"/static/caller.css", "keypad"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("GET %s: %d, body lacks %q", tt.path, rec.Code, tt.want)
		}
	}
}

func TestCaptionsStream(t *testing.T) {
	hub := NewHub()
	h, _ := New(Config{}, hub)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/captions/abc")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	// The subscription exists once the headers are flushed.
	hub.Publish(context.Background(), "abc", Caption{Text: "你好", Final: false})
	hub.Publish(context.Background(), "other", Caption{Text: "not mine"})
	hub.Publish(context.Background(), "abc", Caption{Text: "你好，我想查账单", Final: true})
	hub.End("abc")
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			lines = append(lines, l)
		}
	}
	want := []string{`data: {"text":"你好","final":false}`, `data: {"text":"你好，我想查账单","final":true}`, "event: end", "data: {}"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stream:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestCaptionsNeedTheResource: with Resolve set (as serve sets it), the
// captions are read by the call's resource (ID.SECRET from its WHIP
// Location) only: the bare call id, which agents and logs see, or a wrong
// secret get 404, like a call that does not exist.
func TestCaptionsNeedTheResource(t *testing.T) {
	hub := NewHub()
	h, _ := New(Config{Resolve: func(res string) (string, bool) {
		if res == "abc.s3cret" {
			return "abc", true
		}
		return "", false
	}}, hub)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, bad := range []string{"abc", "abc.wrong", "abc."} {
		resp, err := http.Get(srv.URL + "/captions/" + bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", bad, resp.StatusCode)
		}
	}
	resp, err := http.Get(srv.URL + "/captions/abc.s3cret")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	hub.Publish(context.Background(), "abc", Caption{Text: "你好", Final: true})
	hub.End("abc")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "你好") {
		t.Fatalf("own resource: %d %q", resp.StatusCode, b)
	}
}

// TestCaptionsHead: a HEAD of a captions stream answers its headers and
// ends, so the client's connection is free for its next request (a
// streaming HEAD held it until the call ended).
func TestCaptionsHead(t *testing.T) {
	h, _ := New(Config{}, NewHub())
	srv := httptest.NewServer(h)
	defer func() {
		// Every handler must have returned: Close waits for them.
		srv.CloseClientConnections()
		closed := make(chan struct{})
		go func() { srv.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Error("a captions handler is still running after its HEAD")
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range 3 { // one connection, reused
		resp, err := client.Head(srv.URL + "/captions/abc")
		if err != nil {
			t.Fatalf("HEAD %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("HEAD %d: %d %q", i, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	resp, err := client.Get(srv.URL + "/static/caller.css")
	if err != nil {
		t.Fatalf("GET after the HEADs: %v", err)
	}
	resp.Body.Close()
}

// TestChromiumCall places a call from the page in real headless Chromium
// with a fake microphone playing a WAV made here, presses a key, and hangs
// up: the server must receive speech-level audio frames, the key, and the
// hang-up.
func TestChromiumCall(t *testing.T) {
	// A 440 Hz tone at half scale, 48 kHz mono; Chromium loops it.
	mic := make([]float32, 3*media.Rate48k)
	for i := range mic {
		mic[i] = 0.5 * float32(math.Sin(2*math.Pi*440*float64(i)/media.Rate48k))
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
	page, err := New(Config{}, NewHub())
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
		if err := ws.Close(ctx); err != nil {
			t.Error(err)
		}
	}()

	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/call/"),
		chromedp.Click(chromedp.ID("call")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="status" and text()="connected"]`)),
	); err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("status")))
		t.Fatalf("placing the call: %v (page status %q)", err, status)
	}
	var call webrtc.Call
	select {
	case call = <-calls:
	case <-ctx.Done():
		t.Fatal("no call reached the server")
	}
	// Half a second of loud audio, then the key.
	var loud int
	for loud < 25 {
		ev, err := call.Next(ctx)
		if err != nil {
			t.Fatalf("after %d loud frames: %v (stats %+v)", loud, err, call.Stats())
		}
		if ev.Kind == webrtc.EventAudio && rms(ev.Frame.Samples) > 3000 {
			loud++
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("key-5"))); err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := call.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for the key: %v (stats %+v)", err, call.Stats())
		}
		if ev.Kind == webrtc.EventDTMF {
			if ev.Digit != '5' {
				t.Fatalf("key %q, want '5'", ev.Digit)
			}
			break
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("hangup"))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("hang-up did not end the call")
	}
	if !errors.Is(call.Err(), webrtc.ErrHangup) {
		t.Fatalf("call ended with %v, want ErrHangup", call.Err())
	}
	t.Logf("codec %s, stats %+v", call.Codec(), call.Stats())
}

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}
