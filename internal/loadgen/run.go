package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/callbrief/callbrief/evals"
)

// Modes: how calls are placed.
const (
	ModeUpload = "upload" // POST /v1/calls
	ModeLive   = "live"   // WHIP, speaking in real time
	// ModeMixed places every LiveEvery-th call live, the rest as uploads.
	ModeMixed = "mixed"
)

// Config is one run.
type Config struct {
	// Targets are the nodes' base URLs (http://127.0.0.1:8080); calls go
	// round robin, and a refused call's retry goes to the next.
	Targets []string
	// APIKey is sent as the bearer token of /v1/calls and /v1/whip.
	APIKey    string
	Mode      string
	LiveEvery int // ModeMixed: one live call in LiveEvery (default 4)
	Steps     []Step
	// Calls bounds the calls of the whole run (0: the steps' time alone).
	Calls int
	// MaxDuration bounds the whole run: no call starts after it, and
	// calls under way finish within their deadline. Default: the steps'
	// time plus a deadline each, or an hour for a step without time.
	MaxDuration time.Duration
	// Deadline bounds each call, retries included (default 60 s).
	Deadline time.Duration
	// Retry: a call refused with 503/429 waits its Retry-After (1 s when
	// absent) and tries the next target, while its deadline allows; a
	// target that cannot be reached is left for the next one at once.
	Retry      bool
	Recordings []Recording
	Faults     []Fault
	// PIDs are watched for memory (the first one with its children) and
	// receive the built-in faults; without them, the first target's
	// /metrics gives its resident memory.
	PIDs        []int
	Sample      time.Duration // memory sampling period (default 1 s)
	WarmupCalls int           // memory compared from this call on (default 100)
	SLO         time.Duration // end of speech to intent p95 (default 1.5 s)
	// Agents sign in to the desk to read live calls' briefs (agent ->
	// sign-in token).
	Agents map[string]string
	// KeepCalls puts every call's outcome in the report.
	KeepCalls bool
	// CheckBriefs, after the calls, looks for every answered call's brief
	// on the desk (any target), for up to this long; 0: not checked.
	CheckBriefs time.Duration
	// Progress, when set, gets a line per step.
	Progress io.Writer
	Client   *http.Client
}

func (c *Config) defaults() error {
	if len(c.Targets) == 0 {
		return fmt.Errorf("%w: no --target", ErrPlan)
	}
	for i, t := range c.Targets {
		if !strings.HasPrefix(t, "http://") && !strings.HasPrefix(t, "https://") {
			return fmt.Errorf("%w: target %q is not an http(s) URL", ErrPlan, t)
		}
		c.Targets[i] = strings.TrimSuffix(t, "/")
	}
	if c.Mode == "" {
		c.Mode = ModeUpload
	}
	if c.Mode != ModeUpload && c.Mode != ModeLive && c.Mode != ModeMixed {
		return fmt.Errorf("%w: mode %q is not upload, live or mixed", ErrPlan, c.Mode)
	}
	if c.LiveEvery <= 0 {
		c.LiveEvery = 4
	}
	if len(c.Steps) == 0 {
		return fmt.Errorf("%w: no ramp", ErrPlan)
	}
	for _, s := range c.Steps {
		if s.Duration == 0 && c.Calls == 0 {
			return fmt.Errorf("%w: a step without a duration needs a call bound (--calls)", ErrPlan)
		}
	}
	if len(c.Recordings) == 0 {
		return fmt.Errorf("%w: no recordings", ErrPlan)
	}
	if c.Deadline <= 0 {
		c.Deadline = time.Minute
	}
	if c.MaxDuration <= 0 {
		for _, s := range c.Steps {
			c.MaxDuration += s.Duration + c.Deadline
			if s.Duration == 0 {
				c.MaxDuration += time.Hour
			}
		}
	}
	if c.Sample <= 0 {
		c.Sample = time.Second
	}
	if c.WarmupCalls <= 0 {
		c.WarmupCalls = 100
	}
	if c.SLO <= 0 {
		c.SLO = 1500 * time.Millisecond
	}
	if c.Client == nil {
		// One connection per caller: as many callers as the top of the
		// ramp, each its own keep-alive connection.
		top := 0
		for _, s := range c.Steps {
			top = max(top, s.Concurrency)
		}
		c.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: top + 8, MaxConnsPerHost: 0, DisableCompression: true}}
	}
	for _, f := range c.Faults {
		if (f.Name == FaultStopNode || f.Name == FaultKillNode) && f.Command == "" && len(c.PIDs) == 0 {
			return fmt.Errorf("%w: fault %s needs --pid (the node to signal)", ErrPlan, f.Name)
		}
	}
	return nil
}

// runner is one run in progress.
type runner struct {
	cfg    Config
	start  time.Time
	stopAt time.Time    // no call starts after it (MaxDuration)
	seq    atomic.Int64 // calls started
	done   atomic.Int64 // calls finished

	mu  sync.Mutex
	out []Outcome

	desk *deskReader
}

// Run places the calls of cfg and reports. It returns early, with what was
// measured, when ctx ends; every call and goroutine it starts has ended
// when it returns.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, start: time.Now()}
	if cfg.Mode != ModeUpload || cfg.CheckBriefs > 0 {
		r.desk = newDeskReader(cfg.Client, cfg.Agents)
	}
	rep := &Report{Started: r.start.UTC(), Targets: cfg.Targets, Mode: cfg.Mode, CallBound: cfg.Calls,
		DeadlineS: cfg.Deadline.Seconds(), Retry: cfg.Retry, SLOms: float64(cfg.SLO.Milliseconds()), Recordings: len(cfg.Recordings)}
	if len(cfg.Steps) > 0 {
		rep.StepS = cfg.Steps[0].Duration.Seconds()
	}
	for _, s := range cfg.Steps {
		rep.Ramp = append(rep.Ramp, s.Concurrency)
	}
	rep.Machine.Cores = runtime.NumCPU()
	rep.Machine.LoadBefore = evals.LoadAverage()

	// The run's bound stops new calls; the hard stop a deadline later
	// only catches a call that overstays its own.
	r.stopAt = r.start.Add(cfg.MaxDuration)
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxDuration+cfg.Deadline+10*time.Second)
	defer cancel()
	var liveBefore []string
	if cfg.Mode != ModeUpload {
		liveBefore = r.scrapeAll(ctx)
	}

	// Memory and faults run beside the calls until the last step ends.
	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var rss []RSSSample
	wg.Add(1)
	go func() { defer wg.Done(); rss = r.sampleMemory(bg) }()
	faults := make([]FaultReport, len(cfg.Faults))
	for i, f := range cfg.Faults {
		wg.Add(1)
		go func() { defer wg.Done(); faults[i] = r.fault(bg, f) }()
	}

	for i, st := range cfg.Steps {
		if ctx.Err() != nil || time.Now().After(r.stopAt) || (cfg.Calls > 0 && r.seq.Load() >= int64(cfg.Calls)) {
			break
		}
		t0 := time.Now()
		first := len(r.outcomes())
		r.step(ctx, i, st)
		os := r.outcomes()[first:]
		sr := summarizeStep(st.Concurrency, time.Since(t0), os, cfg.Deadline)
		rep.Steps = append(rep.Steps, sr)
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "step %d: %d concurrent, %d calls, %d ok, end of speech to intent p95 %.0f ms, %d refused, %d 5xx, %d lost\n",
				i+1, st.Concurrency, sr.Calls, sr.OK, sr.ToIntent.P95, sr.Classes[ClassRefused], sr.ServerErrors, sr.Lost)
		}
	}
	stopBG()
	wg.Wait()
	// Faults not yet due when the calls ended were not carried out.
	for _, f := range faults {
		if f.Name != "" {
			rep.Faults = append(rep.Faults, f)
		}
	}
	all := r.outcomes()
	rep.Total = summarizeStep(0, time.Since(r.start), all, cfg.Deadline)
	rep.Best = best(rep.Steps, cfg.SLO)
	rep.Transcripts = stability(all)
	rep.RSS = rss
	rep.Memory = summarizeMemory(rss, cfg.WarmupCalls)
	if cfg.Mode != ModeUpload {
		rep.Live = r.liveLatency(context.WithoutCancel(ctx), liveBefore)
	}
	if cfg.CheckBriefs > 0 {
		rep.Briefs = r.checkBriefs(context.WithoutCancel(ctx), cfg.CheckBriefs)
	}
	if cfg.KeepCalls {
		rep.Calls = all
	}
	rep.Machine.LoadAfter = evals.LoadAverage()
	return rep, ctx.Err()
}

func (r *runner) outcomes() []Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out
}

// step runs st.Concurrency callers, each placing calls back to back until
// the step's time is up or the run's call bound is reached; calls under
// way when the time is up finish (within their deadline).
func (r *runner) step(ctx context.Context, idx int, st Step) {
	until := r.stopAt
	if st.Duration > 0 {
		until = time.Now().Add(st.Duration)
		if until.After(r.stopAt) {
			until = r.stopAt
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < st.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(until) {
				n := int(r.seq.Add(1)) - 1
				if r.cfg.Calls > 0 && n >= r.cfg.Calls {
					return
				}
				o := r.place(ctx, idx, n)
				r.done.Add(1)
				r.mu.Lock()
				r.out = append(r.out, o)
				r.mu.Unlock()
				if o.Class == ClassRefused && o.pause > 0 {
					// A refused caller calls again when told to, not at
					// once: the load stays what the level says, and the
					// node's refusals are not turned into a flood.
					wait := min(o.pause, max(time.Until(until), 0))
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
				}
			}
		}()
	}
	wg.Wait()
}

// place makes call n: its recording round robin, its target round robin,
// its mode by the run's mode.
func (r *runner) place(ctx context.Context, step, n int) Outcome {
	rec := &r.cfg.Recordings[n%len(r.cfg.Recordings)]
	mode := r.cfg.Mode
	if mode == ModeMixed {
		mode = ModeUpload
		if n%r.cfg.LiveEvery == r.cfg.LiveEvery-1 {
			mode = ModeLive
		}
	}
	o := Outcome{Seq: n, Step: step, Mode: mode, Recording: rec.Name, StartS: round(time.Since(r.start).Seconds())}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Deadline)
	defer cancel()
	unreached := 0 // nodes in a row that could not be reached
	for attempt := 0; ; attempt++ {
		o.Target = r.cfg.Targets[(n+attempt)%len(r.cfg.Targets)]
		o.Attempts++
		var rf *Refusal
		var wait time.Duration
		if mode == ModeLive {
			rf, wait = r.live(ctx, &o, rec)
		} else {
			rf, wait = r.upload(ctx, &o, rec)
		}
		if rf == nil {
			// A node that cannot be reached is skipped for the next one
			// at once, as a load balancer would, until every node has
			// been tried in a row.
			if o.Class == ClassUnreachable && r.cfg.Retry && unreached < len(r.cfg.Targets)-1 && ctx.Err() == nil {
				o.Failovers++
				unreached++
				o.Error = ""
				continue
			}
			break
		}
		unreached = 0
		o.Refusals = append(o.Refusals, *rf)
		o.Class, o.Reason, o.pause = ClassRefused, rf.Reason, wait
		dl, _ := ctx.Deadline()
		if !r.cfg.Retry || time.Now().Add(wait).After(dl) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		if ctx.Err() != nil {
			break
		}
	}
	o.WallMS = round(float64(time.Since(t0).Microseconds()) / 1000)
	return o
}

// refusal reads a 503/429: its reason (status and the body's error code)
// and how long it asks to wait (Retry-After in seconds or as a date; 1 s
// when absent or unreadable).
func refusal(status int, code, retryAfter string) (*Refusal, time.Duration) {
	reason := strconv.Itoa(status)
	if code != "" {
		reason += " " + code
	}
	wait := time.Second
	if retryAfter != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		} else if t, err := http.ParseTime(retryAfter); err == nil {
			wait = max(time.Until(t), 0)
		}
	}
	return &Refusal{Reason: reason, RetryAfter: retryAfter}, wait
}

// classify sets the class of a non-refusal HTTP answer.
func classify(o *Outcome, status int, code string) {
	o.Status = status
	o.Reason = strconv.Itoa(status)
	if code != "" {
		o.Reason += " " + code
	}
	switch {
	case status/100 == 2:
		o.Class, o.Reason = ClassOK, ""
	case status >= 500:
		o.Class = ClassServerError
	default:
		o.Class = ClassClientError
	}
}

// fault waits for f's time and carries it out.
func (r *runner) fault(ctx context.Context, f Fault) FaultReport {
	select {
	case <-ctx.Done():
		return FaultReport{}
	case <-time.After(time.Until(r.start.Add(f.At))):
	}
	fr := FaultReport{Name: f.Name, AtS: round(time.Since(r.start).Seconds()), Command: f.Command}
	if f.Command == "" {
		sig := syscall.SIGTERM
		if f.Name == FaultKillNode {
			sig = syscall.SIGKILL
		}
		fr.Command = fmt.Sprintf("signal %v to pid %d", sig, r.cfg.PIDs[0])
		if err := syscall.Kill(r.cfg.PIDs[0], sig); err != nil {
			fr.Error = err.Error()
		}
		return fr
	}
	// The command is the operator's own (from the command line), bounded
	// in time like everything else here.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "sh", "-c", f.Command).CombinedOutput()
	fr.Output = strings.TrimSpace(string(out))
	if len(fr.Output) > 2000 {
		fr.Output = fr.Output[:2000] + "..."
	}
	if err != nil {
		fr.Error = err.Error()
	}
	return fr
}

// sampleMemory samples until ctx ends, then once more.
func (r *runner) sampleMemory(ctx context.Context) []RSSSample {
	var out []RSSSample
	take := func() {
		s := RSSSample{TS: round(time.Since(r.start).Seconds()), Calls: int(r.done.Load())}
		if len(r.cfg.PIDs) > 0 {
			own, tree, err := sampleProc(r.cfg.PIDs[0])
			if err != nil {
				return // the node is gone (a fault, or it exited)
			}
			s.PID, s.RSSMB, s.TreeMB, s.Source = r.cfg.PIDs[0], own, tree, "proc"
		} else {
			v, err := sampleMetrics(ctx, r.cfg.Client, r.cfg.Targets[0])
			if err != nil {
				return
			}
			s.RSSMB, s.TreeMB, s.Source = v, v, "metrics"
		}
		out = append(out, s)
	}
	tick := time.NewTicker(r.cfg.Sample)
	defer tick.Stop()
	take()
	for {
		select {
		case <-ctx.Done():
			ctx = context.WithoutCancel(ctx)
			take()
			return out
		case <-tick.C:
			take()
		}
	}
}

// isRefused reports a dial error that never reached a node.
func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}
