package leakcheck

import (
	"fmt"
	"testing"
	"time"
)

// recorder runs cleanups when told and keeps errors instead of failing.
type recorder struct {
	*testing.T
	cleanups []func()
	errs     []string
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func leakyWorker(started chan<- struct{}, stop <-chan struct{}) {
	started <- struct{}{}
	<-stop
}

// start runs a leakyWorker and returns once it runs.
func start(stop <-chan struct{}) {
	started := make(chan struct{})
	go leakyWorker(started, stop)
	<-started
}

// TestTest: a goroutine started during the test and still running fails
// it; one that ends in time, or existed before, does not.
func TestTest(t *testing.T) {
	old := make(chan struct{})
	defer close(old)
	start(old) // before: not counted

	r := &recorder{T: t}
	Test(r, 100*time.Millisecond, "leakcheck.leakyWorker")
	stop := make(chan struct{})
	start(stop)
	r.end()
	if len(r.errs) != 1 {
		t.Fatalf("a leaked goroutine reported %d times", len(r.errs))
	}
	close(stop)

	r = &recorder{T: t}
	Test(r, 2*time.Second, "leakcheck.leakyWorker")
	stop = make(chan struct{})
	start(stop)
	time.AfterFunc(50*time.Millisecond, func() { close(stop) })
	r.end()
	if len(r.errs) != 0 {
		t.Fatalf("a goroutine that ended was reported: %v", r.errs)
	}
}
