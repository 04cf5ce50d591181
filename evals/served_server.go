package evals

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrServed wraps failures of the served evaluation: the service would
// not start, or a call could not be placed.
var ErrServed = errors.New("evals: served")

// servedProcess is one `callbrief serve` started from its binary, as
// `make run` starts it, on a free loopback port.
type servedProcess struct {
	cmd    *exec.Cmd
	base   string
	exited chan struct{}
	err    error // the process's exit, once exited is closed
	tail   *tailBuffer
	client *http.Client
	apiKey string
	// DevKey says the API key is the development one serve printed.
	DevKey bool
	mu     sync.Mutex
	devKey string
	// Ready is what /readyz said (engines in use).
	Ready map[string]any
}

// listeningRe is the line serve prints once its listener is open.
var listeningRe = regexp.MustCompile(`listening on (http://\S+)`)

// devKeyRe is the development API key serve prints on its standard output
// when no key is configured, as a `make run` user reads it.
var devKeyRe = regexp.MustCompile(`development API key .*Authorization: Bearer (\S+)`)

// startServed starts the binary with serve, reads the listening address
// from its standard output and polls /readyz until it answers 200, the
// process exits, or readyTimeout passes.
func startServed(ctx context.Context, binary string, sets []string, apiKey string, log io.Writer, readyTimeout time.Duration) (*servedProcess, error) {
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("%w: binary %s: %w (build it with `make build`)", ErrServed, binary, err)
	}
	args := []string{"serve", "--addr", "127.0.0.1:0"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	p := &servedProcess{exited: make(chan struct{}), tail: &tailBuffer{max: 8 << 10}, apiKey: apiKey,
		client: &http.Client{Timeout: 5 * time.Minute}}
	// Not CommandContext: the service is stopped with SIGTERM, as an
	// operator stops it, so that it drains and exits cleanly.
	p.cmd = exec.Command(binary, args...)
	if log == nil {
		log = io.Discard
	}
	p.cmd.Stderr = io.MultiWriter(log, p.tail)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrServed, err)
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: starting %s: %w", ErrServed, binary, err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if m := devKeyRe.FindStringSubmatch(sc.Text()); m != nil {
				p.mu.Lock()
				p.devKey = m[1]
				p.mu.Unlock()
			}
			if m := listeningRe.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		// Drained to EOF so the process never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	select {
	case p.base = <-addr:
	case <-p.exited:
		return nil, fmt.Errorf("%w: serve exited before listening (%v): %s", ErrServed, p.err, p.tail.String())
	case <-rctx.Done():
		p.stop()
		return nil, fmt.Errorf("%w: serve did not print its address within %s: %w: %s", ErrServed, readyTimeout, rctx.Err(), p.tail.String())
	}
	if err := p.awaitReady(rctx); err != nil {
		p.stop()
		return nil, err
	}
	if p.apiKey == "" {
		// No key given: the one serve made for development, printed
		// before it listened.
		p.mu.Lock()
		p.apiKey, p.DevKey = p.devKey, p.devKey != ""
		p.mu.Unlock()
	}
	return p, nil
}

// awaitReady polls /readyz until it answers 200.
func (p *servedProcess) awaitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		var ready map[string]any
		code, err := p.getJSON(ctx, "/readyz", "", &ready)
		if err == nil && code == http.StatusOK {
			p.Ready = ready
			return nil
		}
		if err == nil {
			err = fmt.Errorf("readyz answered %d", code)
		}
		last = err
		select {
		case <-p.exited:
			return fmt.Errorf("%w: serve exited before it was ready (%v): %s", ErrServed, p.err, p.tail.String())
		case <-ctx.Done():
			return fmt.Errorf("%w: serve not ready: %w (last: %v): %s", ErrServed, ctx.Err(), last, p.tail.String())
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits for the exit; a service that does not
// drain within 30 s is killed.
func (p *servedProcess) stop() error {
	if p == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%w: serve did not stop within 30 s of SIGTERM; killed", ErrServed)
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		return fmt.Errorf("%w: serve: %w", ErrServed, p.err)
	}
	if p.err != nil {
		return fmt.Errorf("%w: serve exited with %v: %s", ErrServed, p.err, p.tail.String())
	}
	return nil
}

// request sends one request with token, when given, as its bearer token:
// the API key on the call endpoints, an agent's access token on the desk.
func (p *servedProcess) request(ctx context.Context, method, path, token, ctype string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, body)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return p.client.Do(req)
}

// getJSON GETs path and decodes a 2xx JSON answer into out.
func (p *servedProcess) getJSON(ctx context.Context, path, token string, out any) (int, error) {
	resp, err := p.request(ctx, http.MethodGet, path, token, "", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 == 2 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

// login signs a desk agent in and returns the access token.
func (p *servedProcess) login(ctx context.Context, agent, token string) (string, error) {
	b, _ := json.Marshal(map[string]string{"agent": agent, "token": token})
	resp, err := p.request(ctx, http.MethodPost, "/desk/api/login", "", "application/json", strings.NewReader(string(b)))
	if err != nil {
		return "", fmt.Errorf("%w: desk login: %w", ErrServed, err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		return "", fmt.Errorf("%w: desk login as %s: %s", ErrServed, agent, resp.Status)
	}
	return out.AccessToken, nil
}

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
