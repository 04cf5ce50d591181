package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Sentinel is one redis-sentinel process monitoring a primary.
type Sentinel struct {
	Addr string
	Dir  string
	cmd  *exec.Cmd
	wait chan error
}

// StartSentinel starts a sentinel (Debian redis-sentinel) that monitors
// primary under the name master, with a quorum of one and a short
// down-after so that a test sees a failover within seconds. It is killed
// when the test ends.
func StartSentinel(t testing.TB, master string, primary *Server) *Sentinel {
	t.Helper()
	bin, err := exec.LookPath("redis-sentinel")
	if err != nil {
		t.Fatalf("redis-sentinel not installed: run make setup-test (Debian package redis-sentinel): %v", err)
	}
	s := &Sentinel{Dir: t.TempDir()}
	port := freePort(t)
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	host, pport, _ := net.SplitHostPort(primary.Addr)
	// The sentinel rewrites its configuration file as it learns the
	// group, so the file must be its own and writable.
	conf := fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %s
logfile %s
sentinel monitor %s %s %s 1
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 5000
sentinel parallel-syncs %s 1
`, port, s.Dir, filepath.Join(s.Dir, "sentinel.log"), master, host, pport, master, master, master)
	path := filepath.Join(s.Dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, path)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("redistest: start redis-sentinel: %v", err)
	}
	s.wait = make(chan error, 1)
	go func(c *exec.Cmd, done chan<- error) { done <- c.Wait() }(s.cmd, s.wait)
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.wait
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(s.Addr); err == nil {
			return s
		} else if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "sentinel.log"))
			t.Fatalf("redistest: redis-sentinel on %s did not answer PING within 10s: %v\n%s", s.Addr, err, log)
		}
		select {
		case err := <-s.wait:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "sentinel.log"))
			t.Fatalf("redistest: redis-sentinel exited at start: %v\n%s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Log is what the sentinel logged, for a failing test.
func (s *Sentinel) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "sentinel.log"))
	return string(b)
}
