// Package speechd starts and supervises the local speech server
// (speechserver/server.py: Whisper base behind the OpenAI transcription
// API) so that `callbrief serve` hears Chinese with no extra process to
// run by hand. The server is a child process in its own process group on a
// loopback port; the supervisor waits for its /healthz, restarts it with
// exponential back-off when it dies or stops answering, reports its State
// for readyz, and stops it (SIGTERM, then SIGKILL of the whole group) on
// Close.
package speechd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/callbrief/callbrief/speechserver"
)

// Phase is where the server is in its life.
type Phase string

// Phases.
const (
	// Starting: the first start, not yet answering /healthz.
	Starting Phase = "starting"
	// Ready: the server answers /healthz.
	Ready Phase = "ready"
	// Restarting: the server died or stopped answering; it is waiting out
	// its back-off or starting again.
	Restarting Phase = "restarting"
	// Failed: MaxFailures starts in a row failed; the supervisor has given up.
	Failed Phase = "failed"
	// Stopped: Close was called.
	Stopped Phase = "stopped"
)

// State is a snapshot for readyz and logs.
type State struct {
	Phase    Phase     `json:"phase"`
	BaseURL  string    `json:"base_url"`
	PID      int       `json:"pid,omitempty"`
	Restarts int       `json:"restarts"`
	Since    time.Time `json:"since"`
	// LastError is why the server last died or failed to start, with the
	// last lines it wrote to stderr; empty when it never failed.
	LastError string `json:"last_error,omitempty"`
}

// ErrNotInstalled is returned by Locate when the venv or the model is absent.
var ErrNotInstalled = errors.New("speechd: speech server not installed (run speechserver/setup.sh; scripts/setup.sh does)")

// Config says what to run and how to supervise it.
type Config struct {
	// Python is the venv's interpreter; Script the server program;
	// ModelDir the CTranslate2 Whisper folder.
	Python, Script, ModelDir string
	// Addr is host:port on loopback; port 0 (or empty Addr) picks a free
	// port once, kept across restarts so the clients' base URL holds.
	Addr string
	// Threads are the decoder's CPU threads (0: the server's default).
	Threads int
	// Nice is how much lower than this process's the server's CPU
	// priority is (0: the same; the result is capped at 19).
	Nice int
	// Model is the id the server reports (the clients' "model" field).
	Model string
	// Args are passed to the server after the ones above.
	Args []string
	// Env is appended to this process's environment for the server.
	Env []string

	// MinBackoff and MaxBackoff bound the wait before a restart (doubled
	// after each failure in a row). Defaults 500 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// StartTimeout bounds each restart's wait for /healthz (the first
	// start is bounded by Start's context). Default 2 minutes: loading the
	// model on a busy machine can take tens of seconds.
	StartTimeout time.Duration
	// CheckEvery is the health check period while ready; after
	// CheckFailures failures in a row the server is killed and restarted.
	// Defaults 5 s and 3.
	CheckEvery    time.Duration
	CheckFailures int
	// StopTimeout is how long Close waits after SIGTERM before SIGKILL.
	// Default 5 s.
	StopTimeout time.Duration
	// MaxFailures is how many failed starts in a row end supervision
	// (phase Failed). 0 means 10.
	MaxFailures int
}

func (c Config) withDefaults() Config {
	if c.MinBackoff <= 0 {
		c.MinBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(30*time.Second, c.MinBackoff)
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 2 * time.Minute
	}
	if c.CheckEvery <= 0 {
		c.CheckEvery = 5 * time.Second
	}
	if c.CheckFailures <= 0 {
		c.CheckFailures = 3
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 5 * time.Second
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 10
	}
	if c.Model == "" {
		c.Model = "whisper-base"
	}
	return c
}

// Locate finds the installed server under the model cache cacheDir:
// <cache>/speechserver/venv/bin/python and <cache>/whisper-base (what
// speechserver/setup.sh installs). The program embedded in this binary is
// written to <cache>/speechserver/server.py (rewritten when it differs),
// so the binary runs the server it was built with from any directory.
// ErrNotInstalled names what is missing.
func Locate(cacheDir string) (Config, error) {
	c := Config{
		Python:   filepath.Join(cacheDir, "speechserver", "venv", "bin", "python"),
		ModelDir: filepath.Join(cacheDir, "whisper-base"),
		Script:   filepath.Join(cacheDir, "speechserver", "server.py"),
	}
	if _, err := os.Stat(c.Python); err != nil {
		return c, fmt.Errorf("%w: no %s", ErrNotInstalled, c.Python)
	}
	for _, f := range []string{"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} {
		if _, err := os.Stat(filepath.Join(c.ModelDir, f)); err != nil {
			return c, fmt.Errorf("%w: no %s", ErrNotInstalled, filepath.Join(c.ModelDir, f))
		}
	}
	if err := writeIfChanged(c.Script, speechserver.Program); err != nil {
		return c, fmt.Errorf("speechd: writing the server program: %w", err)
	}
	return c, nil
}

// writeIfChanged writes data to path through a temporary file and a
// rename, so that a server starting meanwhile never reads half a program.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".server-*.py")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Supervisor owns one speech server process at a time.
type Supervisor struct {
	cfg    Config
	log    *slog.Logger
	addr   string
	health *http.Client

	mu    sync.Mutex
	state State
	proc  *proc // the running process, nil between runs

	stop context.CancelFunc
	done chan struct{} // closed when the supervision loop has ended
}

// proc is one run of the server.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once Wait returned and the pipes are drained
	err    error         // Wait's error, set before exited closes
	tail   *tail
}

// Start launches the server and waits until it answers /healthz or ctx is
// done (ctx's deadline bounds the first start); the supervisor then keeps
// it running until Close. On error nothing is left running.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Supervisor, error) {
	cfg = cfg.withDefaults()
	if cfg.Python == "" || cfg.Script == "" || cfg.ModelDir == "" {
		return nil, errors.New("speechd: Config needs Python, Script and ModelDir (see Locate)")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addr, err := pickAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Supervisor{
		cfg: cfg, log: log.With("component", "speechserver"), addr: addr,
		health: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		done:   make(chan struct{}),
		state:  State{Phase: Starting, BaseURL: "http://" + addr + "/v1", Since: time.Now()},
	}
	p, err := s.launch()
	if err == nil {
		err = s.waitHealthy(ctx, p)
	}
	if err != nil {
		if p != nil {
			s.kill(p)
		}
		return nil, fmt.Errorf("speechd: starting the speech server: %w", err)
	}
	s.setReady(p)
	loopCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.loop(loopCtx, p)
	return s, nil
}

// pickAddr resolves port 0 to a free loopback port. The port is probed
// by listening and closing: another process could take it before the
// server binds, in which case that start fails and the restart tries
// again on the same port (the clients' URL must not change).
func pickAddr(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("speechd: Addr %q is not host:port: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("speechd: finding a free port on %s: %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// BaseURL is the API root for asr/openai: http://host:port/v1.
func (s *Supervisor) BaseURL() string { return "http://" + s.addr + "/v1" }

// Model is the model id to send.
func (s *Supervisor) Model() string { return s.cfg.Model }

// State returns a snapshot.
func (s *Supervisor) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Up reports whether the server is ready for requests.
func (s *Supervisor) Up() bool { return s.State().Phase == Ready }

func (s *Supervisor) launch() (*proc, error) {
	args := []string{s.cfg.Script, "--model", s.cfg.ModelDir, "--addr", s.addr, "--model-name", s.cfg.Model,
		// Let in-flight decodes finish within our own stop timeout.
		"--drain", strconv.FormatFloat(max(0.5, s.cfg.StopTimeout.Seconds()-1), 'f', 1, 64)}
	if s.cfg.Threads > 0 {
		args = append(args, "--threads", strconv.Itoa(s.cfg.Threads))
	}
	args = append(args, s.cfg.Args...)
	cmd := exec.Command(s.cfg.Python, args...)
	cmd.Env = append(os.Environ(), s.cfg.Env...)
	// Its own process group, so that stopping it reaches anything it
	// forks; Pdeathsig stops it if callbrief dies without Close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", s.cfg.Python, err)
	}
	if s.cfg.Nice > 0 {
		// Relative to this process (which may run niced itself), for the
		// whole group (it has its own, pgid = pid) and every thread in it
		// now; threads it starts later inherit the value. Lowering priority
		// needs no privilege; a failure only leaves it at ours.
		own := 0
		if p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0); err == nil {
			own = 20 - p // the raw system call answers 20 - nice
		}
		if err := syscall.Setpriority(syscall.PRIO_PGRP, cmd.Process.Pid, min(19, own+s.cfg.Nice)); err != nil {
			s.log.Warn("speech server: could not lower its CPU priority", "nice", s.cfg.Nice, "err", err)
		}
	}
	p := &proc{cmd: cmd, exited: make(chan struct{}), tail: &tail{max: 8}}
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); s.pump(stdout, p.tail, slog.LevelDebug) }()
	// One stderr line per request (audio length, decode time, language):
	// debug; what it said before dying is in State().LastError.
	go func() { defer pipes.Done(); s.pump(stderr, p.tail, slog.LevelDebug) }()
	go func() {
		pipes.Wait() // Wait must not close the pipes before they are read to the end
		p.err = cmd.Wait()
		close(p.exited)
	}()
	s.log.Info("speech server started", "pid", cmd.Process.Pid, "addr", s.addr, "model", s.cfg.ModelDir)
	return p, nil
}

// pump logs the server's output line by line and keeps the last lines
// for the error of a failed start.
func (s *Supervisor) pump(r io.Reader, t *tail, level slog.Level) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, `"GET /healthz" 200`) {
			continue // our own checks, every CheckEvery: noise in logs and in the tail
		}
		t.add(line)
		s.log.Log(context.Background(), level, "speech server", "line", line)
	}
	_, _ = io.Copy(io.Discard, r) // a line too long: keep draining so the server never blocks
}

// waitHealthy polls /healthz until it answers 200, the process exits, or
// ctx is done.
func (s *Supervisor) waitHealthy(ctx context.Context, p *proc) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.healthy(ctx) {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited before answering /healthz (%v)%s", p.err, p.tail.String())
		case <-ctx.Done():
			return fmt.Errorf("not answering /healthz: %w%s", context.Cause(ctx), p.tail.String())
		case <-tick.C:
		}
	}
}

func (s *Supervisor) healthy(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := s.health.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (s *Supervisor) setReady(p *proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proc = p
	s.state.Phase, s.state.PID, s.state.Since = Ready, p.cmd.Process.Pid, time.Now()
}

func (s *Supervisor) setPhase(ph Phase, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.Phase, s.state.Since, s.state.PID = ph, time.Now(), 0
	if err != nil {
		s.state.LastError = err.Error()
	}
}

// loop watches the running process and restarts it until ctx ends.
func (s *Supervisor) loop(ctx context.Context, p *proc) {
	defer close(s.done)
	failures := 0 // failed starts in a row
	for {
		err := s.watch(ctx, p)
		if ctx.Err() != nil {
			s.kill(p)
			return
		}
		s.kill(p) // it may be alive but not answering
		s.mu.Lock()
		s.proc = nil
		s.state.Restarts++
		s.mu.Unlock()
		s.log.Warn("speech server down, restarting", "err", err)
		s.setPhase(Restarting, err)
		for {
			delay := s.cfg.MinBackoff << min(failures, 16)
			delay = min(delay, s.cfg.MaxBackoff)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			np, err := s.launch()
			if err == nil {
				sctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
				err = s.waitHealthy(sctx, np)
				cancel()
				if err != nil {
					s.kill(np)
				}
			}
			if ctx.Err() != nil {
				if err == nil {
					s.kill(np)
				}
				return
			}
			if err == nil {
				p, failures = np, 0
				s.setReady(p)
				s.log.Info("speech server ready again", "pid", p.cmd.Process.Pid)
				break
			}
			failures++
			s.log.Warn("speech server restart failed", "failures", failures, "err", err)
			if failures >= s.cfg.MaxFailures {
				s.setPhase(Failed, fmt.Errorf("%d starts in a row failed; last: %w", failures, err))
				s.log.Error("speech server failed: giving up; streams use the fallback engine", "err", err)
				return
			}
			s.setPhase(Restarting, err)
		}
	}
}

// watch returns when p exits, stops answering health checks, or ctx ends.
func (s *Supervisor) watch(ctx context.Context, p *proc) error {
	t := time.NewTicker(s.cfg.CheckEvery)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.exited:
			return fmt.Errorf("exited: %v%s", p.err, p.tail.String())
		case <-t.C:
			if s.healthy(ctx) {
				missed = 0
				continue
			}
			if missed++; missed >= s.cfg.CheckFailures {
				return fmt.Errorf("no answer to %d health checks in a row", missed)
			}
		}
	}
}

// kill stops p's process group: SIGTERM, then SIGKILL after StopTimeout.
// It returns once the process has been reaped.
func (s *Supervisor) kill(p *proc) {
	select {
	case <-p.exited:
		// The leader is gone; anything it forked into the group goes too.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		return
	default:
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(s.cfg.StopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		s.log.Warn("speech server did not stop after SIGTERM: killing it", "pid", pgid, "after", s.cfg.StopTimeout)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.exited
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // stragglers of the group, if any
}

// Close stops supervision and the server. It returns once the process
// and every goroutine of the supervisor have ended.
func (s *Supervisor) Close() error {
	s.mu.Lock()
	if s.state.Phase == Stopped {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	s.stop()
	<-s.done
	s.health.CloseIdleConnections()
	s.setPhase(Stopped, nil)
	s.log.Info("speech server stopped")
	return nil
}

// tail keeps the last max lines written.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *tail) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, l)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

// String is the last lines, prefixed for an error message ("" if none).
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return ""
	}
	return "; last output: " + strings.Join(t.lines, " | ")
}
