package queue_test

import (
	"testing"

	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/handoff/queue/queuetest"
)

func TestMemory(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queue.Store { return queue.NewMemory() })
}
