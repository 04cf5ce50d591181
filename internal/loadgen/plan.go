// Package loadgen places bounded load on running callbrief nodes: recorded
// calls (POST /v1/calls) and live calls (WHIP) with real recordings, at a
// ramp of concurrency levels, with fault hooks at set times (kill Redis,
// stop a node), and measures what a caller and an operator would see:
// throughput, latency from the end of the caller's speech to the intent
// and from the handoff to the brief, refusals by reason (and whether they
// said when to retry), server errors, lost calls, the target's memory
// over time, and whether the same recording always gave the same
// transcript. Every loop is bounded in calls and time, and only the
// targets given are called (loopback in tests and measurements).
package loadgen

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrPlan is wrapped by every error about the run's plan (flags).
var ErrPlan = errors.New("loadgen: plan")

// ParseRamp reads concurrency levels: "1,2,4,8" or ranges "1-4" (every
// level from 1 to 4) and "10-50/10" (10, 20, ... 50). Levels must be
// positive and at most 10,000.
func ParseRamp(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("%w: ramp %q has an empty level", ErrPlan, s)
		}
		step := 1
		if r, st, ok := strings.Cut(part, "/"); ok {
			n, err := strconv.Atoi(st)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%w: ramp level %q: step %q is not a positive number", ErrPlan, part, st)
			}
			part, step = r, n
		}
		lo, hi := part, part
		if a, b, ok := strings.Cut(part, "-"); ok {
			lo, hi = a, b
		}
		from, err1 := strconv.Atoi(lo)
		to, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: ramp level %q is not a number or a range A-B", ErrPlan, part)
		}
		if from < 1 || to > 10000 || from > to {
			return nil, fmt.Errorf("%w: ramp level %q must be between 1 and 10000, low to high", ErrPlan, part)
		}
		for v := from; v <= to; v += step {
			out = append(out, v)
		}
		if (to-from)%step != 0 {
			out = append(out, to)
		}
	}
	return out, nil
}

// Fault is an action at a time into the run: a shell command (kill Redis,
// restart it, pause a process) or, for the built-in names, a signal to the
// first watched process (stop-node: SIGTERM, kill-node: SIGKILL).
type Fault struct {
	Name    string        `json:"name"`
	At      time.Duration `json:"-"`
	Command string        `json:"command,omitempty"`
}

// Built-in faults acting on the first --pid.
const (
	FaultStopNode = "stop-node"
	FaultKillNode = "kill-node"
)

// ParseFault reads NAME@OFFSET (kill-redis@30s); cmds maps names to the
// commands that carry them out (from --fault-cmd NAME=COMMAND). A name with
// no command must be a built-in one.
func ParseFault(s string, cmds map[string]string) (Fault, error) {
	name, at, ok := strings.Cut(strings.TrimSpace(s), "@")
	if !ok || name == "" {
		return Fault{}, fmt.Errorf("%w: fault %q is not NAME@OFFSET (e.g. kill-redis@30s)", ErrPlan, s)
	}
	d, err := time.ParseDuration(at)
	if err != nil || d < 0 {
		return Fault{}, fmt.Errorf("%w: fault %q: offset %q is not a duration like 30s", ErrPlan, s, at)
	}
	f := Fault{Name: name, At: d, Command: cmds[name]}
	if f.Command == "" && name != FaultStopNode && name != FaultKillNode {
		return Fault{}, fmt.Errorf("%w: fault %q has no command: give --fault-cmd %s=COMMAND (built in: %s, %s)", ErrPlan, s, name, FaultStopNode, FaultKillNode)
	}
	return f, nil
}

// ParseFaultCmd reads NAME=COMMAND.
func ParseFaultCmd(s string) (name, cmd string, err error) {
	name, cmd, ok := strings.Cut(s, "=")
	name, cmd = strings.TrimSpace(name), strings.TrimSpace(cmd)
	if !ok || name == "" || cmd == "" {
		return "", "", fmt.Errorf("%w: fault command %q is not NAME=COMMAND", ErrPlan, s)
	}
	return name, cmd, nil
}

// Step is one level of the ramp: Concurrency callers at once, each placing
// calls back to back, for Duration (0: until the run's call bound).
type Step struct {
	Concurrency int
	Duration    time.Duration
}

// Plan lays the ramp out as steps of stepDur each.
func Plan(levels []int, stepDur time.Duration) []Step {
	out := make([]Step, len(levels))
	for i, c := range levels {
		out[i] = Step{Concurrency: c, Duration: stepDur}
	}
	return out
}
