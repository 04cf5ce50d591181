package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callbrief/callbrief/internal/leakcheck"
	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media/webrtc/webrtctest"
)

// liveGuard bounds waits for things that should happen; reaching it is a
// hang (a failure), never a performance check.
const liveGuard = 150 * time.Second

// liveServer is a real `callbrief serve` started through run, as the
// command line does.
type liveServer struct {
	base   string
	stderr *lockedBuffer

	mu     sync.Mutex
	tokens map[string]string // demo agents' access tokens, once signed in
	// stop shuts the node down (as by a signal) and returns its exit
	// code; the test's cleanup then finds it stopped.
	stop func() int
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLive starts the service with live calls on loopback and short
// answer timeouts; it is shut down (as by a signal) when the test ends,
// and must exit 0.
func startLive(t *testing.T, extra ...string) *liveServer {
	t.Helper()
	return startLiveAt(t, freeAddr(t), extra...)
}

// startLiveAt is startLive on a given address.
func startLiveAt(t *testing.T, addr string, extra ...string) *liveServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	ls := &liveServer{base: "http://" + addr, stderr: &lockedBuffer{}}
	args := append([]string{"serve", "--addr", addr, "--set", "log.level=info", "--set", "webrtc.loopback=true",
		"--set", "webrtc.answer_timeout=1s", "--set", "api.key=" + testAPIKey}, extra...)
	go func() { done <- run(ctx, args, io.Discard, ls.stderr) }()
	var stopOnce sync.Once
	rc := -1
	ls.stop = func() int {
		stopOnce.Do(func() {
			cancel()
			select {
			case rc = <-done:
			case <-time.After(liveGuard):
				t.Error("serve did not shut down")
			}
		})
		return rc
	}
	t.Cleanup(func() {
		if t.Failed() {
			// What the node logged, and where every goroutine stood: a
			// hang shows where it hangs.
			t.Logf("serve on %s logged:\n%s", addr, ls.stderr.String())
			var stacks strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Logf("goroutines at the failure:\n%s", stacks.String())
		}
		if rc := ls.stop(); rc != 0 {
			t.Errorf("serve exited %d: %s", rc, ls.stderr.String())
		}
	})
	// Starting trains the intent model and warms the knowledge base: on a
	// busy machine that takes a while, so wait for readiness up to the
	// test's guard, and give up at once if serve exited.
	var err error
	deadline := time.Now().Add(liveGuard)
	for time.Now().Before(deadline) {
		var resp *http.Response
		if resp, err = http.Get(ls.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return ls
			}
			err = fmt.Errorf("readyz %d", resp.StatusCode)
		}
		select {
		case rc := <-done:
			done <- rc // for the cleanup
			t.Fatalf("serve exited %d before it was ready:\n%s", rc, ls.stderr.String())
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatalf("serve not ready within %s: %v\n%s", liveGuard, err, ls.stderr.String())
	return nil
}

// do sends a JSON request (body may be nil) with an optional bearer
// token and decodes the JSON answer into out (may be nil).
func (ls *liveServer) do(ctx context.Context, method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, ls.base+path, rd)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, nil
}

// login signs in as a demo agent and returns the access token.
func (ls *liveServer) login(t *testing.T, ctx context.Context, agent, token string) string {
	t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	code, err := ls.do(ctx, http.MethodPost, "/desk/api/login", "", map[string]string{"agent": agent, "token": token}, &out)
	if err != nil || code != http.StatusOK || out.AccessToken == "" {
		t.Fatalf("desk login: %d %v", code, err)
	}
	return out.AccessToken
}

// deskBrief is the part of a brief the tests look at.
type deskBrief struct {
	CallID     string `json:"call_id"`
	Reason     string `json:"reason"`
	Transcript struct {
		Segments []struct {
			Text string `json:"text"`
		} `json:"segments"`
	} `json:"transcript"`
	Route struct {
		Group string `json:"group"`
	} `json:"route"`
	Verification struct {
		Status string `json:"status"`
	} `json:"verification"`
	Language struct {
		Language string `json:"language"`
	} `json:"language"`
}

func (b deskBrief) text() string {
	var parts []string
	for _, s := range b.Transcript.Segments {
		parts = append(parts, s.Text)
	}
	return strings.Join(parts, " ")
}

// awaitBrief polls the desk until the call's brief is there, read by
// whichever demo agent may read it (the call's group at their level: the
// desk refuses the others, as it should).
func (ls *liveServer) awaitBrief(t *testing.T, ctx context.Context, callID string) deskBrief {
	t.Helper()
	ls.mu.Lock()
	if ls.tokens == nil {
		ls.tokens = map[string]string{}
		for agent, tok := range demoAgents {
			ls.tokens[agent] = ls.login(t, ctx, agent, tok)
		}
	}
	tokens := ls.tokens
	ls.mu.Unlock()
	for {
		var code int
		var err error
		for _, token := range tokens {
			var b deskBrief
			code, err = ls.do(ctx, http.MethodGet, "/desk/api/calls/"+callID+"/brief", token, nil, &b)
			if err == nil && code == http.StatusOK {
				return b
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no brief of call %s on the desk (last: %d %v)\n%s", callID, code, err, ls.stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// briefReader returns the access token of a demo agent who may read the
// call's brief (after awaitBrief found it).
func (ls *liveServer) briefReader(t *testing.T, ctx context.Context, callID string) string {
	t.Helper()
	ls.awaitBrief(t, ctx, callID)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, token := range ls.tokens {
		if code, err := ls.do(ctx, http.MethodGet, "/desk/api/calls/"+callID+"/brief", token, nil, nil); err == nil && code == http.StatusOK {
			return token
		}
	}
	t.Fatalf("no demo agent may read the brief of %s", callID)
	return ""
}

// awaitMetric polls /metrics until a line starts with want.
func (ls *liveServer) awaitMetric(t *testing.T, ctx context.Context, want string) string {
	t.Helper()
	for {
		resp, err := http.Get(ls.base + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, want) {
					return string(b)
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("metric %q never appeared", want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// awaitCaption reads the call's captions, by its resource (ID.SECRET), as
// the caller's page does, until a final one contains want.
func (ls *liveServer) awaitCaption(ctx context.Context, resource, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ls.base+"/call/captions/"+resource, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data:"); ok && strings.Contains(d, want) {
			return nil
		}
	}
	return fmt.Errorf("captions ended without %q: %w", want, sc.Err())
}

// librivoxPCM is the shared recording "he was not an ill disposed young
// man", 16 kHz mono.
func librivoxPCM(t *testing.T) []int16 {
	t.Helper()
	return testenv.PCM16(t, filepath.Join(testenv.NeedLibrivox(t), "sense_and_sensibility_01_austen_64kb-0880.wav"))
}

// checkLiveLeaks fails the test if goroutines of the media path (pion,
// the WebRTC ingress, the pipeline) started during it outlive it. It must
// be called before startLive so that its cleanup runs after the server's.
func checkLiveLeaks(t *testing.T) {
	t.Helper()
	leakcheck.Test(t, liveGuard, "github.com/pion/", "callbrief/media/webrtc", "callbrief/pipeline", "callbrief.(*server)")
}

// demoAgents are the desk's demo agents and their sign-in tokens.
var demoAgents = map[string]string{
	"li.na": "demo-token-li-na-0001", "chan.kaman": "demo-token-chan-kaman-0002", "wang.jian": "demo-token-wang-jian-0003",
	"zhou.min": "demo-token-zhou-min-0004", "sam.taylor": "demo-token-sam-taylor-0005",
}

// staffDesk signs every demo agent in with their desk open (the live
// feed, which makes them available), waits until callID is offered to one
// of them, and returns that agent and their access token. The desks close
// when the test ends.
func (ls *liveServer) staffDesk(t *testing.T, ctx context.Context, callID string) (string, string) {
	t.Helper()
	tokens := map[string]string{}
	for agent, tok := range demoAgents {
		access := ls.login(t, ctx, agent, tok)
		tokens[agent] = access
		var tk struct {
			Ticket string `json:"ticket"`
		}
		if code, err := ls.do(ctx, http.MethodPost, "/desk/api/live-ticket", access, nil, &tk); err != nil || code != http.StatusOK {
			t.Fatalf("feed ticket of %s: %d %v", agent, code, err)
		}
		wsURL := "ws" + strings.TrimPrefix(ls.base, "http") + "/desk/api/live?ticket=" + tk.Ticket
		c, _, err := websocket.Dial(ctx, wsURL, nil)
		if err != nil {
			t.Fatalf("desk of %s: %v", agent, err)
		}
		rctx, stop := context.WithCancel(context.Background())
		go func() { // the feed is read so that the server's writes proceed
			for {
				if _, _, err := c.Read(rctx); err != nil {
					return
				}
			}
		}()
		t.Cleanup(func() { stop(); c.CloseNow() })
	}
	for {
		for agent, access := range tokens {
			var v struct {
				Mine []struct {
					CallID string `json:"call_id"`
				} `json:"mine"`
			}
			if code, err := ls.do(ctx, http.MethodGet, "/desk/api/queue", access, nil, &v); err == nil && code == http.StatusOK {
				for _, it := range v.Mine {
					if it.CallID == callID {
						return agent, access
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("call %s was offered to no agent\n%s", callID, ls.stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// awaitMedia polls the desk until the call's audio is in state.
func (ls *liveServer) awaitMedia(t *testing.T, ctx context.Context, token, callID, state string) map[string]any {
	t.Helper()
	for {
		var st map[string]any
		code, err := ls.do(ctx, http.MethodGet, "/desk/api/calls/"+callID+"/media", token, nil, &st)
		if err == nil && code == http.StatusOK && st["state"] == state {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("call %s audio never %q (last %d %v %v; now %s)\n%s", callID, state, code, err, st, time.Now().UTC().Format(time.RFC3339Nano), ls.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// earpiece is what a caller's client hears, read as it arrives so that
// its arrival times are real.
type earpiece struct {
	mu     sync.Mutex
	chunks []heardChunk
}

type heardChunk struct {
	at  time.Time
	pcm []int16
}

// listen reads cl's audio until the test ends.
func listen(t *testing.T, ctx context.Context, cl *webrtctest.Client) *earpiece {
	e := &earpiece{}
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cl.Receive(lctx, func(p []int16) bool {
			e.mu.Lock()
			e.chunks = append(e.chunks, heardChunk{time.Now(), slices.Clone(p)})
			e.mu.Unlock()
			return true
		})
	}()
	t.Cleanup(func() { stop(); <-done })
	return e
}

// loudAfter counts the tenths of a second at speech level heard after at.
func (e *earpiece) loudAfter(at time.Time) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	loud := 0
	var win []int16
	for _, c := range e.chunks {
		if !c.at.After(at) {
			continue
		}
		if win = append(win, c.pcm...); len(win) >= 1600 {
			if rmsOf(win) > 300 {
				loud++
			}
			win = win[:0]
		}
	}
	return loud
}

// metrics returns the node's /metrics text.
func (ls *liveServer) metrics(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ls.base+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
