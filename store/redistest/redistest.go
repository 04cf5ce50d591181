// Package redistest runs a real redis-server for tests: on a free loopback
// port, in a temporary folder, with the persistence settings production
// uses (append-only file, fsync on every write), killed when the test ends.
// A missing redis-server fails the test rather than skipping it: a test
// suite that silently skips its Redis half proves nothing.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is one redis-server process. Restart and Kill keep the port and
// the folder, so data written with fsync must survive them.
type Server struct {
	Addr string
	Dir  string
	port int
	bin  string
	opts Options
	cmd  *exec.Cmd
	wait chan error
}

// Options change how a server runs.
type Options struct {
	// NoAppendOnly runs without the append-only file (appendonly no), the
	// setting that loses every write on a crash.
	NoAppendOnly bool
	// ReplicaOf makes the server a replica of that host:port.
	ReplicaOf string
}

// Binary returns the redis-server path or fails t with the setup command.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not installed: run make setup-test (Debian package redis-server): %v", err)
	}
	return bin
}

// Start starts a server and registers its shutdown with t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith starts a server with opts.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{bin: Binary(t), Dir: t.TempDir(), port: freePort(t), opts: opts}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.start(t)
	t.Cleanup(func() { s.stop(os.Kill) })
	return s
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	aof := "yes"
	if s.opts.NoAppendOnly {
		aof = "no"
	}
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.Dir,
		"--save", "",
		"--appendonly", aof,
		"--appendfsync", "always",
		"--daemonize", "no",
		"--logfile", filepath.Join(s.Dir, "redis.log"),
	}
	if s.opts.ReplicaOf != "" {
		h, p, _ := net.SplitHostPort(s.opts.ReplicaOf)
		args = append(args, "--replicaof", h, p)
	}
	s.cmd = exec.Command(s.bin, args...)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.wait = make(chan error, 1)
	go func(c *exec.Cmd, done chan<- error) { done <- c.Wait() }(s.cmd, s.wait)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(s.Addr); err == nil {
			return
		} else if time.Now().After(deadline) {
			s.stop(os.Kill)
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			t.Fatalf("redistest: redis-server on %s did not answer PING within 10s: %v\n%s", s.Addr, err, log)
		}
		select {
		case err := <-s.wait:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			t.Fatalf("redistest: redis-server exited at start: %v\n%s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop signals the process and waits for it to exit.
func (s *Server) stop(sig os.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.wait:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.wait
	}
	s.cmd = nil
}

// Kill stops the server abruptly (SIGKILL), as a crash or power loss of
// the process would: nothing is flushed on the way out.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.stop(os.Kill)
}

// Resume starts a server stopped by Kill again, on the same port and
// folder.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	if s.cmd != nil {
		t.Fatalf("redistest: server on %s is running", s.Addr)
	}
	s.start(t)
}

// Restart kills the server and starts a new one on the same port and
// folder; it returns when the new one answers PING (the append-only file
// has been loaded by then).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop(os.Kill)
	s.start(t)
}

// ping speaks just enough RESP to check the server is up and has finished
// loading its data (a loading server answers -LOADING).
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", strings.TrimSpace(line))
	}
	return nil
}
