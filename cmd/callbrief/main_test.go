package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
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

// TestServe starts the real service on embedded defaults, checks health,
// readiness, metrics and a transcription of a real recording, then shuts
// it down through its context as a signal would.
func TestServe(t *testing.T) {
	lib := testenv.NeedLibrivox(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--set", "log.level=warn"}, &stdout, &stderr)
	}()
	base := "http://" + addr
	var err error
	for i := 0; i < 200; i++ {
		var resp *http.Response
		if resp, err = http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
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
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"vad":"silero-v5"`) || !strings.Contains(body, `"asr":"sphinx"`) {
		t.Errorf("readyz %d %s", code, body)
	}
	wav, err := os.ReadFile(filepath.Join(lib, "sense_and_sensibility_01_austen_64kb-0880.wav"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/v1/transcribe", "audio/wav", bytes.NewReader(wav))
	if err != nil {
		t.Fatal(err)
	}
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
		resp, err := http.Post(base+"/v1/transcribe", "audio/wav", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(msg), `"code":"bad_audio"`) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, msg)
		}
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `callbrief_stage_operations_total{engine="sphinx",stage="listen"} 1`) {
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
	if !s.Final || s.End <= s.Start || !strings.Contains(s.Text, "he might even have been made") {
		t.Fatalf("segment %+v", s)
	}
}
