package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Outcome classes: what became of one call.
const (
	// ClassOK: answered with the call's result (an upload) or its brief
	// seen on the desk (a live call).
	ClassOK = "ok"
	// ClassRefused: turned away with 503 or 429 and not taken on a retry
	// within the call's deadline.
	ClassRefused = "refused"
	// ClassServerError: any other 5xx.
	ClassServerError = "server_error"
	// ClassClientError: a 4xx other than 429 (a bad recording, a bad key).
	ClassClientError = "client_error"
	// ClassLost: the node took the call (the request was sent, the live
	// call connected) and never answered it: a dropped connection, or no
	// answer within the deadline.
	ClassLost = "lost"
	// ClassUnreachable: the request never reached a node (connection
	// refused: the node was down).
	ClassUnreachable = "unreachable"
)

// Outcome is one call as the caller saw it. Times are milliseconds.
type Outcome struct {
	Seq       int     `json:"seq"`
	CallID    string  `json:"call_id,omitempty"`
	Step      int     `json:"step"`
	Mode      string  `json:"mode"`
	Target    string  `json:"target"`
	Recording string  `json:"recording"`
	StartS    float64 `json:"start_s"`
	WallMS    float64 `json:"wall_ms"`
	Status    int     `json:"status"`
	Class     string  `json:"class"`
	// Reason of the last refusal or failure: "503 overloaded", "500
	// internal", "deadline"...
	Reason   string `json:"reason,omitempty"`
	Attempts int    `json:"attempts"`
	// Refusals met on the way, each with whether it said when to retry.
	Refusals []Refusal `json:"refusals,omitempty"`
	// Failovers: unreachable nodes skipped for the next one (--retry).
	Failovers int `json:"failovers,omitempty"`

	QueuedMS         *float64 `json:"queued_ms,omitempty"`
	ToTranscriptMS   *float64 `json:"speech_end_to_transcript_ms,omitempty"`
	ToIntentMS       *float64 `json:"speech_end_to_intent_ms,omitempty"`
	HandoffToBriefMS *float64 `json:"handoff_to_brief_ms,omitempty"`
	Error            string   `json:"error,omitempty"`
	// Transcript of the opening turn, for the stability count; not in the
	// report's call list (it is the caller's words).
	Transcript string `json:"-"`
	// Engine that heard the opening, when the result says.
	Engine string `json:"engine,omitempty"`
	// pause is what the last refusal asked the caller to wait.
	pause time.Duration
}

// Refusal is one 503 or 429 met by a call.
type Refusal struct {
	Reason     string `json:"reason"`
	RetryAfter string `json:"retry_after,omitempty"` // the header, as sent; empty when absent
}

// StepReport is what one level of the ramp (or the whole run) gave.
type StepReport struct {
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"duration_s"`
	Calls       int     `json:"calls"`
	OK          int     `json:"ok"`
	// Throughput is calls answered OK per second of the step.
	Throughput float64        `json:"throughput_per_s"`
	Classes    map[string]int `json:"classes"`
	// Refusals counts every 503/429 met (a call retried may meet several)
	// by reason; WithRetryAfter of them said when to retry.
	Refusals       map[string]int `json:"refusals"`
	WithRetryAfter int            `json:"refusals_with_retry_after"`
	NoRetryAfter   int            `json:"refusals_without_retry_after"`
	// TakenAfterRetry: calls refused at first and then answered OK.
	TakenAfterRetry int `json:"taken_after_retry"`
	ServerErrors    int `json:"server_errors"`
	Lost            int `json:"lost"`
	// Failovers: unreachable nodes skipped for another (--retry).
	Failovers int `json:"failovers"`
	// OverDeadline: calls whose whole wait passed their deadline.
	OverDeadline   int  `json:"over_deadline"`
	ToIntent       Dist `json:"speech_end_to_intent"`
	ToTranscript   Dist `json:"speech_end_to_transcript"`
	HandoffToBrief Dist `json:"handoff_to_brief"`
	Queued         Dist `json:"queued"`
	Wall           Dist `json:"wall"`
}

// summarizeStep aggregates outcomes; dur is the step's wall time.
func summarizeStep(conc int, dur time.Duration, os []Outcome, deadline time.Duration) StepReport {
	r := StepReport{Concurrency: conc, DurationS: round(dur.Seconds()), Calls: len(os), Classes: map[string]int{}, Refusals: map[string]int{}}
	var intent, trans, brief, queued, wall []float64
	for _, o := range os {
		r.Classes[o.Class]++
		r.Failovers += o.Failovers
		for _, rf := range o.Refusals {
			r.Refusals[rf.Reason]++
			if rf.RetryAfter != "" {
				r.WithRetryAfter++
			} else {
				r.NoRetryAfter++
			}
		}
		switch o.Class {
		case ClassOK:
			r.OK++
			if len(o.Refusals) > 0 {
				r.TakenAfterRetry++
			}
		case ClassServerError:
			r.ServerErrors++
		case ClassLost:
			r.Lost++
		}
		if deadline > 0 && o.WallMS > float64(deadline.Milliseconds()) {
			r.OverDeadline++
		}
		wall = append(wall, o.WallMS)
		for _, p := range []struct {
			v *float64
			s *[]float64
		}{{o.ToIntentMS, &intent}, {o.ToTranscriptMS, &trans}, {o.HandoffToBriefMS, &brief}, {o.QueuedMS, &queued}} {
			if p.v != nil && o.Class == ClassOK {
				*p.s = append(*p.s, *p.v)
			}
		}
	}
	if dur > 0 {
		r.Throughput = round(float64(r.OK) / dur.Seconds())
	}
	r.ToIntent, r.ToTranscript, r.HandoffToBrief, r.Queued, r.Wall = Summarize(intent), Summarize(trans), Summarize(brief), Summarize(queued), Summarize(wall)
	return r
}

// Stability is the same-recording-same-transcript count over the run's
// answered calls.
type Stability struct {
	Recordings int `json:"recordings"`
	// Stable: every recording gave one transcript whenever it was heard.
	Stable bool `json:"stable"`
	// Unheard: answered calls without a transcript, all recordings.
	Unheard  int               `json:"unheard"`
	Unstable []RecordingResult `json:"unstable,omitempty"`
	All      []RecordingResult `json:"all"`
}

// RecordingResult is one recording's transcripts: how many calls, how
// many distinct texts, and the texts with their counts when there is more
// than one (redacted length only otherwise).
type RecordingResult struct {
	Recording string `json:"recording"`
	Calls     int    `json:"calls"`
	// Distinct transcripts among the calls in which it was heard.
	Distinct int `json:"distinct"`
	// Unheard: answered calls with no transcript (the node handed the
	// call over unheard, e.g. recognition failed): not a different
	// transcript, counted apart.
	Unheard  int            `json:"unheard,omitempty"`
	Engines  map[string]int `json:"engines,omitempty"`
	Variants map[string]int `json:"variants,omitempty"`
}

func stability(os []Outcome) Stability {
	type acc struct {
		calls   int
		unheard int
		texts   map[string]int
		engines map[string]int
	}
	by := map[string]*acc{}
	for _, o := range os {
		if o.Class != ClassOK {
			continue
		}
		a := by[o.Recording]
		if a == nil {
			a = &acc{texts: map[string]int{}, engines: map[string]int{}}
			by[o.Recording] = a
		}
		a.calls++
		text := strings.TrimSpace(o.Transcript)
		if text == "" {
			a.unheard++
			continue
		}
		a.texts[text]++
		if o.Engine != "" {
			a.engines[o.Engine]++
		}
	}
	s := Stability{Recordings: len(by), Stable: true}
	for name, a := range by {
		r := RecordingResult{Recording: name, Calls: a.calls, Distinct: len(a.texts), Unheard: a.unheard}
		s.Unheard += a.unheard
		if len(a.engines) > 0 {
			r.Engines = a.engines
		}
		if r.Distinct > 1 {
			r.Variants = a.texts
			s.Stable = false
			s.Unstable = append(s.Unstable, r)
		}
		s.All = append(s.All, r)
	}
	sort.Slice(s.All, func(i, j int) bool { return s.All[i].Recording < s.All[j].Recording })
	sort.Slice(s.Unstable, func(i, j int) bool { return s.Unstable[i].Recording < s.Unstable[j].Recording })
	return s
}

// Report is the whole run, as written by --json.
type Report struct {
	Started    time.Time `json:"started"`
	Targets    []string  `json:"targets"`
	Mode       string    `json:"mode"`
	Ramp       []int     `json:"ramp"`
	StepS      float64   `json:"step_s"`
	CallBound  int       `json:"call_bound,omitempty"`
	DeadlineS  float64   `json:"deadline_s"`
	Retry      bool      `json:"retry"`
	SLOms      float64   `json:"slo_ms"`
	Recordings int       `json:"recordings"`
	Machine    Machine   `json:"machine"`

	Steps []StepReport `json:"steps"`
	Total StepReport   `json:"total"`
	// Best is the highest concurrency at which every call was served
	// (none refused, failed or lost) with end of speech to intent p95
	// within the SLO; zero when none was.
	Best Best `json:"best"`
	// Live is the nodes' own histograms of the live calls placed
	// (end of the caller's first turn to intent etc.), bucket-interpolated.
	Live        *LiveLatency  `json:"live,omitempty"`
	Memory      *Memory       `json:"memory,omitempty"`
	RSS         []RSSSample   `json:"rss,omitempty"`
	Faults      []FaultReport `json:"faults,omitempty"`
	Transcripts Stability     `json:"transcripts"`
	// Briefs, with --check-briefs: every answered upload's brief looked
	// for on the desk after the run.
	Briefs *BriefCheck `json:"briefs,omitempty"`
	Calls  []Outcome   `json:"calls,omitempty"`
}

// BriefCheck counts the answered calls whose brief the desk still has
// after the run (faults included): a missing one is a lost brief.
type BriefCheck struct {
	Checked int      `json:"checked"`
	Found   int      `json:"found"`
	Missing []string `json:"missing,omitempty"` // call ids
	// SignInFailures: the desk's sign-in failed this many times during the
	// check, so a missing brief may be one the reader could not look for.
	SignInFailures int `json:"sign_in_failures,omitempty"`
}

// Best is the ramp's answer.
type Best struct {
	Concurrency int     `json:"concurrency"`
	P95ms       float64 `json:"p95_ms"`
	Throughput  float64 `json:"throughput_per_s"`
}

// Machine is where the run ran.
type Machine struct {
	Cores      int       `json:"cores"`
	LoadBefore []float64 `json:"load_before,omitempty"`
	LoadAfter  []float64 `json:"load_after,omitempty"`
}

// LiveLatency is read from the nodes' live-call histograms.
type LiveLatency struct {
	Calls           float64            `json:"calls"`
	SpeechEndIntent map[string]float64 `json:"speech_end_to_intent_ms"`
	SpeechEndTrans  map[string]float64 `json:"speech_end_to_transcript_ms"`
	Note            string             `json:"note"`
}

// FaultReport is one fault as carried out.
type FaultReport struct {
	Name    string  `json:"name"`
	AtS     float64 `json:"at_s"`
	Command string  `json:"command,omitempty"`
	Error   string  `json:"error,omitempty"`
	Output  string  `json:"output,omitempty"`
}

// WriteJSON writes r to path (0644), indented.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Print writes the human summary.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "load: %s on %d target(s), %d recording(s), deadline %.0fs, retry %v; %d cores, load %v -> %v\n",
		r.Mode, len(r.Targets), r.Recordings, r.DeadlineS, r.Retry, r.Machine.Cores, r.Machine.LoadBefore, r.Machine.LoadAfter)
	fmt.Fprintf(w, "%5s %6s %5s %5s %7s %8s %8s %8s %8s %9s %6s %5s %5s %s\n",
		"conc", "secs", "calls", "ok", "ok/s", "int_p50", "int_p95", "int_p99", "brf_p95", "wall_p95", "refus", "5xx", "lost", "refusals")
	for _, s := range append(append([]StepReport(nil), r.Steps...), r.Total) {
		label := fmt.Sprint(s.Concurrency)
		if s.Concurrency == 0 {
			label = "all"
		}
		refused := 0
		var reasons []string
		for k, v := range s.Refusals {
			refused += v
			reasons = append(reasons, fmt.Sprintf("%s:%d", k, v))
		}
		sort.Strings(reasons)
		ra := ""
		if refused > 0 {
			ra = fmt.Sprintf(" (Retry-After on %d/%d)", s.WithRetryAfter, refused)
		}
		fmt.Fprintf(w, "%5s %6.1f %5d %5d %7.2f %8.0f %8.0f %8.0f %8.0f %9.0f %6d %5d %5d %s%s\n",
			label, s.DurationS, s.Calls, s.OK, s.Throughput, s.ToIntent.P50, s.ToIntent.P95, s.ToIntent.P99, s.HandoffToBrief.P95,
			s.Wall.P95, refused, s.ServerErrors, s.Lost, strings.Join(reasons, " "), ra)
	}
	if r.Best.Concurrency > 0 {
		fmt.Fprintf(w, "best: %d concurrent calls with end of speech to intent p95 %.0f ms (SLO %.0f ms), %.2f calls/s\n",
			r.Best.Concurrency, r.Best.P95ms, r.SLOms, r.Best.Throughput)
	} else {
		fmt.Fprintf(w, "best: no level kept end of speech to intent p95 within %.0f ms without errors\n", r.SLOms)
	}
	if r.Live != nil {
		fmt.Fprintf(w, "live calls (node histograms, %.0f calls): end of speech to intent %v ms\n", r.Live.Calls, r.Live.SpeechEndIntent)
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(w, "memory (pid %d and children): %.0f MB after %d calls (warm-up), %.0f MB at the end (%d calls), peak %.0f MB: %+.1f%%\n",
			m.PID, m.AtWarmup.TreeMB, m.AtWarmup.Calls, m.End.TreeMB, m.End.Calls, m.PeakTreeMB, m.GrowthPct)
	}
	for _, f := range r.Faults {
		e := "ok"
		if f.Error != "" {
			e = f.Error
		}
		fmt.Fprintf(w, "fault %s at %.1fs: %s\n", f.Name, f.AtS, e)
	}
	if b := r.Briefs; b != nil {
		fmt.Fprintf(w, "briefs: %d of %d answered calls' briefs on the desk after the run, %d missing\n", b.Found, b.Checked, len(b.Missing))
		if b.SignInFailures > 0 {
			fmt.Fprintf(w, "briefs: the desk's sign-in failed %d times during the check\n", b.SignInFailures)
		}
	}
	fmt.Fprintf(w, "transcripts: %d recordings, stable %v", r.Transcripts.Recordings, r.Transcripts.Stable)
	if r.Transcripts.Unheard > 0 {
		fmt.Fprintf(w, " (%d answered calls unheard: no transcript)", r.Transcripts.Unheard)
	}
	for _, u := range r.Transcripts.Unstable {
		fmt.Fprintf(w, "; %s: %d distinct in %d calls", u.Recording, u.Distinct, u.Calls)
	}
	fmt.Fprintln(w)
}

// best picks the highest level at which every call was served (no
// refusal, no 5xx, no lost call) with end of speech to intent p95 within
// the SLO.
func best(steps []StepReport, slo time.Duration) Best {
	var b Best
	for _, s := range steps {
		if s.ToIntent.N == 0 || s.ServerErrors > 0 || s.Lost > 0 || s.OK < s.Calls || len(s.Refusals) > 0 ||
			s.ToIntent.P95 > float64(slo.Milliseconds()) {
			continue
		}
		if s.Concurrency > b.Concurrency {
			b = Best{Concurrency: s.Concurrency, P95ms: s.ToIntent.P95, Throughput: s.Throughput}
		}
	}
	return b
}
