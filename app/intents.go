package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/handoff/kb/e5"
	"github.com/callbrief/callbrief/handoff/kb/lexical"
	"github.com/callbrief/callbrief/nlu"
	"github.com/callbrief/callbrief/nlu/dense"
	"github.com/callbrief/callbrief/nlu/linear"
	"github.com/callbrief/callbrief/nlu/relevance"
	"github.com/callbrief/callbrief/pipeline"
)

// QueryEmbedder is the process's one e5 embedder behind the per-utterance
// cache: the intent classifier and the knowledge-base search both use it,
// so a turn is embedded once. Opened on first use.
func (e *Engines) QueryEmbedder(ctx context.Context) (*kb.QueryCache, error) {
	e.embOnce.Do(func() {
		emb, err := e5.Open(ctx, e5.Options{Cache: e.cache, Logger: e.log})
		if err != nil {
			e.embErr = err
			return
		}
		e.closers = append(e.closers, emb.Close)
		e.emb = kb.NewQueryCache(emb, 0)
	})
	return e.emb, e.embErr
}

// embeddingStore keeps the embeddings of training texts in the model
// cache, so that a model is retrained (at every start, or per evaluation)
// without embedding its data again.
func (e *Engines) embeddingStore(emb kb.Embedder) (*dense.Store, error) {
	dir := filepath.Join(e.cache.Dir, "embeddings")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return dense.OpenStore(filepath.Join(dir, emb.Name()+".bin"), emb.Name(), emb.Dim())
}

// IntentTrainer trains intent classifiers the way the served one is
// trained: the sparse model plus, when intent.dense is e5 and the model is
// in the cache, a head over the utterance's e5 embedding. dense reports
// which was built.
func (e *Engines) IntentTrainer(ctx context.Context) (train func(ctx context.Context, data []linear.Example, opt linear.Options, eo nlu.EmbeddedOptions) (*nlu.Embedded, error), dense bool) {
	sparse := func(ctx context.Context, data []linear.Example, opt linear.Options, eo nlu.EmbeddedOptions) (*nlu.Embedded, error) {
		return nlu.TrainEmbedded(ctx, data, opt, eo)
	}
	if e.cfg.Intent.Dense != "e5" {
		return sparse, false
	}
	qc, err := e.QueryEmbedder(ctx)
	if err != nil {
		e.log.Warn("no e5 embedder: the intent model is the sparse one alone", "err", err)
		return sparse, false
	}
	st, err := e.embeddingStore(qc)
	if err != nil {
		e.log.Warn("no embedding store: the intent model is the sparse one alone", "err", err)
		return sparse, false
	}
	bulk := func(ctx context.Context, texts []string) ([][]float32, error) {
		n := 0
		return st.Embeddings(ctx, texts, func(ctx context.Context, t []string) ([][]float32, error) {
			return qc.Embedder.Embed(ctx, t, kb.Query)
		}, 32, func(done, total int) {
			if done-n >= 1000 || done == total {
				n = done
				e.log.Info("embedding training texts", "done", done, "of", total)
			}
		})
	}
	dt := nlu.DenseTraining{Embeddings: bulk, Embed: qc.Query, Wait: e.cfg.Intent.EmbedWait}
	return func(ctx context.Context, data []linear.Example, opt linear.Options, eo nlu.EmbeddedOptions) (*nlu.Embedded, error) {
		return nlu.TrainHybrid(ctx, data, opt, eo, dt)
	}, true
}

// Understanding builds what turns a transcript into meaning, exactly as
// `serve` runs it: the taxonomy, the intent model (from files.intent_model,
// else trained from the taxonomy (files.taxonomy, else the embedded one)
// now, with the e5 head when
// intent.dense is e5) and the language and Chinese-variety identifier.
func (e *Engines) Understanding(ctx context.Context) (pipeline.Understand, error) {
	cfg, log := e.cfg, e.log
	tax, err := Taxonomy(cfg)
	if err != nil {
		return pipeline.Understand{}, err
	}
	ex, err := TaxonomyExamples(tax)
	if err != nil {
		return pipeline.Understand{}, err
	}
	eo, err := Guards(ctx, ex, cfg.Intent.OffTopic == "reject", nlu.EmbeddedOptions{Log: log, Rules: nlu.DefaultRules})
	if err != nil {
		return pipeline.Understand{}, err
	}
	var intents *nlu.Embedded
	if cfg.Files.IntentModel != "" {
		intents, err = nlu.LoadEmbedded(cfg.Files.IntentModel, eo)
		if err == nil {
			err = checkModelLabels(cfg.Files.IntentModel, intents.Model().Labels, tax)
		}
	} else {
		train, _ := e.IntentTrainer(ctx)
		intents, err = train(ctx, ex, nlu.HotlineOptions(), eo)
	}
	if err != nil {
		return pipeline.Understand{}, fmt.Errorf("intent model: %w", err)
	}
	lid, err := LanguageIdentifier(ctx, cfg.Files.VarietyModel, log)
	if err != nil {
		return pipeline.Understand{}, err
	}
	u := pipeline.Understand{Intents: intents, Language: lid, Taxonomy: tax, RefineWait: cfg.Intent.RefineWait}
	if m, err := ReadKBMeta(KBDir(cfg.CacheDir, cfg.KB.Dir)); err == nil && cfg.Intent.Dense == "e5" && strings.HasPrefix(m.Embedder, "multilingual-e5") {
		// The brief's KB search embeds a Cantonese caller's words folded to
		// Mandarin (kb.DenseQuery), not as the intent step did: start that
		// embedding now, after the intent (never competing with it for the
		// cores), so the brief finds it done or in flight.
		qc, err := e.QueryEmbedder(ctx)
		if err != nil {
			return pipeline.Understand{}, err
		}
		u.Prefetch = func(text string, lang call.Language) {
			if q := kb.DenseQuery(text, string(lang), true, lexical.Normalize); q != text {
				qc.Warm(q)
			}
		}
	}
	return u, nil
}

// TaxonomyExamples are the taxonomy's training utterances as examples.
func TaxonomyExamples(tax *taxonomy.Taxonomy) ([]linear.Example, error) {
	us, err := tax.Train()
	if err != nil {
		return nil, err
	}
	ex := make([]linear.Example, len(us))
	for i, u := range us {
		ex[i] = linear.Example{Text: u.Text, Label: u.Intent}
	}
	return ex, nil
}

// Guards fits the relevance model to the taxonomy's in-scope training
// utterances (is this the hotline's business at all?) against the
// general-language background built into the binary. It takes
// milliseconds, so an operator's own taxonomy gets its own at start.
// reject says whether off-topic turns are filed out of scope
// (intent.off_topic).
func Guards(ctx context.Context, ex []linear.Example, reject bool, eo nlu.EmbeddedOptions) (nlu.EmbeddedOptions, error) {
	var in []string
	for _, e := range ex {
		if e.Label != string(call.IntentOutOfScope) {
			in = append(in, e.Text)
		}
	}
	var err error
	if eo.Relevance, err = relevanceFrom(ctx, in); err != nil {
		return eo, fmt.Errorf("relevance model: %w", err)
	}
	eo.RejectOffTopic = reject
	return eo, nil
}

// relevanceFrom fits a relevance model to utterances.
func relevanceFrom(ctx context.Context, texts []string) (*relevance.Model, error) {
	bg, err := relevance.DefaultBackground()
	if err != nil {
		return nil, fmt.Errorf("background: %w", err)
	}
	ex := make([]relevance.Example, len(texts))
	for i, t := range texts {
		ex[i] = relevance.Example{Text: t}
	}
	return relevance.Train(ctx, bg, ex, relevance.DefaultOptions())
}

// Understanding is Engines.Understanding for callers that hold no
// engines (the scenario evaluations): the engines it opens live as long as
// the process.
func Understanding(ctx context.Context, cfg config.Config, log *slog.Logger) (pipeline.Understand, error) {
	e, err := NewEngines(cfg, log)
	if err != nil {
		return pipeline.Understand{}, err
	}
	return e.Understanding(ctx)
}

// WarmTurn starts embedding a turn's words as the intent step will embed
// them, in the background, when the served intent model uses e5: a live
// call's turn is recognised at the caller's pause (pipeline's
// PausedTranscriber), a few hundred milliseconds before the endpoint, and
// computing the embedding then lets the intent step at the endpoint find it
// done. Without that head start e5 on a busy machine rarely beats
// intent.embed_wait and the sparse model answers alone.
func (e *Engines) WarmTurn(ctx context.Context, text string) {
	if e.cfg.Intent.Dense != "e5" {
		return
	}
	c, err := nlu.Clean(text)
	if err != nil {
		return // the intent step reports it
	}
	qc, err := e.QueryEmbedder(ctx)
	if err != nil {
		return
	}
	qc.Warm(c)
}
