package handoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/callbrief/callbrief/handoff"
)

// TestWatchPosition: a caller on hold is told their place as the queue
// moves ahead of them, that an agent has their call, and nothing more
// once it is gone; each told once, as the changes are pushed.
func TestWatchPosition(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEngine(t, fakeKB{})
	for _, id := range []string{"c1", "c2", "c3"} {
		if _, err := e.Handoff(ctx, bootRequest(t, id)); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan handoff.HoldStatus, 16)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.WatchPosition(wctx, "c3", func(s handoff.HoldStatus) { got <- s }) }()
	expect := func(step string, want handoff.HoldStatus) {
		t.Helper()
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("%s: %+v, want %+v", step, s, want)
			}
		case <-ctx.Done():
			t.Fatalf("%s: not told (want %+v)", step, want)
		}
	}
	expect("at first", handoff.HoldStatus{State: handoff.HoldWaiting, Position: 3})
	if err := e.CallerLeft(ctx, "c1", "hung up"); err != nil {
		t.Fatal(err)
	}
	expect("a caller ahead hung up", handoff.HoldStatus{State: handoff.HoldWaiting, Position: 2})
	if err := e.Online(ctx, "sam.taylor"); err != nil { // offered c2
		t.Fatal(err)
	}
	expect("the call ahead offered", handoff.HoldStatus{State: handoff.HoldWaiting, Position: 1})
	if err := e.Accept(ctx, "sam.taylor", "c2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RecordOutcome(ctx, "sam.taylor", "c2", handoff.Outcome{Resolved: true, Resolution: "fixed"}); err != nil {
		t.Fatal(err)
	}
	expect("the agent free: offered", handoff.HoldStatus{State: handoff.HoldAgent})
	if err := e.CallerLeft(ctx, "c3", "hung up"); err != nil {
		t.Fatal(err)
	}
	expect("gone", handoff.HoldStatus{State: handoff.HoldGone})
	stop()
	<-done
	select {
	case s := <-got:
		t.Fatalf("told again: %+v", s)
	default:
	}
}
