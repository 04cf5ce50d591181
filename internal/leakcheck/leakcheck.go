// Package leakcheck fails a test binary that leaves goroutines running
// code it should have stopped: streams, clients and servers that own
// goroutines must end them on Close or on their context.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests and then, if they passed, waits up to 5 s for every
// goroutine whose stack mentions one of patterns (package paths such as
// "callbrief/store" or "go-redis") to end; the binary fails if any remain.
// Use it as the body of TestMain.
func Main(m *testing.M, patterns ...string) {
	code := m.Run()
	if code == 0 {
		if leaked := Wait(5*time.Second, patterns...); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked after all tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// Wait returns "" once no goroutine other than the caller runs code
// matching patterns, or the stacks of those still running at the deadline.
func Wait(within time.Duration, patterns ...string) string {
	return waitFor(within, func(i int, g string) bool { return i > 0 && matches(g, patterns) })
}

// Test fails t if goroutines started during it that run code matching
// patterns are still running when it has cleaned up (polled for up to
// within: goroutines take a moment to unwind after a Close that signals
// rather than waits). Goroutines of running tests are not counted. Call it
// first in the test, so that its cleanup runs after the test's others.
func Test(t testing.TB, within time.Duration, patterns ...string) {
	t.Helper()
	before := map[string]bool{}
	for _, g := range stacks() {
		before[id(g)] = true
	}
	t.Cleanup(func() {
		leaked := waitFor(within, func(_ int, g string) bool {
			return !before[id(g)] && !strings.Contains(g, "testing.tRunner") && matches(g, patterns)
		})
		if leaked != "" {
			t.Errorf("goroutines leaked:\n%s", leaked)
		}
	})
}

// waitFor polls until no goroutine is leaked(i, stack), or returns the
// stacks of those still running at the deadline.
func waitFor(within time.Duration, leaked func(i int, stack string) bool) string {
	deadline := time.Now().Add(within)
	for {
		var out []string
		for i, g := range stacks() {
			if leaked(i, g) {
				out = append(out, g)
			}
		}
		if len(out) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(out, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func matches(stack string, patterns []string) bool {
	for _, p := range patterns {
		if strings.Contains(stack, p) {
			return true
		}
	}
	return false
}

// id is a goroutine's number, from its stack's first line.
func id(stack string) string { return strings.SplitN(stack, " ", 3)[1] }

// stacks are every goroutine's stack, the caller's first.
func stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}
