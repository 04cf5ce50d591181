package redisq_test

import (
	"fmt"
	"testing"

	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/handoff/queue/queuetest"
	"github.com/callbrief/callbrief/handoff/queue/redisq"
	"github.com/callbrief/callbrief/store/redistest"
)

// TestRedis runs the suite, including many goroutines claiming at once,
// against a real redis-server.
func TestRedis(t *testing.T) {
	srv := redistest.Start(t)
	n := 0
	queuetest.Run(t, func(t *testing.T) queue.Store {
		n++
		s, err := redisq.New(redisq.Config{Addr: srv.Addr, Prefix: fmt.Sprintf("t%d:{handoff}:", n)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
