package evals

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/callbrief/callbrief/call"
)

// ErrDataset wraps problems with an evaluation dataset.
var ErrDataset = errors.New("evals: dataset")

// ASRItem is one labelled clip.
type ASRItem struct {
	File      string        // path of the audio
	Language  call.Language // en, zh, yue...
	Reference string
}

// LoadASRDataset reads DIR/transcripts.jsonl (see ParseASRJSONL) or
// DIR/transcripts.tsv: file, language, reference text,
// tab-separated, one clip a line; blank lines and lines starting with # are
// skipped. Files are relative to DIR. A folder in the CMU Sphinx test layout
// (a `transcription` file of "<s> text </s> (id)" lines, English) is read
// too, so pocketsphinx-testdata's recordings can be scored as they ship.
func LoadASRDataset(dir string) ([]ASRItem, error) {
	if jf, err := os.Open(filepath.Join(dir, "transcripts.jsonl")); err == nil {
		defer jf.Close()
		items, err := ParseASRJSONL(jf, dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "transcripts.jsonl"), err)
		}
		return items, nil
	}
	p := filepath.Join(dir, "transcripts.tsv")
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		if sf, serr := os.Open(filepath.Join(dir, "transcription")); serr == nil {
			defer sf.Close()
			return ParseSphinxTranscription(sf, dir)
		}
		return nil, fmt.Errorf("%w: %s has no transcripts.tsv (file, language, text) nor a Sphinx transcription file", ErrDataset, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataset, err)
	}
	defer f.Close()
	items, err := ParseASRTSV(f, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return items, nil
}

// ParseASRTSV parses the transcripts.tsv format.
func ParseASRTSV(r io.Reader, dir string) ([]ASRItem, error) {
	var items []ASRItem
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cols := strings.SplitN(text, "\t", 3)
		if len(cols) != 3 {
			return nil, fmt.Errorf("%w: line %d: want 3 tab-separated columns (file, language, text), got %d", ErrDataset, line, len(cols))
		}
		file, lang, ref := strings.TrimSpace(cols[0]), call.Language(strings.TrimSpace(cols[1])), strings.TrimSpace(cols[2])
		if file == "" || filepath.IsAbs(file) || strings.Contains(file, "..") {
			return nil, fmt.Errorf("%w: line %d: file %q must be a relative path inside the dataset", ErrDataset, line, file)
		}
		if lang == "" {
			return nil, fmt.Errorf("%w: line %d: empty language", ErrDataset, line)
		}
		items = append(items, ASRItem{File: filepath.Join(dir, file), Language: lang, Reference: ref})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w", ErrDataset, line+1, err)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: no clips listed", ErrDataset)
	}
	return items, nil
}

// ParseASRJSONL reads the JSONL form of a speech dataset, one clip a line:
// {"file": "a.wav", "language": "zh", "text": "广州市房地产中介协会分析"}.
func ParseASRJSONL(r io.Reader, dir string) ([]ASRItem, error) {
	var items []ASRItem
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var rec struct {
			File     string `json:"file"`
			Language string `json:"language"`
			Text     string `json:"text"`
		}
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrDataset, line, err)
		}
		// One validation for both forms: a TSV line of the same fields.
		it, err := ParseASRTSV(strings.NewReader(rec.File+"\t"+rec.Language+"\t"+rec.Text), dir)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		items = append(items, it...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataset, err)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: no clips listed", ErrDataset)
	}
	return items, nil
}

// ParseSphinxTranscription reads "<s> text </s> (id)" lines; the audio of
// id is id.wav in dir.
func ParseSphinxTranscription(r io.Reader, dir string) ([]ASRItem, error) {
	var items []ASRItem
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		open := strings.LastIndexByte(text, '(')
		if open < 0 || !strings.HasSuffix(text, ")") {
			return nil, fmt.Errorf("%w: transcription line %d: no (id) at the end", ErrDataset, line)
		}
		id := strings.TrimSpace(text[open+1 : len(text)-1])
		if id == "" || strings.ContainsAny(id, `/\`) {
			return nil, fmt.Errorf("%w: transcription line %d: bad id %q", ErrDataset, line, id)
		}
		ref := strings.NewReplacer("<s>", " ", "</s>", " ").Replace(text[:open])
		items = append(items, ASRItem{File: filepath.Join(dir, id+".wav"), Language: call.LangEnglish, Reference: strings.Join(strings.Fields(ref), " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataset, err)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: no clips listed", ErrDataset)
	}
	return items, nil
}

// ASRHypothesis is what a system produced for one clip.
type ASRHypothesis struct {
	Text    string
	Audio   time.Duration
	Process time.Duration // processing time (for the real-time factor)
	// EndpointDelays and FinalLatencies are per utterance: stream time from
	// the end of speech to the endpoint decision, and wall time from the
	// decision to the final result.
	EndpointDelays []time.Duration
	FinalLatencies []time.Duration
	// Language is the language the system tagged the clip with (the most
	// frequent tag of its finals); empty when it does not tag.
	Language call.Language
}

// Transcriber runs a system on one clip.
type Transcriber func(ctx context.Context, item ASRItem) (ASRHypothesis, error)

// ClipResult is one clip's score.
type ClipResult struct {
	File       string        `json:"file"`
	Language   call.Language `json:"language"`
	Metric     string        `json:"metric"` // WER or CER
	Reference  string        `json:"reference"`
	Hypothesis string        `json:"hypothesis"`
	Edits      EditCounts    `json:"edits"`
	Rate       float64       `json:"rate"`
	// RateNumbers is the CER with numbers in one form (CharsNumbers);
	// the same as Rate for WER clips.
	RateNumbers  float64       `json:"rate_numbers_normalised"`
	EditsNumbers EditCounts    `json:"edits_numbers_normalised"`
	Detected     call.Language `json:"detected_language,omitempty"`
	AudioSec     float64       `json:"audio_sec"`
	RTF          float64       `json:"rtf"`
	Error        string        `json:"error,omitempty"`
}

// LatencySummary summarises a latency distribution in milliseconds.
type LatencySummary struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// Summarize computes percentiles (nearest rank).
func Summarize(ds []time.Duration) LatencySummary {
	if len(ds) == 0 {
		return LatencySummary{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		return float64(s[i]) / float64(time.Millisecond)
	}
	return LatencySummary{N: len(s), P50: at(.5), P90: at(.9), P95: at(.95), P99: at(.99), Max: float64(s[len(s)-1]) / float64(time.Millisecond)}
}

// ASRReport is the evaluation of one system on one dataset.
type ASRReport struct {
	Engine  string       `json:"engine"`
	Dataset string       `json:"dataset"`
	Machine string       `json:"machine"`
	Clips   []ClipResult `json:"clips"`
	// WER over the English clips and CER over the Chinese ones, each total
	// edits over total reference tokens.
	WER *float64 `json:"wer,omitempty"`
	CER *float64 `json:"cer,omitempty"`
	// CERNumbers is CER with numbers normalised (CharsNumbers).
	CERNumbers *float64 `json:"cer_numbers_normalised,omitempty"`
	// Languages summarises each reference language.
	Languages  []LanguageSummary `json:"languages,omitempty"`
	AudioSec   float64           `json:"audio_sec"`
	RTF        float64           `json:"rtf"`
	Failures   int               `json:"failures"`
	Endpoint   LatencySummary    `json:"endpoint_delay"`
	Finalize   LatencySummary    `json:"final_latency"`
	EndToFinal LatencySummary    `json:"end_of_speech_to_final"`
}

// LanguageSummary is the score of the clips of one reference language.
type LanguageSummary struct {
	Language    call.Language `json:"language"`
	Clips       int           `json:"clips"`
	Metric      string        `json:"metric"`
	Rate        float64       `json:"rate"`
	RateNumbers float64       `json:"rate_numbers_normalised"`
	AudioSec    float64       `json:"audio_sec"`
	RTF         float64       `json:"rtf"`
	// Tagged counts the clips the system tagged with a language; Correct
	// those whose tag agrees with the reference (any Chinese variety
	// agrees with zh, and zh with any variety: telling varieties apart is
	// not the recogniser's job here).
	Tagged  int `json:"tagged"`
	Correct int `json:"correct"`
}

// MajorityLanguage is the language most of segs' text is tagged with
// (weighted by characters); empty when none is tagged.
func MajorityLanguage(segs []call.Segment) call.Language {
	n := map[call.Language]int{}
	var best call.Language
	for _, s := range segs {
		if s.Language == "" {
			continue
		}
		n[s.Language] += len([]rune(s.Text))
		if best == "" || n[s.Language] > n[best] {
			best = s.Language
		}
	}
	return best
}

// sameLanguage reports whether a system's tag agrees with the reference.
func sameLanguage(ref, got call.Language) bool {
	if ref == got {
		return true
	}
	if ref.IsChinese() && got.IsChinese() {
		return ref == call.LangChinese || got == call.LangChinese
	}
	return false
}

// RunASR scores t on every item. A clip the system fails on is reported
// with its error and counted as all deletions, so failures cannot improve
// the score.
func RunASR(ctx context.Context, engine, dataset string, items []ASRItem, t Transcriber) (*ASRReport, error) {
	rep := &ASRReport{Engine: engine, Dataset: dataset}
	var wer, cer, cerNum EditCounts
	var nWER, nCER int
	type langAcc struct {
		sum             LanguageSummary
		edits, editsNum EditCounts
		audio, proc     time.Duration
	}
	langs := map[call.Language]*langAcc{}
	var order []call.Language
	var proc, audio time.Duration
	var eps, fins, e2f []time.Duration
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		metric, tok, tokNum := "WER", Words, Words
		if it.Language.IsChinese() {
			metric, tok, tokNum = "CER", Chars, CharsNumbers
		}
		cr := ClipResult{File: filepath.Base(it.File), Language: it.Language, Metric: metric, Reference: it.Reference}
		hyp, err := t(ctx, it)
		if err != nil {
			cr.Error = err.Error()
			rep.Failures++
			hyp.Text = ""
		}
		cr.Hypothesis = hyp.Text
		cr.Edits = Align(tok(it.Reference), tok(hyp.Text))
		cr.Rate = cr.Edits.Rate()
		cr.EditsNumbers = Align(tokNum(it.Reference), tokNum(hyp.Text))
		cr.RateNumbers = cr.EditsNumbers.Rate()
		cr.Detected = hyp.Language
		cr.AudioSec = hyp.Audio.Seconds()
		if hyp.Audio > 0 {
			cr.RTF = hyp.Process.Seconds() / hyp.Audio.Seconds()
		}
		ls := langs[it.Language]
		if ls == nil {
			ls = &langAcc{sum: LanguageSummary{Language: it.Language, Metric: metric}}
			langs[it.Language] = ls
			order = append(order, it.Language)
		}
		ls.sum.Clips++
		ls.edits.Add(cr.Edits)
		ls.editsNum.Add(cr.EditsNumbers)
		ls.audio += hyp.Audio
		ls.proc += hyp.Process
		if hyp.Language != "" {
			ls.sum.Tagged++
			if sameLanguage(it.Language, hyp.Language) {
				ls.sum.Correct++
			}
		}
		proc += hyp.Process
		audio += hyp.Audio
		eps = append(eps, hyp.EndpointDelays...)
		fins = append(fins, hyp.FinalLatencies...)
		for i := range hyp.FinalLatencies {
			if i < len(hyp.EndpointDelays) {
				e2f = append(e2f, hyp.EndpointDelays[i]+hyp.FinalLatencies[i])
			}
		}
		if metric == "WER" {
			wer.Add(cr.Edits)
			nWER++
		} else {
			cer.Add(cr.Edits)
			cerNum.Add(cr.EditsNumbers)
			nCER++
		}
		rep.Clips = append(rep.Clips, cr)
	}
	if nWER > 0 {
		v := wer.Rate()
		rep.WER = &v
	}
	if nCER > 0 {
		v, vn := cer.Rate(), cerNum.Rate()
		rep.CER, rep.CERNumbers = &v, &vn
	}
	for _, l := range order {
		a := langs[l]
		a.sum.Rate, a.sum.RateNumbers, a.sum.AudioSec = a.edits.Rate(), a.editsNum.Rate(), a.audio.Seconds()
		if a.audio > 0 {
			a.sum.RTF = a.proc.Seconds() / a.audio.Seconds()
		}
		rep.Languages = append(rep.Languages, a.sum)
	}
	rep.AudioSec = audio.Seconds()
	if audio > 0 {
		rep.RTF = proc.Seconds() / audio.Seconds()
	}
	rep.Endpoint, rep.Finalize, rep.EndToFinal = Summarize(eps), Summarize(fins), Summarize(e2f)
	return rep, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Markdown renders the report as a table for people.
func (r *ASRReport) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# ASR evaluation: %s on %s\n\n", r.Engine, r.Dataset)
	if r.Machine != "" {
		fmt.Fprintf(&b, "Machine: %s\n\n", r.Machine)
	}
	b.WriteString("| clip | lang | heard as | metric | rate | numbers normalised | ref tokens | sub | del | ins | audio s | RTF |\n")
	b.WriteString("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range r.Clips {
		name := c.File
		if c.Error != "" {
			name += " (failed)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f%% | %.1f%% | %d | %d | %d | %d | %.2f | %.3f |\n",
			name, c.Language, orDash(string(c.Detected)), c.Metric, 100*c.Rate, 100*c.RateNumbers, c.Edits.Ref, c.Edits.Substitutions, c.Edits.Deletions, c.Edits.Insertions, c.AudioSec, c.RTF)
	}
	b.WriteString("\n")
	if len(r.Languages) > 0 {
		b.WriteString("| language | clips | metric | rate | numbers normalised | language tag right | audio s | RTF |\n")
		b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|\n")
		for _, l := range r.Languages {
			tag := "-"
			if l.Tagged > 0 {
				tag = fmt.Sprintf("%d/%d", l.Correct, l.Clips)
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %.1f%% | %.1f%% | %s | %.1f | %.3f |\n", l.Language, l.Clips, l.Metric, 100*l.Rate, 100*l.RateNumbers, tag, l.AudioSec, l.RTF)
		}
		b.WriteString("\n")
	}
	if r.WER != nil {
		fmt.Fprintf(&b, "- **WER** (English, corpus level): %.1f%%\n", 100**r.WER)
	}
	if r.CER != nil {
		fmt.Fprintf(&b, "- **CER** (Chinese, corpus level): %.1f%%\n", 100**r.CER)
	}
	if r.CERNumbers != nil {
		fmt.Fprintf(&b, "- **CER, numbers normalised** (一二 and 12 alike): %.1f%%\n", 100**r.CERNumbers)
	}
	fmt.Fprintf(&b, "- Real-time factor: %.3f (%.1f s of audio)\n", r.RTF, r.AudioSec)
	fmt.Fprintf(&b, "- Endpoint delay (end of speech to endpoint decision, stream time): p50 %.0f ms, p99 %.0f ms (n=%d)\n", r.Endpoint.P50, r.Endpoint.P99, r.Endpoint.N)
	fmt.Fprintf(&b, "- Final latency (endpoint decision to final result, wall time): p50 %.0f ms, p99 %.0f ms\n", r.Finalize.P50, r.Finalize.P99)
	fmt.Fprintf(&b, "- End of speech to final: p50 %.0f ms, p95 %.0f ms, p99 %.0f ms\n", r.EndToFinal.P50, r.EndToFinal.P95, r.EndToFinal.P99)
	if r.Failures > 0 {
		fmt.Fprintf(&b, "- Failed clips: %d (scored as all deletions)\n", r.Failures)
	}
	for _, c := range r.Clips {
		if c.Error != "" {
			fmt.Fprintf(&b, "  - %s: %s\n", c.File, c.Error)
		}
	}
	return b.String()
}
