package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue/redisq"
	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media/webrtc/webrtctest"
	storeredis "github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
)

// asBinaryEnv makes the test binary run as callbrief itself (main), so
// that tests can start `callbrief serve` as a process of its own and send
// it real signals.
const asBinaryEnv = "TEST_AS_CALLBRIEF_BINARY"

func TestMain(m *testing.M) {
	if os.Getenv(asBinaryEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// procServer is `callbrief serve` run as a process (the test binary as
// callbrief): SIGTERM reaches it as it would from an orchestrator.
type procServer struct {
	*liveServer
	cmd    *exec.Cmd
	exited chan struct{}
	err    error     // the process's exit, once exited is closed
	exitAt time.Time // when it exited
}

// startProcess starts serve as a process with the startLive settings and
// waits until it is ready. The test's cleanup kills it if it still runs.
func startProcess(t *testing.T, extra ...string) *procServer {
	t.Helper()
	addr := freeAddr(t)
	p := &procServer{liveServer: &liveServer{base: "http://" + addr, stderr: &lockedBuffer{}}, exited: make(chan struct{})}
	args := append([]string{"serve", "--addr", addr, "--set", "log.level=info", "--set", "webrtc.loopback=true",
		"--set", "webrtc.answer_timeout=1s", "--set", "api.key=" + testAPIKey}, extra...)
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), asBinaryEnv+"=1")
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start serve: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.exitAt = time.Now()
		close(p.exited)
	}()
	p.stop = func() int {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		return p.wait(t, liveGuard)
	}
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("serve on %s logged:\n%s", addr, p.stderr.String())
		}
	})
	deadline := time.Now().Add(liveGuard)
	var err error
	for time.Now().Before(deadline) {
		var resp *http.Response
		if resp, err = http.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
			err = fmt.Errorf("readyz %d", resp.StatusCode)
		}
		select {
		case <-p.exited:
			t.Fatalf("serve exited before it was ready: %v\n%s", p.err, p.stderr.String())
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatalf("serve not ready within %s: %v\n%s", liveGuard, err, p.stderr.String())
	return nil
}

// wait returns the exit code once the process has exited (-1 if it did
// not within d).
func (p *procServer) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Errorf("serve did not exit within %s", d)
		return -1
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// sigterm sends SIGTERM and returns when it was sent.
func (p *procServer) sigterm(t *testing.T) time.Time {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// upload posts a recorded call and returns the status, Retry-After and
// the decoded answer.
func (p *procServer) upload(ctx context.Context, wav []byte, caller string) (int, string, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/v1/calls?caller="+caller, bytes.NewReader(wav))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		return resp.StatusCode, resp.Header.Get("Retry-After"), nil, fmt.Errorf("answer %d: %w: %.200s", resp.StatusCode, err, b)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), out, nil
}

// awaitGauge polls /metrics until the metric's value is want.
func (p *procServer) awaitGauge(t *testing.T, ctx context.Context, metric string, want float64) {
	t.Helper()
	line := fmt.Sprintf("%s %g", metric, want)
	for {
		if m, err := p.metrics(ctx); err == nil && strings.Contains(m, "\n"+line+"\n") {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never reached %g", metric, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestDrainLetsCallsFinish: `callbrief serve` as a process, a live call
// and an upload in progress, SIGTERM. At once every ingress refuses new
// calls (readyz 503, upload 503 with Retry-After, WHIP 503 with
// Retry-After) while the live call goes on (the caller speaks after the
// signal), reaches the desk with its brief, and the upload is answered
// with its brief. When the caller hangs up the node exits 0, well before
// its drain deadline.
func TestDrainLetsCallsFinish(t *testing.T) {
	wavPath := filepath.Join(testenv.NeedLibrivox(t), "sense_and_sensibility_01_austen_64kb-0880.wav")
	wav, err := os.ReadFile(wavPath)
	if err != nil {
		t.Fatal(err)
	}
	pcm := testenv.PCM16(t, wavPath)
	const drain = 60 * time.Second
	p := startProcess(t, "--set", "shutdown.drain="+drain.String())
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()

	cl, id := dialLive(t, ctx, p.liveServer)
	type answer struct {
		code int
		body map[string]any
		err  error
		at   time.Time
	}
	uploaded := make(chan answer, 1)
	go func() {
		code, _, body, err := p.upload(ctx, wav, "%2B8613900000042")
		uploaded <- answer{code, body, err, time.Now()}
	}()
	// Both calls are in the pipeline: the live one greeted, the upload
	// admitted and read.
	p.awaitGauge(t, ctx, "callbrief_active_calls", 2)
	signalled := p.sigterm(t)

	// New calls are refused at once, on every ingress.
	for {
		var ready map[string]any
		code, err := p.do(ctx, http.MethodGet, "/readyz", "", nil, &ready)
		if err != nil {
			t.Fatal(err)
		}
		if code == http.StatusServiceUnavailable {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("readyz still %d after SIGTERM", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, retry, body, err := p.upload(ctx, wav, "%2B8613900000043")
	if err != nil || code != http.StatusServiceUnavailable || retry == "" || errorCode(body) != "draining" {
		t.Fatalf("upload on a draining node: %d Retry-After %q %v %v, want 503 draining with Retry-After", code, retry, body, err)
	}
	late, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	var se *webrtctest.StatusError
	if err := late.Dial(ctx, p.base+"/v1/whip", nil); !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || se.RetryAfter == "" {
		t.Fatalf("WHIP offer on a draining node: %v, want 503 with Retry-After", err)
	}
	refused := time.Since(signalled)

	// The call in progress goes on: the caller speaks now, is heard, and
	// the call reaches the desk with its brief.
	if err := cl.SendPCM(ctx, pcm, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sctx, stopSilence := context.WithCancel(ctx)
	silent := make(chan error, 1)
	go func() { silent <- keepSilent(sctx, cl) }()
	b := p.awaitBrief(t, ctx, id)
	if !strings.Contains(b.text(), "young man") || strings.Contains(b.Reason, "shut down") {
		t.Fatalf("brief of the live call that went on through the drain: %+v", b)
	}
	up := <-uploaded
	if up.err != nil || up.code != http.StatusOK {
		t.Fatalf("the upload in progress at SIGTERM: %d %v %v", up.code, up.body, up.err)
	}
	if !up.at.After(signalled) {
		t.Fatalf("the upload was answered before the signal: the test proves nothing")
	}
	upID, _ := up.body["call_id"].(string)
	if ub := p.awaitBrief(t, ctx, upID); strings.Contains(ub.Reason, "shut down") {
		t.Fatalf("brief of the upload that finished during the drain: %+v", ub)
	}
	select {
	case <-p.exited:
		t.Fatalf("serve exited with a call still up: %v", p.err)
	default:
	}

	// The caller hangs up: nothing is left, and the node exits at once.
	stopSilence()
	<-silent
	hungUp := time.Now()
	if err := cl.Hangup(ctx, p.base); err != nil {
		t.Fatal(err)
	}
	if rc := p.wait(t, liveGuard); rc != 0 {
		t.Fatalf("serve exited %d", rc)
	}
	if !strings.Contains(p.stderr.String(), "drained: every call in progress ended") {
		t.Errorf("no drained line in the log")
	}
	if took := p.exitAt.Sub(signalled); took >= drain {
		t.Errorf("serve exited %s after SIGTERM, past its %s drain deadline with nothing left", took, drain)
	}
	t.Logf("new calls refused %s after SIGTERM; upload answered %s after it; exit %s after the last hang-up (%s after SIGTERM)",
		refused.Round(time.Millisecond), up.at.Sub(signalled).Round(time.Millisecond),
		p.exitAt.Sub(hungUp).Round(time.Millisecond), p.exitAt.Sub(signalled).Round(time.Millisecond))
}

// errorCode is the code of an error answer ({"error": {"code": ...}}).
func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// TestDrainDeadlineHangsUp: three calls are still in progress when the
// drain deadline comes: a live caller on hold after the handoff, a live
// caller who has not spoken yet, and an upload being processed. The node
// hangs both callers up and cuts the upload (503 "drained"), and exits
// 0; every brief is kept in the shared store, marked that the node shut
// down, in its group's call-back list.
func TestDrainDeadlineHangsUp(t *testing.T) {
	wavPath := filepath.Join(testenv.NeedLibrivox(t), "sense_and_sensibility_01_austen_64kb-0880.wav")
	pcm := testenv.PCM16(t, wavPath)
	// A minute of speech: its recognition (three 20 s turns) takes many
	// times the drain deadline, on any machine this runs on.
	long := pcmWAV(t, slices.Repeat(pcm, 60*16000/len(pcm)+1))
	rd := redistest.Start(t)
	// A drain much shorter than the upload's recognition: the upload is
	// certainly still in progress at the deadline. (A 6 s reading once was;
	// since recognition got faster it can finish inside the drain.)
	const drain = time.Second
	p := startProcess(t, "--set", "shutdown.drain="+drain.String(), "--set", "webrtc.turn_timeout=60s",
		"--set", "store.redis_addr="+rd.Addr, "--set", "store.secret=node-shared-store-secret", "--set", "desk.secret=node-shared-desk-secret")
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()

	held, heldID, stopHeld := callAndSpeak(t, ctx, p.liveServer, pcm)
	p.awaitBrief(t, ctx, heldID)
	quiet, quietID := dialLive(t, ctx, p.liveServer)
	sctx, stopQuiet := context.WithCancel(ctx)
	defer stopQuiet()
	go func() { _ = keepSilent(sctx, quiet) }()
	type answer struct {
		code int
		body map[string]any
		err  error
	}
	uploaded := make(chan answer, 1)
	go func() {
		code, _, body, err := p.upload(ctx, long, "%2B8613900000042")
		uploaded <- answer{code, body, err}
	}()
	p.awaitGauge(t, ctx, "callbrief_active_calls", 3)
	// Each caller hears the node hang up: their audio ends.
	ended := make(chan error, 2)
	for _, cl := range []*webrtctest.Client{held, quiet} {
		go func() { ended <- cl.Receive(ctx, func([]int16) bool { return true }) }()
	}
	signalled := p.sigterm(t)

	up := <-uploaded
	if up.err != nil || up.code != http.StatusServiceUnavailable || errorCode(up.body) != "drained" {
		t.Fatalf("upload at the drain deadline: %d %v %v, want 503 drained", up.code, up.body, up.err)
	}
	msg, _ := up.body["error"].(map[string]any)["message"].(string)
	upID := strings.Fields(strings.SplitN(msg, "call ", 2)[1])[0]
	for range 2 {
		if err := <-ended; err == nil || ctx.Err() != nil {
			t.Fatalf("a caller's audio did not end with the node: %v", err)
		}
	}
	hungUp := time.Since(signalled)
	stopHeld()
	stopQuiet()
	if rc := p.wait(t, liveGuard); rc != 0 {
		t.Fatalf("serve exited %d", rc)
	}
	if took := p.exitAt.Sub(signalled); took > drain+hangupBound {
		t.Errorf("serve exited %s after SIGTERM, past its drain deadline and the hang-up bound", took)
	}
	if !strings.Contains(p.stderr.String(), "drain deadline: hanging up") {
		t.Errorf("no drain deadline line in the log")
	}

	// The node is gone; its calls' briefs are in the shared store, marked,
	// and the calls in their groups' call-back lists.
	kv, err := storeredis.New(storeredis.Config{Addr: rd.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	q, err := redisq.New(redisq.Config{Addr: rd.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for what, id := range map[string]string{"caller on hold": heldID, "caller before the handoff": quietID, "upload": upID} {
		s, err := kv.Get(ctx, "handoff:brief:"+id)
		var b handoff.Brief
		if err != nil || json.Unmarshal([]byte(s), &b) != nil || b.CallID != id {
			t.Errorf("%s: brief of %s not kept: %v %.200s", what, id, err, s)
			continue
		}
		if !strings.Contains(b.Reason, "node shut down") || b.AbandonedAt.IsZero() {
			t.Errorf("%s: brief of %s not marked: reason %q, abandoned at %v", what, id, b.Reason, b.AbandonedAt)
		}
		e, err := q.Get(ctx, id)
		if _, cb := handoff.IsCallback(e.Group); err != nil || !cb {
			t.Errorf("%s: %s queued in %q (%v), want a call-back list", what, id, e.Group, err)
		}
	}
	t.Logf("callers hung up %s after SIGTERM (drain %s); exit %s after it", hungUp.Round(time.Millisecond), drain,
		p.exitAt.Sub(signalled).Round(time.Millisecond))
}
