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
	deadline := time.Now().Add(within)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for i, g := range strings.Split(string(buf), "\n\n") {
			if i == 0 { // the calling goroutine
				continue
			}
			for _, p := range patterns {
				if strings.Contains(g, p) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
