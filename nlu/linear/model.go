// Package linear is a small multinomial linear text classifier trained in
// Go: hashed word and character n-grams, TF-IDF with sublinear term
// frequency, L2-normalised, and softmax regression fitted with AdaGrad.
// Probabilities are calibrated with a temperature fitted on held-out data
// and an out-of-scope threshold is tuned there too.
//
// It serves both intent classification (nlu) and Chinese-variety
// classification (classifier): the two differ only in data and features.
package linear

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
)

// Errors.
var (
	// ErrNoData means training was given too few examples or classes.
	ErrNoData = errors.New("linear: not enough training data")
	// ErrModel means a model file is corrupt, truncated or of another version.
	ErrModel = errors.New("linear: bad model")
)

// Example is one labelled text.
type Example struct {
	Text  string
	Label string
}

// Model is a trained classifier. It is safe for concurrent use.
type Model struct {
	Labels   []string
	Features Features
	vocab    map[uint64]int32
	hashes   []uint64  // vocab keys by index, for saving
	idf      []float32 // per feature
	w        []float32 // feature-major: w[f*C+c]
	b        []float32 // per class
	// Temperature divides the logits before the softmax; fitted on
	// validation data so that Confidence means what it says.
	Temperature float64
	// Threshold rejects a best in-scope class whose probability is below
	// it (0 disables rejection).
	Threshold float64
	// OOSLabel is the label of an explicit out-of-scope class, if the
	// training data has one ("" otherwise).
	OOSLabel string

	pool sync.Pool
}

// Options control training.
type Options struct {
	Features Features
	Epochs   int     // passes over the data
	Rate     float64 // AdaGrad learning rate
	L2       float64 // L2 penalty per update on touched weights
	MinDF    int     // drop features seen in fewer training texts
	Seed     uint64
	// Loss is "hinge" (multiclass passive-aggressive with weight
	// averaging: fast, the default) or "log" (softmax regression with
	// AdaGrad: slower, sometimes better calibrated before temperature
	// scaling).
	Loss string
	// Aggressiveness caps a hinge step (PA-I's C); smaller is more
	// regularised.
	Aggressiveness float64
	// OOSLabel names the label that means out of scope ("" if none).
	OOSLabel string
	// Validation is used to fit the temperature and the rejection
	// threshold. When empty and ValidationFraction > 0, a stratified
	// fraction of the training data is held out for this, and the final
	// model is refitted on all of it.
	Validation         []Example
	ValidationFraction float64
	// MaxInScopeLoss is how much validation in-scope accuracy the
	// out-of-scope threshold may cost (default 0.015): the highest
	// threshold within that budget is chosen. Wrongly rejecting a caller
	// with a known need sends them to the general queue, which is worse
	// than letting an out-of-scope call through to an agent who can
	// redirect it, so rejection gets a small fixed budget rather than an
	// equal weight.
	MaxInScopeLoss float64
	// OOSValidation are texts that belong to no class (label ignored),
	// used only to tune the threshold.
	OOSValidation []Example
}

// DefaultOptions work well for intent data of a few thousand to tens of
// thousands of utterances.
func DefaultOptions() Options {
	return Options{Features: DefaultFeatures, Epochs: 8, Rate: 0.5, L2: 1e-6, MinDF: 1, Seed: 1, ValidationFraction: 0.1}
}

// Prediction is the outcome for one text.
type Prediction struct {
	Label      string
	Confidence float64
	Rejected   bool      // best in-scope class fell under the threshold
	Top        []Scored  // best first, length k
	Probs      []float64 // per Labels index
	// Known is how many of the text's features the model saw in
	// training; 0 means the answer is only the class prior.
	Known int
}

// Scored is a label with its probability.
type Scored struct {
	Label string
	Prob  float64
}

// Train fits a model. It honours ctx between epochs.
func Train(ctx context.Context, data []Example, opt Options) (*Model, error) {
	if opt.Epochs <= 0 {
		opt.Epochs = DefaultOptions().Epochs
	}
	if opt.Rate <= 0 {
		opt.Rate = DefaultOptions().Rate
	}
	if opt.Features.HanMax == 0 && opt.Features.WordNgrams == 0 {
		opt.Features = DefaultFeatures
	}
	val := opt.Validation
	fit := data
	refit := false
	if len(val) == 0 && opt.ValidationFraction > 0 {
		fit, val = split(data, opt.ValidationFraction, opt.Seed)
		refit = len(val) > 0
	}
	m, err := train(ctx, fit, opt)
	if err != nil {
		return nil, err
	}
	if len(val) > 0 || len(opt.OOSValidation) > 0 {
		budget := opt.MaxInScopeLoss
		if budget <= 0 {
			budget = 0.015
		}
		m.calibrate(val, opt.OOSValidation, budget)
	}
	if refit {
		full, err := train(ctx, data, opt)
		if err != nil {
			return nil, err
		}
		full.Temperature, full.Threshold = m.Temperature, m.Threshold
		m = full
	}
	return m, nil
}

// Split holds out a stratified fraction of each label's examples (at
// least one from labels with three or more), as Train does for
// calibration.
func Split(data []Example, frac float64, seed uint64) (fit, val []Example) {
	return split(data, frac, seed)
}

// split holds out a fraction of each label's examples (at least one from
// labels with three or more).
func split(data []Example, frac float64, seed uint64) (fit, val []Example) {
	by := map[string][]int{}
	var labels []string
	for i, e := range data {
		if _, ok := by[e.Label]; !ok {
			labels = append(labels, e.Label)
		}
		by[e.Label] = append(by[e.Label], i)
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for _, l := range labels {
		idx := by[l]
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		n := int(math.Round(frac * float64(len(idx))))
		if n == 0 && len(idx) >= 3 {
			n = 1
		}
		for k, i := range idx {
			if k < n {
				val = append(val, data[i])
			} else {
				fit = append(fit, data[i])
			}
		}
	}
	return fit, val
}

func train(ctx context.Context, data []Example, opt Options) (*Model, error) {
	m := &Model{Features: opt.Features, Temperature: 1, OOSLabel: opt.OOSLabel}
	classOf := map[string]int{}
	for _, e := range data {
		if _, ok := classOf[e.Label]; !ok {
			classOf[e.Label] = -1
			m.Labels = append(m.Labels, e.Label)
		}
	}
	sort.Strings(m.Labels)
	for i, l := range m.Labels {
		classOf[l] = i
	}
	if len(m.Labels) < 2 || len(data) < 2 {
		return nil, fmt.Errorf("%w: %d examples in %d classes", ErrNoData, len(data), len(m.Labels))
	}
	// Vocabulary and document frequencies.
	df := map[uint64]int{}
	var scratch []hashed
	seen := map[uint64]bool{}
	for _, e := range data {
		scratch = m.Features.extract(Normalize(e.Text), scratch[:0])
		clear(seen)
		for _, h := range scratch {
			if !seen[h.h] {
				seen[h.h] = true
				df[h.h]++
			}
		}
	}
	minDF := max(1, opt.MinDF)
	for h, n := range df {
		if n >= minDF {
			m.hashes = append(m.hashes, h)
		}
	}
	slices.Sort(m.hashes) // deterministic indices
	m.vocab = make(map[uint64]int32, len(m.hashes))
	m.idf = make([]float32, len(m.hashes))
	nDocs := float64(len(data))
	for i, h := range m.hashes {
		m.vocab[h] = int32(i)
		m.idf[i] = float32(math.Log((1+nDocs)/(1+float64(df[h]))) + 1)
	}
	xs := make([]sparse, len(data))
	ys := make([]int, len(data))
	for i, e := range data {
		xs[i] = m.Features.vectorize(e.Text, m.vocab, m.idf, scratch)
		ys[i] = classOf[e.Label]
	}
	C := len(m.Labels)
	m.w = make([]float32, len(m.hashes)*C)
	m.b = make([]float32, C)
	gw := make([]float32, len(m.w))
	gb := make([]float32, C)
	order := make([]int, len(xs))
	for i := range order {
		order[i] = i
	}
	r := rand.New(rand.NewPCG(opt.Seed, 0xfeed))
	if opt.Loss != "log" {
		return m, m.fitHinge(ctx, xs, ys, opt, r)
	}
	scores := make([]float64, C)
	g := make([]float64, C)
	eta := opt.Rate
	const eps = 1e-8
	for ep := 0; ep < opt.Epochs; ep++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			x, y := xs[i], ys[i]
			m.logits(x, scores)
			softmax(scores, 1)
			for c := range g {
				g[c] = scores[c]
			}
			g[y] -= 1
			for c := 0; c < C; c++ {
				gc := g[c]
				// Classes with a negligible gradient are skipped: after the
				// first epochs most are, which makes training several
				// times faster with no measurable loss.
				if gc > -1e-4 && gc < 1e-4 {
					continue
				}
				gb[c] += float32(gc * gc)
				m.b[c] -= float32(eta * gc / math.Sqrt(float64(gb[c])+eps))
				for k, f := range x.idx {
					j := int(f)*C + c
					grad := gc*float64(x.val[k]) + opt.L2*float64(m.w[j])
					gw[j] += float32(grad * grad)
					m.w[j] -= float32(eta * grad / math.Sqrt(float64(gw[j])+eps))
				}
			}
		}
	}
	return m, nil
}

func (m *Model) logits(x sparse, out []float64) {
	C := len(m.Labels)
	for c := range out {
		out[c] = float64(m.b[c])
	}
	for k, f := range x.idx {
		v := float64(x.val[k])
		row := m.w[int(f)*C : int(f)*C+C]
		for c, w := range row {
			out[c] += v * float64(w)
		}
	}
}

func softmax(s []float64, t float64) {
	mx := math.Inf(-1)
	for _, v := range s {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range s {
		s[i] = math.Exp((v - mx) / t)
		sum += s[i]
	}
	for i := range s {
		s[i] /= sum
	}
}

// Logits returns the raw class scores of text (per Labels index).
func (m *Model) Logits(text string) []float64 {
	out, _ := m.scores(text)
	return out
}

func (m *Model) scores(text string) ([]float64, int) {
	sc, _ := m.pool.Get().(*[]hashed)
	if sc == nil {
		sc = new([]hashed)
	}
	x := m.Features.vectorize(text, m.vocab, m.idf, *sc)
	m.pool.Put(sc)
	out := make([]float64, len(m.Labels))
	m.logits(x, out)
	return out, len(x.idx)
}

// Scores returns the raw class scores of text (per Labels index) and how
// many of its features the model saw in training.
func (m *Model) Scores(text string) ([]float64, int) { return m.scores(text) }

// Decide turns fused class scores into a prediction at the given
// temperature and rejection threshold (a model combined with another
// scorer is calibrated as a whole, not with this model's own fit).
func (m *Model) Decide(scores []float64, k int, temperature, threshold float64) Prediction {
	p := append([]float64(nil), scores...)
	if temperature <= 0 {
		temperature = 1
	}
	softmax(p, temperature)
	pr := m.decide(p, k)
	pr.Rejected = pr.Label != m.OOSLabel && threshold > 0 && pr.Confidence < threshold
	return pr
}

// Predict classifies text, returning the k best labels.
func (m *Model) Predict(text string, k int) Prediction {
	p, known := m.scores(text)
	softmax(p, m.temp())
	pr := m.decide(p, k)
	pr.Known = known
	return pr
}

func (m *Model) temp() float64 {
	if m.Temperature <= 0 {
		return 1
	}
	return m.Temperature
}

func (m *Model) decide(p []float64, k int) Prediction {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	k = max(1, min(k, len(p)))
	pr := Prediction{Probs: p}
	for _, i := range idx[:k] {
		pr.Top = append(pr.Top, Scored{m.Labels[i], p[i]})
	}
	best := idx[0]
	pr.Label, pr.Confidence = m.Labels[best], p[best]
	if pr.Label != m.OOSLabel && m.Threshold > 0 && p[best] < m.Threshold {
		pr.Rejected = true
	}
	return pr
}

// calibrate fits the temperature on val (minimum negative log-likelihood)
// and, when out-of-scope examples are available, the highest rejection
// threshold that costs at most budget of in-scope accuracy.
func (m *Model) calibrate(val, oos []Example, budget float64) {
	type item struct {
		logits []float64
		y      int // -1 for out of scope
	}
	classOf := map[string]int{}
	for i, l := range m.Labels {
		classOf[l] = i
	}
	var items []item
	for _, e := range val {
		y, ok := classOf[e.Label]
		if !ok || e.Label == m.OOSLabel {
			y = -1
		}
		items = append(items, item{m.Logits(e.Text), y})
	}
	for _, e := range oos {
		items = append(items, item{m.Logits(e.Text), -1})
	}
	oosClass := -1
	if m.OOSLabel != "" {
		if c, ok := classOf[m.OOSLabel]; ok {
			oosClass = c
		}
	}
	logits := make([][]float64, len(items))
	ys := make([]int, len(items))
	for i, it := range items {
		logits[i], ys[i] = it.logits, it.y
	}
	m.Temperature, m.Threshold = CalibrateLogits(logits, ys, oosClass, budget)
}

// CalibrateLogits fits a temperature on validation logits (minimum
// negative log-likelihood; ys[i] is the class index, -1 for out of scope)
// and, when out-of-scope items are among them, the highest rejection
// threshold that costs at most budget of in-scope accuracy. oosClass is
// the index of an explicit out-of-scope class, or -1. The logits are not
// changed.
func CalibrateLogits(logits [][]float64, ys []int, oosClass int, budget float64) (temperature, threshold float64) {
	type item struct {
		logits []float64
		y      int
	}
	items := make([]item, len(logits))
	for i := range logits {
		items[i] = item{logits[i], ys[i]}
	}
	if len(items) == 0 {
		return 1, 0
	}
	C := len(items[0].logits)
	nll := func(t float64) float64 {
		var s float64
		p := make([]float64, C)
		for _, it := range items {
			y := it.y
			if y < 0 {
				y = oosClass
			}
			if y < 0 {
				continue
			}
			copy(p, it.logits)
			softmax(p, t)
			s -= math.Log(max(p[y], 1e-12))
		}
		return s
	}
	// Golden-section search on log T: NLL is unimodal in T.
	lo, hi := math.Log(0.02), math.Log(10.0)
	phi := (math.Sqrt(5) - 1) / 2
	a, b := hi-phi*(hi-lo), lo+phi*(hi-lo)
	fa, fb := nll(math.Exp(a)), nll(math.Exp(b))
	for range 40 {
		if fa < fb {
			hi, b, fb = b, a, fa
			a = hi - phi*(hi-lo)
			fa = nll(math.Exp(a))
		} else {
			lo, a, fa = a, b, fb
			b = lo + phi*(hi-lo)
			fb = nll(math.Exp(b))
		}
	}
	temperature = math.Exp((lo + hi) / 2)

	nOOS, nIn := 0, 0
	for _, it := range items {
		if it.y < 0 {
			nOOS++
		} else {
			nIn++
		}
	}
	if nOOS == 0 || nIn == 0 {
		return temperature, 0
	}
	// Each item's best label and probability at the fitted temperature.
	type dec struct {
		best    int
		p       float64
		correct bool
	}
	decs := make([]dec, len(items))
	p := make([]float64, C)
	for i, it := range items {
		copy(p, it.logits)
		softmax(p, temperature)
		best := 0
		for c := range p {
			if p[c] > p[best] {
				best = c
			}
		}
		decs[i] = dec{best, p[best], best == it.y}
	}
	inAcc := func(t float64) float64 {
		ok := 0
		for i, it := range items {
			if it.y >= 0 && decs[i].correct && decs[i].best != oosClass && decs[i].p >= t {
				ok++
			}
		}
		return float64(ok) / float64(nIn)
	}
	floor := inAcc(0) - budget
	bestT := 0.0
	for t := 0.01; t < 1.0; t += 0.01 {
		if inAcc(t) < floor {
			break
		}
		bestT = t
	}
	return temperature, bestT
}

// NumFeatures is the size of the vocabulary.
func (m *Model) NumFeatures() int { return len(m.hashes) }

// fitHinge trains with the multiclass passive-aggressive (PA-I) update and
// averages the weights over all steps. Each step touches two classes only,
// so an epoch costs about one forward pass; averaging makes the final
// weights behave like a regularised large-margin classifier without an
// explicit penalty.
func (m *Model) fitHinge(ctx context.Context, xs []sparse, ys []int, opt Options, r *rand.Rand) error {
	C := len(m.Labels)
	agg := opt.Aggressiveness
	if agg <= 0 {
		agg = 1
	}
	u := make([]float32, len(m.w)) // sum of step-weighted updates
	ub := make([]float64, C)
	bb := make([]float64, C)
	order := make([]int, len(xs))
	for i := range order {
		order[i] = i
	}
	scores := make([]float64, C)
	t := 1.0
	for ep := 0; ep < opt.Epochs; ep++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			x, y := xs[i], ys[i]
			m.logits(x, scores)
			other := -1
			for c := range scores {
				if c != y && (other < 0 || scores[c] > scores[other]) {
					other = c
				}
			}
			loss := 1 - (scores[y] - scores[other])
			if loss > 0 {
				// ||x||^2 is 1 (plus 1 for the bias), and two rows move.
				tau := min(agg, loss/4)
				ft, fy, fo := float32(t*tau), float32(tau), float32(-tau)
				for k, f := range x.idx {
					v := x.val[k]
					jy, jo := int(f)*C+y, int(f)*C+other
					m.w[jy] += fy * v
					m.w[jo] += fo * v
					u[jy] += ft * v
					u[jo] -= ft * v
				}
				bb[y] += tau
				bb[other] -= tau
				ub[y] += t * tau
				ub[other] -= t * tau
				m.b[y], m.b[other] = float32(bb[y]), float32(bb[other])
			}
			t++
		}
	}
	for j := range m.w {
		m.w[j] -= u[j] / float32(t)
	}
	for c := range m.b {
		m.b[c] = float32(bb[c] - ub[c]/t)
	}
	return nil
}
