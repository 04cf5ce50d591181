package nlu

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/callbrief/callbrief/nlu/dense"
	"github.com/callbrief/callbrief/nlu/linear"
)

// HybridName is the engine name of a classification that used both the
// sparse model and the sentence embedding.
const HybridName = "embedded+e5"

// QueryEmbed embeds one utterance as a query. The served one goes through
// a per-utterance cache shared with the knowledge-base search, so the
// utterance is embedded once per turn.
type QueryEmbed func(ctx context.Context, text string) ([]float32, error)

// Dense is the embedding side of a hybrid classifier: a linear head over
// the utterance's sentence embedding whose scores are added, weighted, to
// the sparse model's, with the temperature and out-of-scope threshold of
// the sum fitted on validation data.
type Dense struct {
	Head        *dense.Head
	Weight      float64 // of the head's scores against the sparse model's
	Temperature float64
	// Threshold rejects a prediction whose score is below it: the fused
	// probability, times exp(NoveltyWeight*(similarity-1)) when Novelty
	// is set.
	Threshold float64
	// Novelty holds the in-scope training embeddings; an utterance far
	// from all of them is more likely out of scope than its softmax says.
	// NoveltyWeight (alpha) is fitted on validation with the threshold;
	// nil when validation had no out-of-scope items or alpha 0 won.
	Novelty       *dense.Neighbours
	NoveltyWeight float64
	Embed         QueryEmbed
	// Wait bounds how long Classify waits for the embedding (0: as long
	// as the context allows). Past it the sparse model answers alone, with
	// its own calibration, and the embedding still lands in the shared
	// cache for the knowledge-base search.
	Wait time.Duration
}

// DenseTraining is what TrainHybrid needs besides the sparse options.
type DenseTraining struct {
	// Embeddings embeds training and validation texts (in bulk, usually
	// through a dense.Store).
	Embeddings func(ctx context.Context, texts []string) ([][]float32, error)
	// Embed is the served per-utterance embedder.
	Embed QueryEmbed
	Head  dense.HeadOptions
	Wait  time.Duration
}

// weightGrid are the head weights tried on validation. The sparse
// model's margins are about 1 while the head's logits run to 10 or more,
// hence the small steps below 1.
var weightGrid = []float64{0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1, 1.5, 2, 3}

// noveltyGrid are the weights of the neighbour similarity tried on
// validation (0: the softmax alone). Cosines of e5 embeddings of related
// sentences differ by a few hundredths, hence weights of tens.
var noveltyGrid = []float64{0, 5, 10, 20, 40}

// noveltyK is how many nearest training utterances are averaged: one is
// at the mercy of a single odd training line, many blur the intents'
// edges. Chosen on CLINC150's validation split, halves swapped, with
// 1 and 5 tried.
const noveltyK = 5

// TrainHybrid trains the sparse model and a head over sentence embeddings
// and fits how to add them up. Validation is opt.Validation, else a
// stratified opt.ValidationFraction of train (both models are then
// refitted on all of it, keeping the weight and calibration found). The
// sparse model keeps a calibration of its own for turns whose embedding
// does not come in time.
func TrainHybrid(ctx context.Context, train []linear.Example, opt linear.Options, eo EmbeddedOptions, dt DenseTraining) (*Embedded, error) {
	if dt.Embeddings == nil || dt.Embed == nil {
		return nil, fmt.Errorf("%w: hybrid training needs an embedder", ErrModel)
	}
	val, fit, refit := opt.Validation, train, false
	if len(val) == 0 {
		frac := opt.ValidationFraction
		if frac <= 0 {
			frac = 0.1
		}
		fit, val = linear.Split(train, frac, opt.Seed)
		refit = true
	}
	budget := opt.MaxInScopeLoss
	if budget <= 0 {
		budget = 0.015
	}
	sopt := opt
	sopt.Validation, sopt.ValidationFraction = val, 0
	sparse, err := linear.Train(ctx, fit, sopt)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	classOf := map[string]int{}
	for i, l := range sparse.Labels {
		classOf[l] = i
	}
	head, fitVecs, err := trainHead(ctx, fit, sparse.Labels, classOf, dt)
	if err != nil {
		return nil, err
	}
	// Validation scores of both sides (out-of-scope items are y = -1
	// unless the data has an explicit out-of-scope class).
	texts := make([]string, 0, len(val)+len(opt.OOSValidation))
	ys := make([]int, 0, cap(texts))
	oosClass := -1
	if c, ok := classOf[opt.OOSLabel]; ok && opt.OOSLabel != "" {
		oosClass = c
	}
	for _, e := range val {
		y, ok := classOf[e.Label]
		if !ok || e.Label == opt.OOSLabel {
			y = -1
		}
		texts, ys = append(texts, e.Text), append(ys, y)
	}
	for _, e := range opt.OOSValidation {
		texts, ys = append(texts, e.Text), append(ys, -1)
	}
	vecs, err := dt.Embeddings(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("%w: embedding validation: %w", ErrModel, err)
	}
	ss := make([][]float64, len(texts))
	ds := make([][]float64, len(texts))
	for i, t := range texts {
		ss[i] = sparse.Logits(t)
		if ds[i], err = head.Logits(vecs[i]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrModel, err)
		}
	}
	// The weight with the best validation accuracy (out of scope counted
	// right when it is the best class); among equals, the one whose
	// calibrated probabilities fit validation best (lowest log-loss).
	bestW, bestAcc, bestNLL := 0.0, -1.0, math.Inf(1)
	fusedAt := func(w float64) [][]float64 {
		out := make([][]float64, len(texts))
		for i := range texts {
			out[i] = fuse(ss[i], ds[i], w)
		}
		return out
	}
	for _, w := range weightGrid {
		ok := 0
		for i := range texts {
			best := argmaxFused(ss[i], ds[i], w)
			if best == ys[i] || (ys[i] < 0 && best == oosClass) {
				ok++
			}
		}
		acc := float64(ok) / float64(len(texts))
		if acc < bestAcc-1e-9 {
			continue
		}
		f := fusedAt(w)
		t, _ := linear.CalibrateLogits(f, ys, oosClass, budget)
		nll := logLoss(f, ys, oosClass, t)
		if acc > bestAcc+1e-9 || nll < bestNLL {
			bestW, bestAcc, bestNLL = w, acc, nll
		}
	}
	fused := make([][]float64, len(texts))
	for i := range texts {
		fused[i] = fuse(ss[i], ds[i], bestW)
	}
	temp, thr := linear.CalibrateLogits(fused, ys, oosClass, budget)
	var alpha float64
	nb, err := inScopeNeighbours(fit, fitVecs, opt.OOSLabel)
	if err != nil {
		return nil, err
	}
	if nb != nil && hasOOS(ys) {
		sims := make([]float64, len(vecs))
		for i, v := range vecs {
			if sims[i], err = nb.Similarity(v); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrModel, err)
			}
		}
		alpha, thr = calibrateNovelty(fused, sims, ys, oosClass, temp, budget)
	}
	if refit {
		// Sparse on all data with its own held-out calibration (its
		// fallback), head on all data.
		full := opt
		full.Validation = nil
		if full.ValidationFraction <= 0 {
			full.ValidationFraction = 0.1
		}
		if sparse, err = linear.Train(ctx, train, full); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrModel, err)
		}
		if head, fitVecs, err = trainHead(ctx, train, sparse.Labels, classOf, dt); err != nil {
			return nil, err
		}
		fit = train
	}
	var novelty *dense.Neighbours
	if alpha > 0 {
		// Every in-scope training line, the validation's included after a
		// refit.
		if novelty, err = inScopeNeighbours(fit, fitVecs, opt.OOSLabel); err != nil {
			return nil, err
		}
	}
	if eo.Rules == nil {
		eo.Rules = []Rule{}
	}
	e, err := NewEmbedded(sparse, eo)
	if err != nil {
		return nil, err
	}
	e.dense = &Dense{Head: head, Weight: bestW, Temperature: temp, Threshold: thr, Novelty: novelty, NoveltyWeight: alpha, Embed: dt.Embed, Wait: dt.Wait}
	e.log.Debug("hybrid intent model trained", "weight", bestW, "validation_accuracy", bestAcc, "temperature", temp, "oos_threshold", thr, "novelty_weight", alpha)
	return e, nil
}

func trainHead(ctx context.Context, data []linear.Example, labels []string, classOf map[string]int, dt DenseTraining) (*dense.Head, [][]float32, error) {
	texts := make([]string, len(data))
	ys := make([]int, len(data))
	for i, e := range data {
		c, ok := classOf[e.Label]
		if !ok {
			return nil, nil, fmt.Errorf("%w: label %q is not among the model's", ErrModel, e.Label)
		}
		texts[i], ys[i] = e.Text, c
	}
	vecs, err := dt.Embeddings(ctx, texts)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: embedding training data: %w", ErrModel, err)
	}
	h, err := dense.TrainHead(ctx, vecs, ys, len(labels), dt.Head)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	return h, vecs, nil
}

// logLoss is the mean negative log-likelihood of the gold classes at
// temperature t (out-of-scope items count only with an explicit class).
func logLoss(logits [][]float64, ys []int, oosClass int, t float64) float64 {
	var sum float64
	n := 0
	for i, l := range logits {
		y := ys[i]
		if y < 0 {
			y = oosClass
		}
		if y < 0 {
			continue
		}
		mx := math.Inf(-1)
		for _, v := range l {
			mx = max(mx, v/t)
		}
		var z float64
		for _, v := range l {
			z += math.Exp(v/t - mx)
		}
		sum += math.Log(z) + mx - l[y]/t
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

func fuse(s, d []float64, w float64) []float64 {
	out := make([]float64, len(s))
	for c := range s {
		out[c] = s[c] + w*d[c]
	}
	return out
}

func argmaxFused(s, d []float64, w float64) int {
	best, bv := 0, math.Inf(-1)
	for c := range s {
		if v := s[c] + w*d[c]; v > bv {
			best, bv = c, v
		}
	}
	return best
}

// Dense returns the embedding side, nil for a sparse-only classifier.
func (e *Embedded) Dense() *Dense { return e.dense }

// embedWithin gets the utterance's embedding within the wait budget; nil
// when it failed or came too late.
func (e *Embedded) embedWithin(ctx context.Context, text string, wait time.Duration) []float32 {
	d := e.dense
	if wait <= 0 {
		v, err := d.Embed(ctx, text)
		if err != nil {
			e.log.Warn("utterance embedding failed, sparse model alone", "err", err)
			return nil
		}
		return v
	}
	type answer struct {
		v   []float32
		err error
	}
	ch := make(chan answer, 1) // buffered: a late answer never blocks
	go func() {
		// Not cancelled with the turn: an embedding that finishes late
		// still fills the cache the knowledge-base search reads.
		v, err := d.Embed(context.WithoutCancel(ctx), text)
		ch <- answer{v, err}
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case a := <-ch:
		if a.err != nil {
			e.log.Warn("utterance embedding failed, sparse model alone", "err", a.err)
			return nil
		}
		return a.v
	case <-t.C:
		e.log.Debug("utterance embedding late, sparse model alone", "wait", wait)
	case <-ctx.Done():
	}
	return nil
}

// predict is the model's prediction, fused with the embedding head when
// there is one and the embedding came in time.
func (e *Embedded) predict(ctx context.Context, text string, wait time.Duration) (linear.Prediction, string) {
	if e.dense == nil {
		return e.model.Predict(text, e.topK), EmbeddedName
	}
	v := e.embedWithin(ctx, text, wait)
	if v == nil {
		return e.model.Predict(text, e.topK), EmbeddedName
	}
	s, known := e.model.Scores(text)
	d, err := e.dense.Head.Logits(v)
	if err != nil {
		e.log.Warn("embedding does not fit the head, sparse model alone", "err", err)
		return e.model.Predict(text, e.topK), EmbeddedName
	}
	p := e.model.Decide(fuse(s, d, e.dense.Weight), e.topK, e.dense.Temperature, 0)
	if thr := e.dense.Threshold; thr > 0 && p.Label != e.model.OOSLabel {
		score := p.Confidence
		if nb := e.dense.Novelty; nb != nil {
			sim, err := nb.Similarity(v)
			if err == nil && math.IsNaN(sim) {
				err = fmt.Errorf("%w: similarity is NaN (an embedding with NaN values)", ErrModel)
			}
			if err != nil {
				e.log.Warn("embedding does not fit the neighbours, softmax alone", "err", err)
			} else {
				score *= math.Exp(e.dense.NoveltyWeight * (sim - 1))
			}
		}
		p.Rejected = score < thr
	}
	// The embedding knows every text, so the sparse model's having seen
	// none of its features no longer means a prior-only answer.
	p.Known = max(known, 1)
	return p, HybridName
}

// inScopeNeighbours are the embeddings of data's in-scope lines; nil when
// there are none.
func inScopeNeighbours(data []linear.Example, vecs [][]float32, oosLabel string) (*dense.Neighbours, error) {
	keep := make([][]float32, 0, len(vecs))
	for i, e := range data {
		if oosLabel == "" || e.Label != oosLabel {
			keep = append(keep, vecs[i])
		}
	}
	if len(keep) == 0 {
		return nil, nil
	}
	nb, err := dense.NewNeighbours(keep, noveltyK)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	return nb, nil
}

func hasOOS(ys []int) bool {
	for _, y := range ys {
		if y < 0 {
			return true
		}
	}
	return false
}

// calibrateNovelty picks the weight of the neighbour similarity and the
// rejection threshold on validation: for each weight, the highest
// threshold on p*exp(alpha*(sim-1)) that costs at most budget of in-scope
// accuracy; the weight whose threshold rejects the most out-of-scope
// items wins (ties: the smaller weight).
func calibrateNovelty(fused [][]float64, sims []float64, ys []int, oosClass int, temp, budget float64) (alpha, threshold float64) {
	type dec struct {
		best    int
		p       float64
		correct bool
	}
	decs := make([]dec, len(fused))
	nIn := 0
	for i, l := range fused {
		p := append([]float64(nil), l...)
		mx := math.Inf(-1)
		for _, v := range p {
			mx = max(mx, v)
		}
		var z float64
		best := 0
		for c, v := range p {
			p[c] = math.Exp((v - mx) / temp)
			z += p[c]
			if v > l[best] {
				best = c
			}
		}
		decs[i] = dec{best, p[best] / z, ys[i] >= 0 && best == ys[i] && best != oosClass}
		if ys[i] >= 0 {
			nIn++
		}
	}
	if nIn == 0 {
		return 0, 0
	}
	drop := int(budget*float64(nIn) + 1e-9) // in-scope hits the threshold may cost
	bestRecall := -1.0
	for _, a := range noveltyGrid {
		score := func(i int) float64 { return decs[i].p * math.Exp(a*(sims[i]-1)) }
		var kept []float64
		for i := range decs {
			if decs[i].correct {
				kept = append(kept, score(i))
			}
		}
		sort.Float64s(kept)
		t := 0.0
		switch {
		case drop > 0 && drop < len(kept):
			// Between the last hit given up and the first one kept.
			t = (kept[drop-1] + kept[drop]) / 2
		case drop == 0 && len(kept) > 0:
			// No hit may be given up (a small validation set): between the
			// lowest hit and the highest other score below it.
			below := 0.0
			for i := range decs {
				if s := score(i); !decs[i].correct && s < kept[0] {
					below = max(below, s)
				}
			}
			t = (below + kept[0]) / 2
		}
		nO, rej := 0, 0
		for i := range decs {
			if ys[i] >= 0 {
				continue
			}
			nO++
			if decs[i].best == oosClass || score(i) < t {
				rej++
			}
		}
		recall := float64(rej) / float64(max(nO, 1))
		if recall > bestRecall+1e-12 {
			bestRecall, alpha, threshold = recall, a, t
		}
	}
	return alpha, threshold
}
