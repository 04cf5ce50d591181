package evals

import (
	"fmt"
	"sort"
	"strings"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/pipeline"
)

// BriefFields are the brief fields a scenario may require, each with the
// test of whether the brief filled it.
var BriefFields = map[string]func(b handoff.Brief) bool{
	"caller":  func(b handoff.Brief) bool { return b.Caller.Identity.CallerMasked != "" },
	"account": func(b handoff.Brief) bool { return b.Caller.Identity.AccountID != "" },
	"devices": func(b handoff.Brief) bool { return len(b.Caller.Devices) > 0 },
	"intent":  func(b handoff.Brief) bool { return b.Intent.Intent != "" },
	"language": func(b handoff.Brief) bool {
		return b.Language.Language != "" && b.Language.Language != call.LangUndetermined
	},
	"summary":    func(b handoff.Brief) bool { return strings.TrimSpace(b.Summary.Text) != "" },
	"slots":      func(b handoff.Brief) bool { return len(b.Slots) > 0 },
	"urgency":    func(b handoff.Brief) bool { return len(b.Urgency.Reasons) > 0 },
	"kb":         func(b handoff.Brief) bool { return len(b.KB) > 0 },
	"ticket":     func(b handoff.Brief) bool { return b.Ticket != nil },
	"transcript": func(b handoff.Brief) bool { return strings.TrimSpace(b.Transcript.Text()) != "" },
}

func briefFieldNames() []string {
	out := make([]string, 0, len(BriefFields))
	for k := range BriefFields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ScenarioOutcome is one scenario in one mode.
type ScenarioOutcome struct {
	ID           string             `json:"id"`
	Mode         string             `json:"mode"`
	Tags         []string           `json:"tags,omitempty"`
	Heard        string             `json:"heard"` // the opening as transcribed
	Intent       string             `json:"intent"`
	Variety      string             `json:"variety"`
	Verification string             `json:"verification"`
	Group        string             `json:"group"`
	WantGroup    string             `json:"want_group,omitempty"`
	Priority     int                `json:"priority"`
	Line         string             `json:"line,omitempty"`
	Wrong        []string           `json:"wrong,omitempty"` // what did not match the expectation
	BriefFilled  int                `json:"brief_filled"`
	BriefWanted  int                `json:"brief_wanted"`
	TimeToBrief  float64            `json:"time_to_brief_ms"`
	StagesMS     map[string]float64 `json:"stages_ms,omitempty"`
	Error        string             `json:"error,omitempty"`
	checks       map[string]bool
}

// ScenarioModeSummary is one mode's scores. Each accuracy is over the
// scenarios that state that expectation.
type ScenarioModeSummary struct {
	Mode                 string         `json:"mode"`
	Scenarios            int            `json:"scenarios"`
	RoutingAccuracy      float64        `json:"routing_accuracy"` // group, and priority and line where stated
	IntentAccuracy       float64        `json:"intent_accuracy"`
	VarietyAccuracy      float64        `json:"variety_accuracy"`
	VerificationAccuracy float64        `json:"verification_accuracy"`
	BriefCompleteness    float64        `json:"brief_completeness"`
	Failed               int            `json:"failed_calls"`
	TimeToBrief          LatencySummary `json:"time_to_brief"`
}

// ScenarioReport is the end-to-end scenario evaluation.
type ScenarioReport struct {
	Engine   string                `json:"asr_engine,omitempty"`
	KB       bool                  `json:"kb"`
	Modes    []ScenarioModeSummary `json:"modes"`
	Outcomes []ScenarioOutcome     `json:"outcomes"`
}

// Stages of a call, for the per-stage breakdown, in order.
var callStages = []pipeline.State{pipeline.StateListening, pipeline.StateUnderstanding, pipeline.StateVerifying, pipeline.StateHandingOff}

func score(sc CallScenario, mode string, res pipeline.Result, err error, haveKB bool) ScenarioOutcome {
	b := res.Brief
	o := ScenarioOutcome{ID: sc.ID, Mode: mode, Tags: sc.Tags, Heard: b.Transcript.Text(), Intent: string(b.Intent.Intent),
		Variety: string(b.Language.Language), Verification: string(b.Verification.Status), Group: b.Route.Group,
		Priority: b.Route.Priority, Line: b.Route.Line, WantGroup: sc.Expect.Group, checks: map[string]bool{}}
	if err != nil {
		o.Error = err.Error()
	}
	ex := sc.Expect
	check := func(name string, ok bool, want, got any) {
		ok = ok && err == nil
		o.checks[name] = ok
		if !ok {
			o.Wrong = append(o.Wrong, fmt.Sprintf("%s: want %v, got %v", name, want, got))
		}
	}
	check("intent", o.Intent == ex.Intent, ex.Intent, o.Intent)
	if ex.Variety != "" {
		check("variety", o.Variety == ex.Variety, ex.Variety, o.Variety)
	}
	if ex.Verification != "" {
		check("verification", o.Verification == ex.Verification, ex.Verification, o.Verification)
	}
	routed := true
	if ex.Group != "" {
		check("group", o.Group == ex.Group, ex.Group, o.Group)
		routed = o.checks["group"]
	}
	if ex.Priority != nil {
		check("priority", o.Priority == *ex.Priority, *ex.Priority, o.Priority)
		routed = routed && o.checks["priority"]
	}
	if ex.Line != nil {
		check("line", o.Line == *ex.Line, fmt.Sprintf("%q", *ex.Line), fmt.Sprintf("%q", o.Line))
		routed = routed && o.checks["line"]
	}
	if ex.Group != "" || ex.Priority != nil || ex.Line != nil {
		o.checks["routing"] = routed && err == nil
	}
	if ex.KBArticle != "" && haveKB {
		check("kb_article", kbInTop(b.KB, ex.KBArticle, 5), ex.KBArticle+" in the top 5", kbIDs(b.KB, 5))
	}
	for _, f := range ex.Brief {
		if f == "kb" && !haveKB {
			continue // nothing to suggest from: not the brief's fault
		}
		o.BriefWanted++
		if err == nil && BriefFields[f](b) {
			o.BriefFilled++
		} else {
			o.Wrong = append(o.Wrong, "brief: no "+f)
		}
	}
	at := map[pipeline.State]float64{}
	for _, t := range res.Transitions {
		at[t.State] = float64(t.At.Microseconds()) / 1000
	}
	if done, ok := at[pipeline.StateDone]; ok {
		o.TimeToBrief = done
		o.StagesMS = map[string]float64{}
		for i, s := range callStages {
			start, ok := at[s]
			if !ok {
				continue
			}
			end := done
			for _, next := range callStages[i+1:] {
				if t, ok := at[next]; ok {
					end = t
					break
				}
			}
			o.StagesMS[string(s)] = end - start
		}
	}
	return o
}

func (r *ScenarioReport) summarize(modes []string) {
	for _, m := range modes {
		s := ScenarioModeSummary{Mode: m}
		n, ok := map[string]int{}, map[string]int{}
		var wanted, filled int
		var ttb []float64
		for _, o := range r.Outcomes {
			if o.Mode != m {
				continue
			}
			s.Scenarios++
			if o.Error != "" {
				s.Failed++
			} else {
				ttb = append(ttb, o.TimeToBrief)
			}
			for k, v := range o.checks {
				n[k]++
				if v {
					ok[k]++
				}
			}
			wanted += o.BriefWanted
			filled += o.BriefFilled
		}
		rate := func(k string) float64 {
			if n[k] == 0 {
				return 0
			}
			return float64(ok[k]) / float64(n[k])
		}
		s.RoutingAccuracy, s.IntentAccuracy, s.VarietyAccuracy, s.VerificationAccuracy =
			rate("routing"), rate("intent"), rate("variety"), rate("verification")
		if wanted > 0 {
			s.BriefCompleteness = float64(filled) / float64(wanted)
		}
		s.TimeToBrief = summarizeMS(ttb)
		r.Modes = append(r.Modes, s)
	}
}

func summarizeMS(ms []float64) LatencySummary {
	if len(ms) == 0 {
		return LatencySummary{}
	}
	return LatencySummary{N: len(ms), P50: percentile(ms, .5), P90: percentile(ms, .9), P99: percentile(ms, .99), Max: percentile(ms, 1)}
}

// ScenarioEvaluation is the suite section for the scenarios: one set of
// metrics per mode, prefixed by the mode so that text-mode and audio-mode
// numbers can never be mistaken for each other.
func ScenarioEvaluation(name string, r *ScenarioReport) *Evaluation {
	e := &Evaluation{Name: name, Kind: "scenarios", Title: "End-to-end call scenarios", Engine: "whole pipeline, offline", Detail: detail(r)}
	for _, m := range r.Modes {
		p := m.Mode + "."
		e.Metrics = append(e.Metrics,
			quality(p+"routing_accuracy", m.RoutingAccuracy, HigherIsBetter, m.Scenarios),
			quality(p+"intent_accuracy", m.IntentAccuracy, HigherIsBetter, m.Scenarios),
			quality(p+"variety_accuracy", m.VarietyAccuracy, HigherIsBetter, m.Scenarios),
			quality(p+"verification_accuracy", m.VerificationAccuracy, HigherIsBetter, m.Scenarios),
			quality(p+"brief_completeness", m.BriefCompleteness, HigherIsBetter, m.Scenarios),
			count(p+"failed_calls", m.Failed, m.Scenarios),
			timing(p+"time_to_brief_p90", m.TimeToBrief.P90, "ms", m.TimeToBrief.N))
		var ttb []float64
		stages := map[string][]float64{}
		for _, o := range r.Outcomes {
			if o.Mode != m.Mode || o.Error != "" {
				continue
			}
			ttb = append(ttb, o.TimeToBrief)
			for s, v := range o.StagesMS {
				stages[s] = append(stages[s], v)
			}
		}
		e.Charts.Histograms = append(e.Charts.Histograms, Histogram{Name: "time to brief, " + m.Mode + " mode", Samples: ttb})
		for _, s := range callStages {
			if v, ok := stages[string(s)]; ok {
				e.Charts.Stages = append(e.Charts.Stages, StageLatency{Group: m.Mode + " mode", Stage: string(s), MeanMS: mean(v), P90MS: percentile(v, .9)})
			}
		}
		switch m.Mode {
		case ModeText:
			e.Notes = append(e.Notes, "text mode: each turn's text is given as the transcript; it measures understanding, verification and routing without recognition errors")
		case ModeAudio:
			e.Notes = append(e.Notes, fmt.Sprintf("audio mode: turns synthesized with espeak-ng (several voices, speeds, noise), through an 8 kHz G.711 telephone channel and recognized by %s; a recognizer weak on synthetic or Chinese speech lowers every number here", r.Engine))
		}
	}
	if !r.KB {
		e.Notes = append(e.Notes, "no knowledge base was configured: the kb brief field is not scored")
	}
	e.Charts.Confusion = routeMatrix(r)
	t := &Table{Caption: "Scenarios with a wrong outcome", Columns: []string{"scenario", "mode", "heard", "what was wrong"}}
	for _, o := range r.Outcomes {
		if len(o.Wrong) == 0 && o.Error == "" {
			continue
		}
		why := strings.Join(o.Wrong, "; ")
		if o.Error != "" {
			why = "call failed: " + o.Error
		}
		t.Rows = append(t.Rows, []string{o.ID, o.Mode, o.Heard, why})
	}
	e.Charts.Table = t
	return e
}

// routeMatrix is expected group against routed group in the first mode.
func routeMatrix(r *ScenarioReport) *Matrix {
	if len(r.Modes) == 0 {
		return nil
	}
	var per []IntentScores
	support, tp := map[string]int{}, map[string]int{}
	conf := map[[2]string]int{}
	for _, o := range r.Outcomes {
		if o.Mode != r.Modes[0].Mode {
			continue
		}
		if o.WantGroup == "" {
			continue
		}
		support[o.WantGroup]++
		if o.checks["group"] {
			tp[o.WantGroup]++
		} else {
			got := o.Group
			if got == "" {
				got = "(failed)"
			}
			conf[[2]string{o.WantGroup, got}]++
		}
	}
	for g, n := range support {
		per = append(per, IntentScores{Intent: g, Support: n, Recall: float64(tp[g]) / float64(n)})
	}
	sort.Slice(per, func(i, j int) bool { return per[i].Intent < per[j].Intent })
	var cs []Confusion
	for k, n := range conf {
		cs = append(cs, Confusion{Gold: k[0], Predicted: k[1], Count: n})
	}
	return matrixFrom(per, cs, confusionLimit)
}

// kbInTop reports whether article id is among the first k suggestions.
func kbInTop(kb []handoff.KBSuggestion, id string, k int) bool {
	for i, s := range kb {
		if i >= k {
			break
		}
		if s.ArticleID == id {
			return true
		}
	}
	return false
}

// kbIDs are the first k suggestions' article ids.
func kbIDs(kb []handoff.KBSuggestion, k int) []string {
	var out []string
	for i, s := range kb {
		if i >= k {
			break
		}
		out = append(out, s.ArticleID)
	}
	return out
}
