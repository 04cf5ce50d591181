package speechd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callbrief/callbrief/internal/leakcheck"
	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/models"
)

// fake returns a Config that runs testdata/fake_server.py with the system
// Python, with fast back-off and health checks.
func fake(t *testing.T, env ...string) Config {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: the supervisor tests run a small Python stand-in for the speech server")
	}
	script, _ := filepath.Abs("testdata/fake_server.py")
	return Config{Python: py, Script: script, ModelDir: t.TempDir(), Env: env,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		CheckEvery: 50 * time.Millisecond, CheckFailures: 2, StopTimeout: 2 * time.Second, StartTimeout: 20 * time.Second}
}

func start(t *testing.T, cfg Config) *Supervisor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eventually polls cond until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie counts as gone).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestRestartsAfterCrashWithNewProcess(t *testing.T) {
	leakcheck.Test(t, 5*time.Second, "callbrief/asr/speechd")
	s := start(t, fake(t))
	st := s.State()
	if st.Phase != Ready || st.PID == 0 || !s.Up() {
		t.Fatalf("after Start: %+v, want ready with a pid", st)
	}
	if !strings.HasPrefix(s.BaseURL(), "http://127.0.0.1:") || !strings.HasSuffix(s.BaseURL(), "/v1") || strings.HasSuffix(s.BaseURL(), ":0/v1") {
		t.Fatalf("BaseURL %q: want a free loopback port", s.BaseURL())
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a restart", func() bool {
		n := s.State()
		return n.Phase == Ready && n.PID != st.PID && n.Restarts == 1
	})
	if alive(st.PID) {
		t.Fatalf("the crashed process %d is still there", st.PID)
	}
	n := s.State()
	if !strings.Contains(n.LastError, "exited") || n.BaseURL != st.BaseURL {
		t.Fatalf("after restart: %+v; want the crash as last error and the same URL %s", n, st.BaseURL)
	}
	s.Close()
	if s.State().Phase != Stopped || alive(n.PID) {
		t.Fatalf("after Close: %+v, process %d alive=%v", s.State(), n.PID, alive(n.PID))
	}
}

func TestGivesUpAfterRepeatedFailedStarts(t *testing.T) {
	leakcheck.Test(t, 5*time.Second, "callbrief/asr/speechd")
	count := filepath.Join(t.TempDir(), "starts")
	cfg := fake(t, "FAKE_COUNT="+count, "FAKE_EXIT_AFTER=2")
	cfg.MaxFailures = 3
	s := start(t, cfg)
	var seen []Phase
	syscall.Kill(s.State().PID, syscall.SIGTERM)
	eventually(t, "phase failed", func() bool {
		p := s.State().Phase
		if len(seen) == 0 || seen[len(seen)-1] != p {
			seen = append(seen, p)
		}
		return p == Failed
	})
	if seen[0] == Failed || !containsPhase(seen, Restarting) && len(seen) > 1 {
		t.Fatalf("phases seen %v: want restarting before failed", seen)
	}
	st := s.State()
	if !strings.Contains(st.LastError, "3 starts in a row failed") || !strings.Contains(st.LastError, "model file is corrupt") {
		t.Fatalf("LastError %q: want the count and the server's own last words", st.LastError)
	}
	b, _ := os.ReadFile(count)
	if n := strings.Count(string(b), "start"); n != 4 {
		t.Fatalf("%d starts, want 1 good + 3 failed", n)
	}
}

func containsPhase(ps []Phase, p Phase) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func TestUnhealthyServerIsReplaced(t *testing.T) {
	leakcheck.Test(t, 5*time.Second, "callbrief/asr/speechd")
	flag := filepath.Join(t.TempDir(), "unhealthy")
	s := start(t, fake(t, "FAKE_UNHEALTHY="+flag))
	pid := s.State().PID
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the unhealthy server to be killed", func() bool { return !alive(pid) })
	os.Remove(flag)
	eventually(t, "a healthy replacement", func() bool { st := s.State(); return st.Phase == Ready && st.PID != pid })
	if !strings.Contains(s.State().LastError, "health checks") {
		t.Fatalf("LastError %q: want the failed health checks", s.State().LastError)
	}
}

func TestCloseStopsTheWholeProcessGroup(t *testing.T) {
	leakcheck.Test(t, 5*time.Second, "callbrief/asr/speechd")
	childFile := filepath.Join(t.TempDir(), "child")
	cfg := fake(t, "FAKE_CHILD="+childFile, "FAKE_IGNORE_TERM=1")
	cfg.StopTimeout = 300 * time.Millisecond
	s := start(t, cfg)
	pid := s.State().PID
	var child int
	eventually(t, "the child's pid", func() bool {
		b, _ := os.ReadFile(childFile)
		child, _ = strconv.Atoi(string(b))
		return child > 0
	})
	t0 := time.Now()
	s.Close()
	if alive(pid) || alive(child) {
		t.Fatalf("after Close: server %d alive=%v, its child %d alive=%v", pid, alive(pid), child, alive(child))
	}
	if el := time.Since(t0); el < cfg.StopTimeout {
		t.Fatalf("Close took %v: a server ignoring SIGTERM must be given StopTimeout before SIGKILL", el)
	}
	s.Close() // twice is fine
}

func TestStartFailureLeavesNothingRunning(t *testing.T) {
	leakcheck.Test(t, 5*time.Second, "callbrief/asr/speechd")
	cfg := fake(t, "FAKE_EXIT_AFTER=1")
	_, err := Start(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "model file is corrupt") {
		t.Fatalf("Start: %v; want the server's error", err)
	}

	// Never healthy: Start gives up at its context's deadline and kills it.
	flag := filepath.Join(t.TempDir(), "unhealthy")
	os.WriteFile(flag, nil, 0o600)
	childFile := filepath.Join(t.TempDir(), "child")
	cfg = fake(t, "FAKE_UNHEALTHY="+flag, "FAKE_CHILD="+childFile)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = Start(ctx, cfg, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start: %v; want the deadline", err)
	}
	b, _ := os.ReadFile(childFile)
	if child, _ := strconv.Atoi(string(b)); child == 0 || alive(child) {
		t.Fatalf("the server's child %d must be gone after a failed Start", child)
	}

	if _, err := Start(context.Background(), Config{}, nil); err == nil || !strings.Contains(err.Error(), "Python") {
		t.Fatalf("empty config: %v", err)
	}
	if _, err := Start(context.Background(), Config{Python: "p", Script: "s", ModelDir: "m", Addr: "nonsense"}, nil); err == nil || !strings.Contains(err.Error(), "Addr") {
		t.Fatalf("bad Addr: %v", err)
	}
}

func TestLocateNamesWhatIsMissing(t *testing.T) {
	_, err := Locate(t.TempDir())
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "venv") {
		t.Fatalf("Locate of an empty cache: %v", err)
	}
}

// TestRealServer runs the installed Whisper server under supervision and
// transcribes a Mandarin recording through it.
func TestRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: loads the Whisper model")
	}
	leakcheck.Test(t, 5*time.Second, "callbrief/asr/speechd")
	cfg, err := Locate(models.DefaultCacheDir())
	if errors.Is(err, ErrNotInstalled) {
		t.Skipf("speech server not installed, skipping the real-server test (run speechserver/setup.sh): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	clip := filepath.Join(testenv.SharedData(t, "speech-zh"), "zh_stepeditx_fear_zh_female.wav")
	wav, err := os.ReadFile(clip)
	if err != nil {
		t.Skipf("no Mandarin clip: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "clip.wav")
	fw.Write(wav)
	mw.WriteField("model", s.Model())
	mw.WriteField("response_format", "verbose_json")
	mw.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.BaseURL()+"/audio/transcriptions", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Text                string  `json:"text"`
		Language            string  `json:"language"`
		LanguageProbability float64 `json:"language_probability"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTP %d %s: %v", resp.StatusCode, raw, err)
	}
	t.Logf("%s: %q language=%s p=%.2f", filepath.Base(clip), out.Text, out.Language, out.LanguageProbability)
	if out.Language != "chinese" || !strings.ContainsAny(out.Text, "我有人在跟着脚步声") {
		t.Fatalf("want Chinese text detected as chinese, got %s", raw)
	}
	pid := s.State().PID
	s.Close()
	if alive(pid) {
		t.Fatalf("server %d alive after Close", pid)
	}
}

// niceOf reads a process's niceness from /proc (field 19 of stat).
func niceOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatalf("stat of %d: %q: %v", pid, s, err)
	}
	return n
}

func TestNiceLowersTheWholeServerGroup(t *testing.T) {
	leakcheck.Test(t, 5*time.Second, "callbrief/asr/speechd")
	self := niceOf(t, os.Getpid())
	if self > 5 {
		t.Skipf("this test runs at nice %d already; it checks that the server goes 13 lower than its parent", self)
	}
	childFile := filepath.Join(t.TempDir(), "child")
	cfg := fake(t, "FAKE_CHILD="+childFile)
	cfg.Nice = 13
	s := start(t, cfg)
	var child int
	eventually(t, "the child's pid", func() bool {
		b, _ := os.ReadFile(childFile)
		child, _ = strconv.Atoi(string(b))
		return child > 0
	})
	want := min(19, self+13)
	if n := niceOf(t, s.State().PID); n != want {
		t.Fatalf("server nice %d, want %d (13 below this process's %d)", n, want, self)
	}
	if n := niceOf(t, child); n != want {
		t.Fatalf("the server's child nice %d, want %d (the whole group goes lower)", n, want)
	}
	if n := niceOf(t, os.Getpid()); n != self {
		t.Fatalf("the supervisor's own nice changed from %d to %d", self, n)
	}
}
