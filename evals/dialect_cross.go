package evals

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/classifier"
)

// DialectCrossReport evaluates the variety identifier across corpora. The
// headline is cross-corpus: for each corpus, a model built by the served
// constructor from all the other corpora is tested on every sentence of it,
// so no sentence, speaker or phrasing of the test corpus was seen. In-corpus
// figures (the served model on each corpus's held-out test part) come
// second. The marker rule (classifier.MarkerRule) is scored on the same
// sentences as the simple peer to beat.
type DialectCrossReport struct {
	Engine  string `json:"engine"`
	Machine string `json:"machine,omitempty"`
	// Served describes the model the service runs (the one scored
	// in-corpus): where it came from and its data.
	Served string                  `json:"served"`
	Data   []classifier.DataSource `json:"data"`
	// Cross holds one report per held-out corpus; Pooled sums them.
	Cross  []*DialectReport `json:"cross_corpus"`
	Pooled *DialectReport   `json:"cross_corpus_pooled"`
	// MarkerRule are the peer's reports on the same sentences as Cross.
	MarkerRule       []*DialectReport `json:"marker_rule_cross_corpus"`
	MarkerRulePooled *DialectReport   `json:"marker_rule_pooled"`
	// CmnYue compares model and rule on the Mandarin and Cantonese
	// sentences only, the only classes the rule knows.
	CmnYue, CmnYueRule *DialectReport `json:"-"`
	CmnYueAcc          float64        `json:"cross_corpus_cmn_yue_accuracy"`
	CmnYueRuleAcc      float64        `json:"marker_rule_cmn_yue_accuracy"`
	// InCorpus is the served model on each corpus's test part.
	InCorpus []*DialectReport `json:"in_corpus"`
	// Outside is the served model (and OutsideRule the marker rule) on a
	// set given with --test, when one is.
	Outside     *DialectReport `json:"outside,omitempty"`
	OutsideRule *DialectReport `json:"outside_marker_rule,omitempty"`
}

// DialectBuilder builds a model from corpora the way the served model is
// built (classifier.BuildVariety with the served options).
type DialectBuilder func(ctx context.Context, corpora []classifier.Corpus) (*classifier.VarietyModel, error)

// RunDialectCross runs the cross-corpus and in-corpus evaluations. served
// is the identifier the service runs; build makes the leave-one-corpus-out
// models with the same constructor.
func RunDialectCross(ctx context.Context, corpora []classifier.Corpus, served *classifier.Identifier, build DialectBuilder, log *slog.Logger) (*DialectCrossReport, error) {
	if len(corpora) < 2 {
		return nil, fmt.Errorf("%w: cross-corpus evaluation needs two corpora or more, have %d", ErrDataset, len(corpora))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep := &DialectCrossReport{Engine: "variety model (markers + character n-grams) behind lingua-go", Data: served.Variety().Data}
	var pooled, pooledRule, cy, cyRule []DialectItem
	var poolPred, poolRule []call.LanguageResult
	var cyPred, cyRulePred []call.LanguageResult
	for i, held := range corpora {
		var rest []classifier.Corpus
		for j, c := range corpora {
			if j != i {
				rest = append(rest, c)
			}
		}
		m, err := build(ctx, rest)
		if err != nil {
			return nil, fmt.Errorf("cross-corpus model without %s: %w", held.Name, err)
		}
		id, err := classifier.NewIdentifier(m, log)
		if err != nil {
			return nil, err
		}
		items := dialectItems(held.All())
		var preds, rule []call.LanguageResult
		r, err := RunDialect(ctx, rep.Engine, held.Name+" (model trained without it)", items, recordPred(id.Identify, &preds))
		if err != nil {
			return nil, fmt.Errorf("cross-corpus %s: %w", held.Name, err)
		}
		r.Train = trainSize(rest)
		rr, err := RunDialect(ctx, "marker rule", held.Name, items, recordPred(ruleIdentify, &rule))
		if err != nil {
			return nil, err
		}
		rep.Cross = append(rep.Cross, r)
		rep.MarkerRule = append(rep.MarkerRule, rr)
		pooled = append(pooled, items...)
		pooledRule = append(pooledRule, items...)
		poolPred = append(poolPred, preds...)
		poolRule = append(poolRule, rule...)
		for k, it := range items {
			if it.Variety == call.LangMandarin || it.Variety == call.LangCantonese {
				cy = append(cy, it)
				cyRule = append(cyRule, it)
				cyPred = append(cyPred, preds[k])
				cyRulePred = append(cyRulePred, rule[k])
			}
		}
		log.Info("cross-corpus", "held_out", held.Name, "accuracy", r.Accuracy, "marker_rule", rr.Accuracy)
	}
	var err error
	if rep.Pooled, err = RunDialect(ctx, rep.Engine, "all corpora, each by a model trained without it", pooled, replay(poolPred)); err != nil {
		return nil, err
	}
	if rep.MarkerRulePooled, err = RunDialect(ctx, "marker rule", "all corpora", pooledRule, replay(poolRule)); err != nil {
		return nil, err
	}
	if len(cy) > 0 {
		if rep.CmnYue, err = RunDialect(ctx, rep.Engine, "Mandarin and Cantonese sentences", cy, replay(cyPred)); err != nil {
			return nil, err
		}
		if rep.CmnYueRule, err = RunDialect(ctx, "marker rule", "Mandarin and Cantonese sentences", cyRule, replay(cyRulePred)); err != nil {
			return nil, err
		}
		rep.CmnYueAcc, rep.CmnYueRuleAcc = rep.CmnYue.Accuracy, rep.CmnYueRule.Accuracy
	}
	for _, c := range corpora {
		if len(c.Test) == 0 {
			continue
		}
		r, err := RunDialect(ctx, rep.Engine, c.Name+" test part (served model)", dialectItems(c.Test), served.Identify)
		if err != nil {
			return nil, fmt.Errorf("in-corpus %s: %w", c.Name, err)
		}
		rep.InCorpus = append(rep.InCorpus, r)
	}
	return rep, nil
}

func ruleIdentify(ctx context.Context, text string, _ call.Language) (call.LanguageResult, error) {
	return call.LanguageResult{Language: classifier.MarkerRule(text)}, ctx.Err()
}

// recordPred wraps a predictor, keeping its answers in order.
func recordPred(p DialectPredictor, out *[]call.LanguageResult) DialectPredictor {
	return func(ctx context.Context, text string, tag call.Language) (call.LanguageResult, error) {
		r, err := p(ctx, text, tag)
		*out = append(*out, r)
		return r, err
	}
}

// replay answers with recorded results, in order (pooled reports are
// built from answers already given, not by predicting again).
func replay(rs []call.LanguageResult) DialectPredictor {
	i := 0
	return func(context.Context, string, call.Language) (call.LanguageResult, error) {
		r := rs[i]
		i++
		return r, nil
	}
}

func dialectItems(ex []classifier.VarietyExample) []DialectItem {
	out := make([]DialectItem, len(ex))
	for i, e := range ex {
		out[i] = DialectItem{Text: e.Text, Variety: e.Variety, Source: e.Source}
	}
	return out
}

func trainSize(cs []classifier.Corpus) int {
	n := 0
	for _, c := range cs {
		n += len(c.Train)
	}
	return n
}

// Markdown renders the report, cross-corpus first.
func (r *DialectCrossReport) Markdown() string {
	var b strings.Builder
	b.WriteString("# Chinese variety identification: cross-corpus and in-corpus\n\n")
	if r.Machine != "" {
		fmt.Fprintf(&b, "Machine: %s\n\n", r.Machine)
	}
	fmt.Fprintf(&b, "Served model: %s\n\n", r.Served)
	if len(r.Data) > 0 {
		b.WriteString("| corpus | sha256 | train | validation |\n|---|---|---:|---:|\n")
		for _, d := range r.Data {
			fmt.Fprintf(&b, "| %s | `%.16s…` | %d | %d |\n", d.Name, d.SHA256, d.Train, d.Validation)
		}
		b.WriteString("\n")
	}
	if r.Outside != nil {
		fmt.Fprintf(&b, "## Outside set: %s\n\n", r.Outside.Dataset)
		fmt.Fprintf(&b, "Served model accuracy **%.4f** (macro-F1 %.4f, unsure %d); marker rule %.4f, on %d sentences.\n\n",
			r.Outside.Accuracy, r.Outside.MacroF1, r.Outside.Undetermined, r.OutsideRule.Accuracy, r.Outside.Test)
		b.WriteString(r.Outside.MatrixMarkdown())
		b.WriteString("\n")
	}
	b.WriteString("## Cross-corpus (headline): each corpus tested whole by a model built without it\n\n")
	b.WriteString("Latency is per sentence and includes the (re)trained models' cold caches.\n\n")
	b.WriteString("| held-out corpus | sentences | model accuracy | macro-F1 | unsure | marker rule accuracy |\n|---|---:|---:|---:|---:|---:|\n")
	for i, c := range r.Cross {
		fmt.Fprintf(&b, "| %s | %d | **%.4f** | %.4f | %d | %.4f |\n", strings.TrimSuffix(c.Dataset, " (model trained without it)"), c.Test, c.Accuracy, c.MacroF1, c.Undetermined, r.MarkerRule[i].Accuracy)
	}
	if r.Pooled != nil {
		fmt.Fprintf(&b, "| **pooled** | %d | **%.4f** | %.4f | %d | %.4f |\n", r.Pooled.Test, r.Pooled.Accuracy, r.Pooled.MacroF1, r.Pooled.Undetermined, r.MarkerRulePooled.Accuracy)
	}
	if r.CmnYue != nil {
		fmt.Fprintf(&b, "| Mandarin + Cantonese only | %d | **%.4f** | %.4f | %d | %.4f |\n", r.CmnYue.Test, r.CmnYue.Accuracy, r.CmnYue.MacroF1, r.CmnYue.Undetermined, r.CmnYueRule.Accuracy)
	}
	if r.Pooled != nil {
		b.WriteString("\nPer class, pooled over the held-out corpora (other Chinese = zh; wuu is Wu):\n\n")
		b.WriteString("| variety | support | precision | recall | F1 | marker rule recall |\n|---|---:|---:|---:|---:|---:|\n")
		labels := []string{}
		for _, s := range r.Pooled.PerVariety {
			labels = append(labels, s.Intent)
		}
		sort.Strings(labels)
		for _, l := range labels {
			s := r.Pooled.Score(l)
			fmt.Fprintf(&b, "| %s | %d | %.3f | %.3f | %.3f | %.3f |\n", l, s.Support, s.Precision, s.Recall, s.F1, r.MarkerRulePooled.Score(l).Recall)
		}
		b.WriteString("\nConfusion matrix, pooled cross-corpus:\n\n")
		b.WriteString(r.Pooled.MatrixMarkdown())
		b.WriteString("\nMarker rule, same sentences:\n\n")
		b.WriteString(r.MarkerRulePooled.MatrixMarkdown())
	}
	for _, c := range r.Cross {
		fmt.Fprintf(&b, "\n### %s\n\n", c.Dataset)
		b.WriteString("| variety | support | precision | recall | F1 |\n|---|---:|---:|---:|---:|\n")
		for _, s := range c.PerVariety {
			fmt.Fprintf(&b, "| %s | %d | %.3f | %.3f | %.3f |\n", s.Intent, s.Support, s.Precision, s.Recall, s.F1)
		}
		b.WriteString("\n")
		b.WriteString(c.MatrixMarkdown())
	}
	b.WriteString("\n## In-corpus: the served model on each corpus's held-out test part\n\n")
	b.WriteString("These sentences come from corpora the served model trained on (other sentences of them): a\nfigure of how well it learnt them, not of how it carries over.\n\n")
	b.WriteString("| corpus | sentences | accuracy | macro-F1 | unsure | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range r.InCorpus {
		fmt.Fprintf(&b, "| %s | %d | %.4f | %.4f | %d | %.3f | %.3f |\n", strings.TrimSuffix(c.Dataset, " test part (served model)"), c.Test, c.Accuracy, c.MacroF1, c.Undetermined, c.Latency.P50, c.Latency.P99)
	}
	return b.String()
}

// ReadDialectTSV reads labelled sentences for `eval dialect --test`: one
// per line, "variety<TAB>text", variety one of cmn, yue, wuu or zh (zh:
// another Chinese variety); blank lines and lines starting with # are
// skipped.
func ReadDialectTSV(r io.Reader, name string) ([]DialectItem, error) {
	var out []DialectItem
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(t) == "" || strings.HasPrefix(t, "#") {
			continue
		}
		v, text, ok := strings.Cut(t, "\t")
		if !ok || strings.TrimSpace(text) == "" {
			return nil, fmt.Errorf("%w: %s:%d: want variety<TAB>text", ErrDataset, name, line)
		}
		l := call.Language(strings.TrimSpace(v))
		switch l {
		case call.LangMandarin, call.LangCantonese, call.LangWu, call.LangChinese:
		default:
			return nil, fmt.Errorf("%w: %s:%d: variety %q (want cmn, yue, wuu or zh)", ErrDataset, name, line, v)
		}
		out = append(out, DialectItem{Text: text, Variety: l, Source: name})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDataset, name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s: no sentences", ErrDataset, name)
	}
	return out, nil
}

// RunDialectFile scores the served identifier and the marker rule on
// outside sentences (a set none of the corpora holds).
func RunDialectFile(ctx context.Context, items []DialectItem, served *classifier.Identifier, name string) (model, rule *DialectReport, err error) {
	if model, err = RunDialect(ctx, "variety model (served)", name, items, served.Identify); err != nil {
		return nil, nil, err
	}
	if rule, err = RunDialect(ctx, "marker rule", name, items, ruleIdentify); err != nil {
		return nil, nil, err
	}
	return model, rule, nil
}
