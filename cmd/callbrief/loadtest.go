package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/callbrief/callbrief/internal/loadgen"
)

// cmdLoadtest places bounded load on running nodes and reports what the
// callers and the operator saw (internal/loadgen). It calls only the
// targets given; every loop is bounded in calls and time.
func cmdLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("loadtest", &c, stderr)
	var targets, sources, faults, faultCmds, pids multiFlag
	fs.Var(&targets, "target", "a node's base URL (repeatable; calls go round robin); default http://127.0.0.1:8080")
	key := fs.String("key", "", "API key of /v1/calls and /v1/whip (default: api.key, i.e. CALLBRIEF_API_KEY)")
	mode := fs.String("mode", loadgen.ModeUpload, "upload (POST /v1/calls), live (WHIP, real time) or mixed")
	liveEvery := fs.Int("live-every", 4, "mixed: one call in N is live")
	ramp := fs.String("ramp", "1,2,4,8", "concurrency levels: 1,2,4 or ranges 1-4, 10-50/10")
	step := fs.Duration("step", 30*time.Second, "time at each level (0: until --calls)")
	calls := fs.Int("calls", 0, "bound on the calls of the whole run (0: the steps' time alone)")
	maxDur := fs.Duration("max-duration", 0, "bound on the whole run (default: the steps' time plus a deadline each)")
	deadline := fs.Duration("deadline", time.Minute, "per-call deadline, retries included")
	retry := fs.Bool("retry", false, "honour Retry-After: a refused call waits and tries the next target within its deadline")
	fs.Var(&sources, "recordings", "a served scenario file (.yaml), a WAV file or a folder of them (repeatable); default data/evals/served/*.yaml")
	fs.Var(&faults, "fault", "NAME@OFFSET, e.g. kill-redis@30s (repeatable); stop-node and kill-node signal the first --pid")
	fs.Var(&faultCmds, "fault-cmd", "NAME=COMMAND run by sh for a fault, e.g. 'kill-redis=redis-cli -p 6390 shutdown nosave' (repeatable)")
	fs.Var(&pids, "pid", "a node's process id: memory of it and its children (the speech servers) over time (repeatable; the first is sampled)")
	sample := fs.Duration("sample", time.Second, "memory sampling period")
	warmup := fs.Int("warmup", 100, "memory is compared from this call to the end")
	slo := fs.Duration("slo", 1500*time.Millisecond, "end of speech to intent p95 a level must keep to count as served")
	jsonOut := fs.String("json", "", "write the report as JSON to this file")
	keepCalls := fs.Bool("keep-calls", false, "list every call in the JSON report")
	checkBriefs := fs.Duration("check-briefs", 0, "after the calls, look for every answered call's brief on the desk (as the demo agents) for up to this long, e.g. 60s")
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	levels, err := loadgen.ParseRamp(*ramp)
	if err != nil {
		return fmt.Errorf("%w: --ramp: %w", errUsage, err)
	}
	cmds := map[string]string{}
	for _, fc := range faultCmds {
		name, cmd, err := loadgen.ParseFaultCmd(fc)
		if err != nil {
			return fmt.Errorf("%w: --fault-cmd: %w", errUsage, err)
		}
		cmds[name] = cmd
	}
	cfg := loadgen.Config{Targets: targets, APIKey: *key, Mode: *mode, LiveEvery: *liveEvery, Steps: loadgen.Plan(levels, *step),
		Calls: *calls, MaxDuration: *maxDur, Deadline: *deadline, Retry: *retry, Sample: *sample, WarmupCalls: *warmup,
		SLO: *slo, KeepCalls: *keepCalls, CheckBriefs: *checkBriefs, Progress: stderr}
	if cfg.APIKey == "" {
		cfg.APIKey = c.cfg.API.Key
	}
	if len(cfg.Targets) == 0 {
		cfg.Targets = []string{"http://127.0.0.1:8080"}
	}
	for _, f := range faults {
		ft, err := loadgen.ParseFault(f, cmds)
		if err != nil {
			return fmt.Errorf("%w: --fault: %w", errUsage, err)
		}
		cfg.Faults = append(cfg.Faults, ft)
	}
	for _, p := range pids {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return fmt.Errorf("%w: --pid %q is not a process id", errUsage, p)
		}
		cfg.PIDs = append(cfg.PIDs, n)
	}
	if len(sources) == 0 {
		m, _ := filepath.Glob("data/evals/served/*.yaml")
		if len(m) == 0 {
			return fmt.Errorf("%w: no --recordings given and no data/evals/served/*.yaml here", errUsage)
		}
		sources = m
	}
	if cfg.Recordings, err = loadgen.LoadRecordings(sources); err != nil {
		return err
	}
	rep, runErr := loadgen.Run(ctx, cfg)
	if rep == nil {
		return runErr
	}
	rep.Print(stdout)
	if *jsonOut != "" {
		if err := rep.WriteJSON(*jsonOut); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if runErr != nil {
		return fmt.Errorf("load test stopped early: %w", runErr)
	}
	return nil
}
