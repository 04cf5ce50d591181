package evals

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/callbrief/callbrief/handoff"
)

// ServedTimes are one call's times in milliseconds from the end of the
// caller's opening audio; nil where not measured.
type ServedTimes struct {
	ToTranscript *float64 `json:"to_transcript_ms,omitempty"`
	ToIntent     *float64 `json:"to_intent_ms,omitempty"`
	ToHandoff    *float64 `json:"to_handoff_ms,omitempty"`
	// HandoffToBrief is from the brief's creation (the handoff) to the
	// desk first serving it (polled every 20 ms as each agent).
	HandoffToBrief *float64 `json:"handoff_to_brief_ms,omitempty"`
}

// ServedOutcome is one scenario placed as one call on the service.
type ServedOutcome struct {
	ID       string `json:"id"`
	Mode     string `json:"mode"`
	Language string `json:"language"` // report row: zh, yue, en
	// Source is the recording's file, or "synthetic (espeak-ng)".
	Source    string `json:"source"`
	Synthetic bool   `json:"synthetic"`
	CallID    string `json:"call_id,omitempty"`

	Reference string     `json:"reference"`
	Heard     string     `json:"heard"`
	Metric    string     `json:"metric"` // CER or WER
	Edits     EditCounts `json:"edits"`
	ErrorRate float64    `json:"error_rate"`

	Decided      string `json:"language_decided"`
	WantLanguage string `json:"want_language"`
	Intent       string `json:"intent"`
	IntentEngine string `json:"intent_engine,omitempty"` // the classifier that answered ("embedded+e5", or "embedded" when e5 was late)
	// IntentRefined says the intent is the second answer, given just
	// before the handoff with the embedding that was late for the first.
	IntentRefined bool     `json:"intent_refined,omitempty"`
	WantIntent    string   `json:"want_intent"`
	Verification  string   `json:"verification"`
	WantVerify    string   `json:"want_verification,omitempty"`
	Group         string   `json:"group"`
	WantGroup     string   `json:"want_group,omitempty"`
	Priority      int      `json:"priority"`
	Line          string   `json:"line,omitempty"`
	KB            []string `json:"kb_top5,omitempty"`
	KBError       string   `json:"kb_error,omitempty"`
	WantKB        string   `json:"want_kb_article,omitempty"`

	Times ServedTimes `json:"times"`
	// CaptionAfterAudio (live) is from the caller's last frame of speech
	// to the first final caption, on the caller's side; negative when the
	// service ended the turn at a pause before the recording ended.
	CaptionAfterAudio *float64 `json:"caption_after_audio_ms,omitempty"`
	Wrong             []string `json:"wrong,omitempty"`
	Error             string   `json:"error,omitempty"`

	checks map[string]bool
	brief  handoff.Brief
}

func newOutcome(sc CallScenario, mode string) ServedOutcome {
	o := ServedOutcome{ID: sc.ID, Mode: mode, Language: languageRow(sc.Turns[0].Lang), Reference: sc.Turns[0].Say,
		Source: shortPath(sc.Audio), checks: map[string]bool{}}
	if sc.Audio == "" {
		o.Source, o.Synthetic = "synthetic (espeak-ng)", true
	}
	return o
}

// fill takes what the brief says.
func (o *ServedOutcome) fill(b handoff.Brief) {
	o.brief = b
	o.Heard = b.Transcript.Text()
	o.Decided = string(b.Language.Language)
	o.Intent = string(b.Intent.Intent)
	o.IntentEngine, o.IntentRefined = b.Intent.Engine, b.Intent.Refined
	o.Verification = string(b.Verification.Status)
	o.Group, o.Priority, o.Line = b.Route.Group, b.Route.Priority, b.Route.Line
	o.KB = kbIDs(b.KB, 5)
	o.KBError = b.KBError
}

// scoreServed compares the call with the scenario's expectations. The
// live caller keys nothing and WHIP presents no number, so verification
// is scored on uploads only.
func scoreServed(o *ServedOutcome, sc CallScenario) {
	tok := Words
	o.Metric = "WER"
	if sc.Turns[0].Lang.IsChinese() {
		tok, o.Metric = Chars, "CER"
	}
	o.Edits = Align(tok(o.Reference), tok(o.Heard))
	o.ErrorRate = o.Edits.Rate()
	ex := sc.Expect
	o.WantIntent, o.WantGroup, o.WantKB = ex.Intent, ex.Group, ex.KBArticle
	o.WantLanguage = ex.Variety
	if o.WantLanguage == "" {
		o.WantLanguage = string(sc.Turns[0].Lang)
	}
	failed := o.Error != ""
	check := func(name string, ok bool, want, got any) {
		ok = ok && !failed
		o.checks[name] = ok
		if !ok {
			o.Wrong = append(o.Wrong, fmt.Sprintf("%s: want %v, got %v", name, want, got))
		}
	}
	check("language", o.Decided == o.WantLanguage, o.WantLanguage, o.Decided)
	check("intent", o.Intent == ex.Intent, ex.Intent, o.Intent)
	if ex.Verification != "" && o.Mode == ModeUpload {
		o.WantVerify = ex.Verification
		check("verification", o.Verification == ex.Verification, ex.Verification, o.Verification)
	}
	if ex.Group != "" || ex.Priority != nil || ex.Line != nil {
		ok := ex.Group == "" || o.Group == ex.Group
		want, got := []string{}, []string{}
		if ex.Group != "" {
			want, got = append(want, ex.Group), append(got, o.Group)
		}
		if ex.Priority != nil {
			ok = ok && o.Priority == *ex.Priority
			want, got = append(want, fmt.Sprintf("priority %d", *ex.Priority)), append(got, fmt.Sprintf("priority %d", o.Priority))
		}
		if ex.Line != nil {
			ok = ok && o.Line == *ex.Line
			want, got = append(want, fmt.Sprintf("line %q", *ex.Line)), append(got, fmt.Sprintf("line %q", o.Line))
		}
		check("route", ok, strings.Join(want, ", "), strings.Join(got, ", "))
	}
	if ex.KBArticle != "" {
		check("kb_top5", kbInTop(o.brief.KB, ex.KBArticle, 5), ex.KBArticle+" in the top 5", o.KB)
	}
}

// Dist is a distribution of times in milliseconds.
type Dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	Max float64 `json:"max_ms"`
}

func distOf(xs []float64) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	return Dist{N: len(xs), P50: percentile(xs, .5), P95: percentile(xs, .95), Max: percentile(xs, 1)}
}

// ServedRow is one mode and language of the served evaluation, or the
// same scenarios in text mode (Mode "text") for the gap.
type ServedRow struct {
	Mode      string `json:"mode"`
	Language  string `json:"language"`
	Calls     int    `json:"calls"`
	Synthetic int    `json:"synthetic"`
	Failed    int    `json:"failed"`
	// Metric is CER (Chinese, traditional folded to simplified) or WER;
	// TranscriptError is total edits over total reference tokens.
	Metric           string  `json:"metric,omitempty"`
	TranscriptError  float64 `json:"transcript_error"`
	LanguageAccuracy float64 `json:"language_accuracy"`
	IntentAccuracy   float64 `json:"intent_accuracy"`
	// IntentByE5 is the share of answered calls whose intent the hybrid
	// (sparse + e5) gave, at the turn or just before the handoff
	// (intent.refine_wait): the rest kept the sparse model's answer because
	// the embedding was later than both waits. IntentByE5AtHandoff is the
	// share given only at the handoff.
	IntentByE5           float64 `json:"intent_by_e5"`
	IntentByE5AtHandoff  float64 `json:"intent_by_e5_at_handoff"`
	RouteAccuracy        float64 `json:"route_accuracy"`
	VerificationAccuracy float64 `json:"verification_accuracy"`
	VerificationN        int     `json:"verification_n"`
	KBTop5               float64 `json:"kb_top5"`
	KBN                  int     `json:"kb_n"`
	ToTranscript         Dist    `json:"to_transcript"`
	ToIntent             Dist    `json:"to_intent"`
	ToHandoff            Dist    `json:"to_handoff"`
	HandoffToBrief       Dist    `json:"handoff_to_brief"`
}

// ServedMachine is where the evaluation ran.
type ServedMachine struct {
	Cores      int       `json:"cores"`
	LoadBefore []float64 `json:"load_before"` // 1, 5, 15 minutes
	LoadAfter  []float64 `json:"load_after"`
}

// ServedReport is the end-to-end audio evaluation through the service.
type ServedReport struct {
	Binary string `json:"binary"`
	// Overrides are the configuration keys this run set on the service;
	// everything else is what `make run` runs.
	Overrides    []string        `json:"overrides"`
	APIKey       bool            `json:"api_key"` // whether one was given (never the key)
	DevKey       bool            `json:"dev_key"` // the development key serve printed was used
	Server       map[string]any  `json:"server"`  // what /readyz said
	StartSeconds float64         `json:"start_s"` // process start to ready
	StopError    string          `json:"stop_error,omitempty"`
	Modes        []string        `json:"modes"`
	Machine      ServedMachine   `json:"machine"`
	Rows         []ServedRow     `json:"rows"`
	Text         []ServedRow     `json:"text_mode,omitempty"`
	Outcomes     []ServedOutcome `json:"outcomes"`
}

var servedLanguages = []string{"zh", "yue", "en"}

func (r *ServedReport) summarize() {
	r.Rows = nil
	for _, m := range r.Modes {
		for _, l := range servedLanguages {
			var os []ServedOutcome
			for _, o := range r.Outcomes {
				if o.Mode == m && o.Language == l {
					os = append(os, o)
				}
			}
			if len(os) > 0 {
				r.Rows = append(r.Rows, servedRow(m, l, os))
			}
		}
	}
}

func servedRow(mode, lang string, os []ServedOutcome) ServedRow {
	row := ServedRow{Mode: mode, Language: lang, Calls: len(os)}
	n, ok := map[string]int{}, map[string]int{}
	var edits EditCounts
	var tt, ti, th, tb []float64
	answered, byE5, byE5Late := 0, 0, 0
	add := func(xs *[]float64, v *float64) {
		if v != nil {
			*xs = append(*xs, *v)
		}
	}
	for _, o := range os {
		row.Metric = o.Metric
		if o.Synthetic {
			row.Synthetic++
		}
		if o.Error != "" {
			row.Failed++
		}
		edits.Add(o.Edits)
		for k, v := range o.checks {
			n[k]++
			if v {
				ok[k]++
			}
		}
		if o.Error == "" {
			answered++
			if o.IntentEngine == "embedded+e5" {
				byE5++
				if o.IntentRefined {
					byE5Late++
				}
			}
			add(&tt, o.Times.ToTranscript)
			add(&ti, o.Times.ToIntent)
			add(&th, o.Times.ToHandoff)
			add(&tb, o.Times.HandoffToBrief)
		}
	}
	rate := func(k string) float64 {
		if n[k] == 0 {
			return 0
		}
		return float64(ok[k]) / float64(n[k])
	}
	row.TranscriptError = edits.Rate()
	row.LanguageAccuracy, row.IntentAccuracy, row.RouteAccuracy = rate("language"), rate("intent"), rate("route")
	row.VerificationAccuracy, row.VerificationN = rate("verification"), n["verification"]
	row.KBTop5, row.KBN = rate("kb_top5"), n["kb_top5"]
	if answered > 0 {
		row.IntentByE5 = float64(byE5) / float64(answered)
		row.IntentByE5AtHandoff = float64(byE5Late) / float64(answered)
	}
	row.ToTranscript, row.ToIntent, row.ToHandoff, row.HandoffToBrief = distOf(tt), distOf(ti), distOf(th), distOf(tb)
	return row
}

// AddTextMode records the same scenarios run in text mode (the turn's
// text given as the transcript, offline), per language, so that the
// report names the gap between what the service does with the audio and
// what understanding does with the words.
func (r *ServedReport) AddTextMode(scs []CallScenario, text *ScenarioReport) {
	lang := map[string]string{}
	for _, sc := range scs {
		lang[sc.ID] = languageRow(sc.Turns[0].Lang)
	}
	r.Text = nil
	for _, l := range servedLanguages {
		row := ServedRow{Mode: ModeText, Language: l}
		n, ok := map[string]int{}, map[string]int{}
		for _, o := range text.Outcomes {
			if o.Mode != ModeText || lang[o.ID] != l {
				continue
			}
			row.Calls++
			if o.Error != "" {
				row.Failed++
			}
			// The offline scenario checks, under the served names.
			for k, name := range map[string]string{"variety": "language", "intent": "intent", "routing": "route", "verification": "verification", "kb_article": "kb_top5"} {
				if v, has := o.checks[k]; has {
					n[name]++
					if v {
						ok[name]++
					}
				}
			}
		}
		if row.Calls == 0 {
			continue
		}
		rate := func(k string) float64 {
			if n[k] == 0 {
				return 0
			}
			return float64(ok[k]) / float64(n[k])
		}
		row.LanguageAccuracy, row.IntentAccuracy, row.RouteAccuracy = rate("language"), rate("intent"), rate("route")
		row.VerificationAccuracy, row.VerificationN = rate("verification"), n["verification"]
		row.KBTop5, row.KBN = rate("kb_top5"), n["kb_top5"]
		r.Text = append(r.Text, row)
	}
}

// Gaps names, per language and served mode, how far the served calls
// fall below text mode on the same scenarios.
func (r *ServedReport) Gaps() []string {
	var out []string
	for _, t := range r.Text {
		for _, s := range r.Rows {
			if s.Language != t.Language {
				continue
			}
			parts := []string{}
			gap := func(name string, text, served float64, n int) {
				if n == 0 {
					return
				}
				parts = append(parts, fmt.Sprintf("%s %.2f → %.2f", name, text, served))
			}
			gap("language", t.LanguageAccuracy, s.LanguageAccuracy, 1)
			gap("intent", t.IntentAccuracy, s.IntentAccuracy, 1)
			gap("route", t.RouteAccuracy, s.RouteAccuracy, 1)
			gap("verification", t.VerificationAccuracy, s.VerificationAccuracy, min(t.VerificationN, s.VerificationN))
			gap("KB top 5", t.KBTop5, s.KBTop5, min(t.KBN, s.KBN))
			out = append(out, fmt.Sprintf("gap, %s: text mode → served %s: %s (%s %.1f%% on the audio)", t.Language, s.Mode, strings.Join(parts, ", "), s.Metric, 100*s.TranscriptError))
		}
	}
	return out
}

// ServedEvaluation is the suite section: per mode and language, gated
// quality numbers for uploads (deterministic: the whole file is
// recognized at once) and reported-only ones for live calls (real-time
// media: segmentation may move with the machine's load).
func ServedEvaluation(name string, r *ServedReport) *Evaluation {
	e := &Evaluation{Name: name, Kind: "served", Title: "End-to-end audio calls through callbrief serve", Detail: detail(r)}
	if r.Server != nil {
		e.Engine = fmt.Sprintf("callbrief serve (asr %v, vad %v)", r.Server["asr"], r.Server["vad"])
	}
	var ds []string
	for _, l := range servedLanguages {
		for _, row := range r.Rows {
			if row.Language == l && row.Mode == ModeUpload {
				ds = append(ds, fmt.Sprintf("%s %d", l, row.Calls))
			}
		}
	}
	e.Dataset = "real recordings (speech-zh, speech-clips, pocketsphinx-testdata) and synthetic calls: " + strings.Join(ds, ", ")
	failed := map[string]int{}
	calls := map[string]int{}
	for _, row := range r.Rows {
		gate := row.Mode == ModeUpload
		q := func(n string, v float64, b Better, k int) {
			m := quality(row.Mode+"."+row.Language+"."+n, v, b, k)
			m.Gate = gate
			e.Metrics = append(e.Metrics, m)
		}
		q(strings.ToLower(row.Metric), row.TranscriptError, LowerIsBetter, row.Calls)
		q("language_accuracy", row.LanguageAccuracy, HigherIsBetter, row.Calls)
		q("intent_accuracy", row.IntentAccuracy, HigherIsBetter, row.Calls)
		q("route_accuracy", row.RouteAccuracy, HigherIsBetter, row.Calls)
		if row.VerificationN > 0 {
			// Reported, not gated: the service runs on the real clock,
			// and by night the policy drops checks not marked critical.
			q("verification_accuracy", row.VerificationAccuracy, HigherIsBetter, row.VerificationN)
			e.Metrics[len(e.Metrics)-1].Gate = false
		}
		if row.KBN > 0 {
			q("kb_top5", row.KBTop5, HigherIsBetter, row.KBN)
		}
		p := row.Mode + "." + row.Language + "."
		e.Metrics = append(e.Metrics,
			timing(p+"to_transcript_p50", row.ToTranscript.P50, "ms", row.ToTranscript.N),
			timing(p+"to_handoff_p95", row.ToHandoff.P95, "ms", row.ToHandoff.N),
			timing(p+"handoff_to_brief_p95", row.HandoffToBrief.P95, "ms", row.HandoffToBrief.N))
		failed[row.Mode] += row.Failed
		calls[row.Mode] += row.Calls
		e.Charts.Stages = append(e.Charts.Stages,
			StageLatency{Group: row.Mode + " " + row.Language, Stage: "to transcript", MeanMS: row.ToTranscript.P50, P90MS: row.ToTranscript.P95},
			StageLatency{Group: row.Mode + " " + row.Language, Stage: "to intent", MeanMS: row.ToIntent.P50, P90MS: row.ToIntent.P95},
			StageLatency{Group: row.Mode + " " + row.Language, Stage: "to handoff", MeanMS: row.ToHandoff.P50, P90MS: row.ToHandoff.P95},
			StageLatency{Group: row.Mode + " " + row.Language, Stage: "handoff to brief", MeanMS: row.HandoffToBrief.P50, P90MS: row.HandoffToBrief.P95})
	}
	for _, m := range r.Modes {
		if calls[m] > 0 {
			e.Metrics = append(e.Metrics, count(m+".failed_calls", failed[m], calls[m]))
		}
	}
	e.Notes = append(e.Notes, r.notes()...)
	t := &Table{Caption: "Calls", Columns: []string{"scenario", "mode", "source", "heard", "what was wrong"}}
	for _, o := range r.Outcomes {
		why := strings.Join(o.Wrong, "; ")
		if o.Error != "" {
			why = "call failed: " + o.Error
		}
		t.Rows = append(t.Rows, []string{o.ID, o.Mode, o.Source, o.Heard, why})
	}
	e.Charts.Table = t
	return e
}

func (r *ServedReport) notes() []string {
	var out []string
	out = append(out, fmt.Sprintf("machine: %d cores, load average %s before and %s after the calls", r.Machine.Cores, loadString(r.Machine.LoadBefore), loadString(r.Machine.LoadAfter)))
	out = append(out, "configuration overridden on the service: "+strings.Join(r.Overrides, "; "))
	if r.APIKey {
		out = append(out, "an API key was sent on the call endpoints")
	} else if r.DevKey {
		out = append(out, "the call endpoints got the development API key serve printed at start (none configured)")
	}
	if slicesContains(r.Modes, ModeUpload) {
		out = append(out, "upload: times from the end of the caller's audio (the whole file is there when the call starts) by the service's own state changes; the keyed answers come at once, so to handoff includes verification but no waiting")
	}
	out = append(out, "verification is reported, not gated: the service runs on the real clock and by night (22:00-06:00 in the policy's time zone) drops checks not marked critical")
	if slicesContains(r.Modes, ModeLive) {
		out = append(out, "live: times by the service's own per-call measures (/metrics), from the endpoint of the caller's opening turn (the VAD's hangover after the last speech) to its final transcript, the intent and the handoff done (brief built); the caller's side (last frame sent to first caption) is in each call's detail; WHIP presents no caller number and the caller keys nothing, so the questions wait out webrtc.answer_timeout (to handoff includes them) and verification is not scored")
	}
	synthetic := 0
	for _, o := range r.Outcomes {
		if o.Synthetic {
			synthetic++
		}
	}
	if synthetic > 0 {
		out = append(out, fmt.Sprintf("%d of %d calls are synthetic speech (espeak-ng through an 8 kHz G.711 telephone channel), where no real recording of such a request exists; the others are real human speech as published (not telephone band)", synthetic, len(r.Outcomes)))
	}
	out = append(out, r.Gaps()...)
	return out
}

func slicesContains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func loadString(l []float64) string {
	if len(l) == 0 {
		return "unknown"
	}
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = fmt.Sprintf("%.2f", v)
	}
	return strings.Join(s, "/")
}

// Markdown is the report for people: the rows, the gap to text mode, the
// notes and every call.
func (r *ServedReport) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# End-to-end audio calls through `callbrief serve`\n\n")
	fmt.Fprintf(&b, "Binary `%s`, ready in %.1f s", r.Binary, r.StartSeconds)
	if r.Server != nil {
		fmt.Fprintf(&b, " (asr %v, vad %v)", r.Server["asr"], r.Server["vad"])
	}
	fmt.Fprintf(&b, ". Machine: %d cores, load average %s before, %s after.\n\n", r.Machine.Cores, loadString(r.Machine.LoadBefore), loadString(r.Machine.LoadAfter))
	fmt.Fprintf(&b, "Overridden configuration: %s.\n\n", strings.Join(r.Overrides, "; "))
	fmt.Fprintf(&b, "| mode | lang | calls (synthetic) | failed | CER/WER | language | intent (by e5; at handoff) | route | verification | KB top 5 | to transcript p50/p95 | to intent p50/p95 | to handoff p50/p95 | handoff→brief p50/p95 |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	dist := func(d Dist) string {
		if d.N == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f / %.0f ms", d.P50, d.P95)
	}
	frac := func(v float64, n int) string {
		if n == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f (%d)", v, n)
	}
	rows := append(append([]ServedRow(nil), r.Rows...), r.Text...)
	for _, row := range rows {
		te := "–"
		if row.Mode != ModeText {
			te = fmt.Sprintf("%s %.1f%%", row.Metric, 100*row.TranscriptError)
		}
		fmt.Fprintf(&b, "| %s | %s | %d (%d) | %d | %s | %.2f | %.2f (%.2f; %.2f) | %.2f | %s | %s | %s | %s | %s | %s |\n",
			row.Mode, row.Language, row.Calls, row.Synthetic, row.Failed, te, row.LanguageAccuracy, row.IntentAccuracy, row.IntentByE5, row.IntentByE5AtHandoff, row.RouteAccuracy,
			frac(row.VerificationAccuracy, row.VerificationN), frac(row.KBTop5, row.KBN),
			dist(row.ToTranscript), dist(row.ToIntent), dist(row.ToHandoff), dist(row.HandoffToBrief))
	}
	b.WriteString("\n")
	for _, n := range r.notes() {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("\n## Calls\n\nTimes in ms: to transcript / intent / handoff, handoff to brief; live calls add the caller's side (last frame sent to first caption).\n\n| scenario | mode | source | language | intent | route | verification | KB top 5 | times | heard | wrong |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, o := range r.Outcomes {
		why := strings.Join(o.Wrong, "; ")
		if o.Error != "" {
			why = "call failed: " + o.Error
		}
		kb := strings.Join(o.KB, " ")
		if o.KBError != "" {
			kb += " (" + o.KBError + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s/%d%s | %s | %s | %s | %s | %s |\n", o.ID, o.Mode, o.Source, o.Decided, o.Intent,
			o.Group, o.Priority, lineSuffix(o.Line), o.Verification, kb, o.timesString(), mdCell(o.Heard), mdCell(why))
	}
	return b.String()
}

func lineSuffix(l string) string {
	if l == "" {
		return ""
	}
	return " (" + l + ")"
}

func mdCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

// shortPath is a recording's folder and name, enough to find it.
func shortPath(p string) string {
	if p == "" {
		return ""
	}
	return filepath.Join(filepath.Base(filepath.Dir(p)), filepath.Base(p))
}

func (o *ServedOutcome) timesString() string {
	f := func(v *float64) string {
		if v == nil {
			return "–"
		}
		return fmt.Sprintf("%.0f", *v)
	}
	t := o.Times
	out := fmt.Sprintf("%s / %s / %s, %s", f(t.ToTranscript), f(t.ToIntent), f(t.ToHandoff), f(t.HandoffToBrief))
	if o.CaptionAfterAudio != nil {
		out += "; caller: " + f(o.CaptionAfterAudio)
	}
	return out
}
