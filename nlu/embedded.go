package nlu

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/nlu/linear"
	"github.com/callbrief/callbrief/nlu/relevance"
)

// EmbeddedName is the engine name of the embedded classifier.
const EmbeddedName = "embedded"

// EmbeddedOptions configure an Embedded classifier.
type EmbeddedOptions struct {
	// TopK is how many alternatives to return (default 3).
	TopK int
	// Rules override the model when a phrase is heard. nil means
	// DefaultRules (the hotline's emergency rules); an empty non-nil slice
	// disables rules, as for a public dataset with other labels.
	Rules []Rule
	Log   *slog.Logger
	// Relevance, when set, judges whether the utterance is about the
	// hotline's business at all; RejectOffTopic files one that is not out
	// of scope (else its score is only reported).
	Relevance      *relevance.Model
	RejectOffTopic bool
}

// Embedded is the in-process intent classifier: a linear model plus
// emergency rules. It needs no network and answers in well under a
// millisecond.
type Embedded struct {
	model *linear.Model
	rules []Rule
	topK  int
	log   *slog.Logger
	dense *Dense // nil: sparse only
	rel   *relevance.Model
	// rejectOffTopic: see EmbeddedOptions.RejectOffTopic.
	rejectOffTopic bool
}

var _ IntentClassifier = (*Embedded)(nil)

// NewEmbedded wraps a trained model.
func NewEmbedded(m *linear.Model, opt EmbeddedOptions) (*Embedded, error) {
	if m == nil || len(m.Labels) < 2 {
		return nil, fmt.Errorf("%w: no trained model", ErrModel)
	}
	e := &Embedded{model: m, rules: opt.Rules, topK: opt.TopK, log: opt.Log, rel: opt.Relevance, rejectOffTopic: opt.RejectOffTopic}
	if e.rules == nil {
		e.rules = DefaultRules
	}
	if e.topK <= 0 {
		e.topK = 3
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e, nil
}

// LoadEmbedded reads a model file written by `callbrief models train`.
func LoadEmbedded(path string, opt EmbeddedOptions) (*Embedded, error) {
	m, err := linear.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	return NewEmbedded(m, opt)
}

// HotlineOptions are the training options for the hotline's taxonomy: its
// out_of_scope intent is an explicit class and also drives rejection.
func HotlineOptions() linear.Options {
	o := linear.DefaultOptions()
	o.OOSLabel = string(call.IntentOutOfScope)
	o.Epochs = 12
	// Callers' words reach the model through a recognizer that errs by
	// sound: their syllables are features too.
	o.Features.PinyinMax = 2
	// Our data is small and written by us, so validation held out of it
	// is small too; a stratified 15% keeps a few utterances of every intent.
	o.ValidationFraction = 0.15
	return o
}

// TrainHotline trains a model on the embedded taxonomy's training
// utterances. It takes a fraction of a second, so the service can train at
// start when no model file is configured.
func TrainHotline(ctx context.Context, opt linear.Options, log *slog.Logger) (*linear.Model, error) {
	tax, err := taxonomy.Load()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	return TrainTaxonomy(ctx, tax, opt, log)
}

// TrainTaxonomy trains a model on a taxonomy's training utterances (an
// operator's own, or the embedded ones).
func TrainTaxonomy(ctx context.Context, tax *taxonomy.Taxonomy, opt linear.Options, log *slog.Logger) (*linear.Model, error) {
	us, err := tax.Train()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	ex := make([]linear.Example, len(us))
	for i, u := range us {
		ex[i] = linear.Example{Text: u.Text, Label: u.Intent}
	}
	start := time.Now()
	m, err := linear.Train(ctx, ex, opt)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if log != nil {
		log.Info("intent model trained", "examples", len(ex), "intents", len(m.Labels), "features", m.NumFeatures(),
			"temperature", m.Temperature, "oos_threshold", m.Threshold, "took", time.Since(start))
	}
	return m, nil
}

// Model returns the underlying linear model (for saving).
func (e *Embedded) Model() *linear.Model { return e.model }

// Name implements IntentClassifier.
func (e *Embedded) Name() string { return EmbeddedName }

// Close implements IntentClassifier.
func (e *Embedded) Close() error { return nil }

// Classify implements IntentClassifier. lang is not needed: the features
// cover Chinese and English text alike.
func (e *Embedded) Classify(ctx context.Context, text string, lang call.Language) (call.IntentResult, error) {
	var wait time.Duration
	if e.dense != nil {
		wait = e.dense.Wait
	}
	return e.classify(ctx, text, wait)
}

// Refine implements Refiner: the turn classified again, now with the
// embedding if it is ready within wait (it was started by Classify and
// finishes in the background; the query cache keeps it). ok is false when
// there is no embedding head or the embedding is still not there, and the
// first answer stands.
func (e *Embedded) Refine(ctx context.Context, text string, lang call.Language, wait time.Duration) (call.IntentResult, bool, error) {
	if e.dense == nil {
		return call.IntentResult{}, false, nil
	}
	res, err := e.classify(ctx, text, max(wait, time.Nanosecond))
	if err != nil || res.Engine != HybridName {
		return call.IntentResult{}, false, err
	}
	return res, true, nil
}

// classify is Classify with wait as the bound on the embedding (0: as long
// as it takes).
func (e *Embedded) classify(ctx context.Context, text string, wait time.Duration) (call.IntentResult, error) {
	if err := ctx.Err(); err != nil {
		return call.IntentResult{}, err
	}
	text, err := Clean(text)
	if err != nil {
		return call.IntentResult{}, err
	}
	p, engine := e.predict(ctx, text, wait)
	res := call.IntentResult{Intent: call.Intent(p.Label), Confidence: p.Confidence, Engine: engine}
	for _, s := range p.Top {
		res.Alternatives = append(res.Alternatives, call.IntentScore{Intent: e.label(s.Label), Confidence: s.Prob})
	}
	res.Intent = e.label(p.Label)
	switch {
	case p.Known == 0:
		// Nothing the model has seen: its answer would be the class prior.
		res.Intent, res.Rejected = call.IntentOutOfScope, true
	case p.Rejected:
		res.Intent, res.Rejected = call.IntentOutOfScope, true
	}
	if e.rel != nil {
		// The classifier always names its nearest intent; speech that is
		// about something else entirely (a radio, a chat in the room) has
		// no nearest intent worth acting on, least of all an emergency
		// that would jump every queue.
		v := e.rel.Judge(text)
		score := v.Score
		res.Relevance, res.OffTopic = &score, !v.OnTopic
		if !v.OnTopic && e.rejectOffTopic && res.Intent != call.IntentOutOfScope {
			e.log.Debug("off-topic utterance filed out of scope", "model_intent", res.Intent, "relevance", v.Score, "threshold", v.Threshold)
			res.Intent, res.Rejected = call.IntentOutOfScope, true
		}
	}
	if m, ok := matchRules(e.rules, text); ok && res.Intent != m.rule.Intent {
		e.log.Debug("emergency rule overrides model", "rule", m.rule.Name, "phrase", m.phrase, "model_intent", res.Intent)
		res.Intent, res.Confidence, res.Rejected = m.rule.Intent, 1, false
		res.Rule = m.rule.Name + ": " + m.phrase
	} else if ok {
		res.Rule = m.rule.Name + ": " + m.phrase
	}
	return res, nil
}

// label maps the model's out-of-scope label to call.IntentOutOfScope.
func (e *Embedded) label(l string) call.Intent {
	if e.model.OOSLabel != "" && l == e.model.OOSLabel {
		return call.IntentOutOfScope
	}
	return call.Intent(l)
}

// TrainEmbedded trains a classifier on any labelled data (a public dataset
// or an operator's own). Rules are off unless eo.Rules sets them, since
// the emergency rules name the hotline's intents.
func TrainEmbedded(ctx context.Context, train []linear.Example, opt linear.Options, eo EmbeddedOptions) (*Embedded, error) {
	m, err := linear.Train(ctx, train, opt)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if eo.Rules == nil {
		eo.Rules = []Rule{}
	}
	return NewEmbedded(m, eo)
}
