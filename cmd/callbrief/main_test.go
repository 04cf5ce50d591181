package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/internal/testenv"
)

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testAPIKey is the key tests give serve (api.key) for /v1/calls and
// /v1/transcribe.
const testAPIKey = "test-api-key-0123456789abcdef"

// post sends body to url with the test API key.
func post(t *testing.T, url string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "audio/wav")
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestServe starts the real service on embedded defaults, checks health,
// readiness, metrics and a transcription of a real recording, then shuts
// it down through its context as a signal would.
func TestServe(t *testing.T) {
	lib := testenv.NeedLibrivox(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	// The server writes its output while the test reads it: a locked
	// buffer, never a bare bytes.Buffer.
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--set", "log.level=warn", "--set", "api.key=" + testAPIKey}, stdout, stderr)
	}()
	base := "http://" + addr
	// Ready when /readyz answers 200, however long loading the models
	// takes on a busy machine; the test's own deadline bounds the wait.
	if err := awaitReady(t, base, done); err != nil {
		cancel()
		t.Fatalf("serve did not come up: %v\n%s", err, stderr.String())
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// By default the local speech server hears every caller when it is
	// installed, pocketsphinx alone otherwise.
	code, body := get("/readyz")
	var ready struct {
		ASR        string `json:"asr"`
		Recognizer struct {
			SpeechServer *struct {
				Phase string `json:"phase"`
			} `json:"speechserver"`
		} `json:"recognizer"`
	}
	json.Unmarshal([]byte(body), &ready)
	if code != 200 || !strings.Contains(body, `"vad":"silero-v5"`) ||
		!(ready.ASR == "sphinx" || ready.ASR == "openai:whisper-base+fallback:sphinx" && ready.Recognizer.SpeechServer != nil && ready.Recognizer.SpeechServer.Phase == "ready") {
		t.Errorf("readyz %d %s", code, body)
	}
	wav, err := os.ReadFile(filepath.Join(lib, "sense_and_sensibility_01_austen_64kb-0880.wav"))
	if err != nil {
		t.Fatal(err)
	}
	// Operator endpoints: anonymous or a wrong key gets 401 and a body
	// that says only that; the development code page does not exist
	// without dev.otp_page.
	for _, path := range []string{"/v1/transcribe", "/v1/calls?caller=%2B8613812345678"} {
		for _, auth := range []string{"", "Bearer wrong-key-0123456789abcdefgh", "Basic " + testAPIKey} {
			req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(wav))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(msg), `"code":"unauthorized"`) ||
				strings.Contains(string(msg), "young man") || strings.Contains(string(msg), "brief") {
				t.Errorf("%s with %q: %d %s; want 401 and nothing else", path, auth, resp.StatusCode, msg)
			}
		}
	}
	if code, _ := get("/v1/otp/recent"); code != http.StatusNotFound {
		t.Errorf("/v1/otp/recent without dev.otp_page: %d, want 404", code)
	}
	if !strings.Contains(stdout.String(), "development SMS gateway") {
		t.Errorf("the development SMS gateway was not announced: %s", stdout.String())
	}
	resp := post(t, base+"/v1/transcribe", wav)
	var out struct {
		Text string `json:"text"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(out.Text, "young man") {
		t.Errorf("transcribe: %d %q", resp.StatusCode, out.Text)
	}
	// Bad input gets a clear error with a status that says whose fault it is.
	for name, body := range map[string][]byte{
		"garbage":   []byte("this is not audio"),
		"truncated": wav[:30],
		"empty":     nil,
		"8 channels": func() []byte {
			b := append([]byte(nil), wav[:44]...)
			binary.LittleEndian.PutUint16(b[22:], 8)
			return append(b, make([]byte, 1600)...)
		}(),
	} {
		resp := post(t, base+"/v1/transcribe", body)
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(msg), `"code":"bad_audio"`) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, msg)
		}
	}
	// A recorded call runs through every stage and lands on the desk.
	resp = post(t, base+"/v1/calls?caller=%2B8613812345678&answers=951602%23", wav)
	var res struct {
		CallID string `json:"call_id"`
		Brief  struct {
			Route struct {
				Group string `json:"group"`
			} `json:"route"`
			Transcript struct {
				Segments []any `json:"segments"`
			} `json:"transcript"`
		} `json:"brief"`
	}
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != 200 || res.CallID == "" || res.Brief.Route.Group == "" || len(res.Brief.Transcript.Segments) == 0 {
		t.Errorf("call upload: %d %+v", resp.StatusCode, res)
	}
	if code, body := get("/desk/"); code != 200 || !strings.Contains(body, "<html") {
		t.Errorf("desk page: %d", code)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `callbrief_stage_operations_total{engine="`+ready.ASR+`",stage="listen"} 1`) {
		t.Errorf("metrics %d: listen stage not counted", code)
	}
	cancel()
	select {
	case rc := <-done:
		if rc != 0 {
			t.Fatalf("serve exited %d: %s", rc, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

// awaitReady polls base's /readyz until it answers 200, the server exits
// (its code arrives on done, and is put back) or the test's deadline is
// near.
func awaitReady(t *testing.T, base string, done chan int) error {
	t.Helper()
	deadline, ok := t.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Minute)
	}
	// Leave time before the deadline to report and shut down.
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-30*time.Second))
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz: %s", resp.Status)
		}
		last = err
		select {
		case rc := <-done:
			done <- rc
			return fmt.Errorf("serve exited %d before it was ready (last: %v)", rc, last)
		case <-ctx.Done():
			return fmt.Errorf("not ready before the test's deadline: %w (last: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func TestCLIErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.wav")
	os.WriteFile(garbage, []byte("RIFF\x00\x00\x00\x00WAVEnope"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"nope"}, 2, "unknown command"},
		{[]string{"transcribe"}, 2, "FILE.wav"},
		{[]string{"transcribe", filepath.Join(dir, "missing.wav")}, 1, "no such file"},
		{[]string{"transcribe", garbage}, 1, "garbage.wav"},
		{[]string{"transcribe", "--set", "asr.engine=kaldi", garbage}, 1, "asr.engine"},
		{[]string{"eval", "asr"}, 2, "--data"},
		{[]string{"eval", "asr", "--data", dir}, 1, "transcripts.tsv"},
		// Shared state needs shared secrets: serve refuses to start and
		// names the key, rather than make up a secret per node.
		{[]string{"serve", "--set", "store.redis_addr=127.0.0.1:1"}, 1, "store.secret"},
		{[]string{"serve", "--set", "store.redis_addr=127.0.0.1:1", "--set", "store.secret=0123456789abcdef"}, 1, "desk.secret"},
		{[]string{"serve", "--set", "store.redis_addr=127.0.0.1:1", "--set", "store.secret=0123456789abcdef", "--set", "desk.secret=0123456789abcdef",
			"--set", "api.key=" + testAPIKey, "--set", "dev.otp_page=true"}, 1, "dev.otp_page"},
	} {
		var out, errb bytes.Buffer
		code := run(ctx, tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}

func TestTranscribeCommand(t *testing.T) {
	lib := testenv.NeedLibrivox(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"transcribe", "--json", filepath.Join(lib, "sense_and_sensibility_01_austen_64kb-0930.wav")}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var tr struct {
		Segments []struct {
			Text  string `json:"text"`
			Start int64  `json:"start"`
			End   int64  `json:"end"`
			Final bool   `json:"final"`
		} `json:"segments"`
	}
	if err := json.Unmarshal(out.Bytes(), &tr); err != nil || len(tr.Segments) == 0 {
		t.Fatalf("bad JSON %v: %s", err, out.String())
	}
	s := tr.Segments[0]
	// Whisper (the default when the speech server is installed) writes
	// sentence case, pocketsphinx lower case.
	if !s.Final || s.End <= s.Start || !strings.Contains(strings.ToLower(s.Text), "he might even have been made") {
		t.Fatalf("segment %+v", s)
	}
}

func TestCallCommand(t *testing.T) {
	lib := testenv.NeedLibrivox(t)
	dir := t.TempDir()
	sc := filepath.Join(dir, "scenario.yaml")
	os.WriteFile(sc, []byte("caller: \"+8613812345678\"\nanswers:\n  - dtmf: \"951602#\"\n"), 0o644)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"call", "--json", "--scenario", sc, "--set", "log.level=warn",
		filepath.Join(lib, "sense_and_sensibility_01_austen_64kb-0880.wav")}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res struct {
		Brief struct {
			Verification struct {
				Status string `json:"status"`
			} `json:"verification"`
			Transcript struct {
				Segments []struct {
					Text string `json:"text"`
				} `json:"segments"`
			} `json:"transcript"`
			Summary struct {
				Text string `json:"text"`
			} `json:"summary"`
		} `json:"brief"`
		Transitions []struct {
			State string `json:"state"`
		} `json:"transitions"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	b := res.Brief
	if len(b.Transcript.Segments) == 0 || !strings.Contains(b.Transcript.Segments[0].Text, "young man") || b.Summary.Text == "" || b.Verification.Status == "" {
		t.Fatalf("brief %+v", b)
	}
	if len(res.Transitions) < 3 {
		t.Fatalf("transitions %+v", res.Transitions)
	}
	// The readable view names the route and the summary.
	out.Reset()
	if code := run(context.Background(), []string{"call", "--caller", "13812345678", "--set", "log.level=warn",
		filepath.Join(lib, "sense_and_sensibility_01_austen_64kb-0880.wav")}, &out, &errb); code != 0 || !strings.Contains(out.String(), "Route:") {
		t.Fatalf("exit %d: %s", code, out.String())
	}
}

// TestInternalErrorsSayNothingInside: an unexpected failure's body names
// no address or engine; the log has the details.
func TestInternalErrorsSayNothingInside(t *testing.T) {
	rec := httptest.NewRecorder()
	httpError(rec, http.StatusInternalServerError, "internal", `openai asr: Post "http://127.0.0.1:37485/v1/audio/transcriptions": context deadline exceeded`)
	if body := rec.Body.String(); rec.Code != 500 || strings.Contains(body, "127.0.0.1") || strings.Contains(body, "openai") {
		t.Fatalf("%d %s", rec.Code, body)
	}
	rec = httptest.NewRecorder()
	httpError(rec, http.StatusUnprocessableEntity, "bad_audio", "media: not a WAV file")
	if !strings.Contains(rec.Body.String(), "not a WAV file") {
		t.Fatalf("a client's own mistake should be named: %s", rec.Body.String())
	}
}
