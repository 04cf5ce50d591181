package classifier

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"unicode"

	"github.com/callbrief/callbrief/call"
)

// VarietyModel tells Mandarin, Cantonese, Wu and other Chinese apart from
// the wording of a text. It is a multinomial logistic regression over two
// blocks of features of the folded text (see foldVariety):
//
//   - character 1-3 grams over runs of Chinese characters, with the run's
//     start and end marked (sentence-final particles sit at the end);
//   - marker words and constructions (markers.go), each as a feature and
//     counted per variety ("two Cantonese markers").
//
// The n-gram block is scaled to unit length and regularised harder than the
// marker block, so that topic words of one corpus (HKCanCor's chat about
// holidays, our hotline's phones) weigh less than words that mark a
// variety wherever it is spoken. Probabilities are calibrated by a
// temperature fitted on validation data; below Unsure the variety is
// not named.
//
// A model is read-only after training and safe for concurrent use.
type VarietyModel struct {
	Labels      []string
	Temperature float64
	// Unsure: a best probability below it leaves the variety unnamed.
	Unsure  float64
	Options VarietyOptions
	// Data describes what the model was trained and calibrated on, with
	// checksums, so that a model file can be traced to its data and
	// rebuilt.
	Data []DataSource

	w map[string][]float32 // per feature, one weight per label
	b []float32
}

// DataSource is one corpus a model was built from.
type DataSource struct {
	Name string `json:"name"`
	// SHA256 is over the corpus files as read (sorted relative paths and
	// contents), or over the embedded text for built-in corpora.
	SHA256     string `json:"sha256"`
	Train      int    `json:"train"`
	Validation int    `json:"validation"`
}

// VarietyOptions control training.
type VarietyOptions struct {
	Epochs int     `json:"epochs"`
	Rate   float64 `json:"rate"`    // AdaGrad learning rate
	L2Gram float64 `json:"l2_gram"` // L2 penalty on n-gram weights, per update
	L2Mark float64 `json:"l2_mark"` // L2 penalty on marker weights, per update
	// MinCount drops n-grams seen in fewer training texts: a character
	// sequence seen once is a name or a typo more often than a habit of
	// a variety.
	MinCount int    `json:"min_count"`
	Seed     uint64 `json:"seed"`
	// Unsure is the calibrated probability under which the variety is
	// left unnamed. 0.5 means "more likely wrong than right": the one
	// threshold that needs no tuning once probabilities are calibrated.
	Unsure float64 `json:"unsure"`
}

// DefaultVarietyOptions are chosen a priori (not on any test data).
func DefaultVarietyOptions() VarietyOptions {
	return VarietyOptions{Epochs: 8, Rate: 0.2, L2Gram: 1e-4, L2Mark: 1e-6, MinCount: 2, Seed: 1, Unsure: 0.5}
}

// classPrior is each variety's weight in training, a prior on who calls:
// Mandarin and Cantonese are the hotline's two main lines; Wu callers are
// fewer and callers of other varieties fewer still. Training every class
// at equal weight would tell the model that a Wenzhounese caller is as
// likely as a Cantonese one, and it would name rare varieties on the
// slightest evidence (it did: Cantonese chat called "other Chinese").
var classPrior = map[call.Language]float64{call.LangMandarin: 1, call.LangCantonese: 1, call.LangWu: 0.3, call.LangChinese: 0.15}

// varietyLabels is the fixed label order of every model.
var varietyLabels = []string{string(call.LangMandarin), string(call.LangCantonese), string(call.LangWu), string(call.LangChinese)}

// feature is one active feature with its value.
type feature struct {
	key  string
	val  float32
	gram bool
}

// varietyFeatures extracts the features of folded text.
func varietyFeatures(t string) []feature {
	var grams []string
	run := []rune{'^'}
	flush := func() {
		if len(run) > 1 {
			run = append(run, '$')
			for i := range run {
				for n := 1; n <= 3 && i+n <= len(run); n++ {
					if n == 1 && (i == 0 || i == len(run)-1) {
						continue
					}
					grams = append(grams, string(run[i:i+n]))
				}
			}
		}
		run = run[:1]
	}
	for _, r := range t {
		if unicode.Is(unicode.Han, r) {
			run = append(run, r)
		} else {
			flush()
		}
	}
	flush()
	out := make([]feature, 0, len(grams)+16)
	if len(grams) > 0 {
		v := float32(1 / math.Sqrt(float64(len(grams))))
		for _, g := range grams {
			out = append(out, feature{key: g, val: v, gram: true})
		}
	}
	counts := map[call.Language]int{}
	for _, h := range markersFolded(t) {
		counts[h.Variety]++
		out = append(out, feature{key: "m:" + string(h.Variety) + ":" + h.Word, val: 1})
	}
	total := 0
	for _, v := range markerVarieties {
		n := counts[v]
		total += n
		for k := 1; k <= min(n, 3); k++ {
			out = append(out, feature{key: "g:" + string(v) + ":" + strconv.Itoa(k), val: 1})
		}
	}
	if total == 0 {
		out = append(out, feature{key: "g:none", val: 1})
	}
	return out
}

// VarietyScore is a label with its calibrated probability.
type VarietyScore struct {
	Variety call.Language
	Prob    float64
}

// VarietyPrediction is the model's answer for one text.
type VarietyPrediction struct {
	// Variety is the best variety, or LangChinese with Unsure set when the
	// best probability is under the model's threshold.
	Variety call.Language
	Prob    float64
	Unsure  bool
	Scores  []VarietyScore // best first
	// Known counts the text's features the model has weights for; 0 means
	// the answer is only the prior.
	Known int
}

// Predict names the variety of text.
func (m *VarietyModel) Predict(text string) VarietyPrediction {
	fs := varietyFeatures(foldVariety(text))
	z, known := m.logits(fs)
	p := softmaxT(z, m.Temperature)
	pr := VarietyPrediction{Known: known}
	for i, l := range m.Labels {
		pr.Scores = append(pr.Scores, VarietyScore{Variety: call.Language(l), Prob: p[i]})
	}
	sort.SliceStable(pr.Scores, func(i, j int) bool { return pr.Scores[i].Prob > pr.Scores[j].Prob })
	pr.Variety, pr.Prob = pr.Scores[0].Variety, pr.Scores[0].Prob
	if pr.Prob < m.Unsure || known == 0 {
		pr.Variety, pr.Unsure = call.LangChinese, true
	}
	return pr
}

func (m *VarietyModel) logits(fs []feature) ([]float64, int) {
	z := make([]float64, len(m.Labels))
	for c := range z {
		z[c] = float64(m.b[c])
	}
	known := 0
	for _, f := range fs {
		w, ok := m.w[f.key]
		if !ok {
			continue
		}
		known++
		for c := range z {
			z[c] += float64(f.val * w[c])
		}
	}
	return z, known
}

func softmaxT(z []float64, t float64) []float64 {
	if t <= 0 {
		t = 1
	}
	p := make([]float64, len(z))
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, v/t)
	}
	var s float64
	for i, v := range z {
		p[i] = math.Exp(v/t - mx)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// NumFeatures is the number of features with weights.
func (m *VarietyModel) NumFeatures() int { return len(m.w) }

// TrainVariety fits a model on ex with the default options, holding one
// sentence in ten out to calibrate it. It is the constructor used when no
// model file is at hand (the service at start, tests).
func TrainVariety(ctx context.Context, ex []VarietyExample) (*VarietyModel, error) {
	var fit, val []VarietyExample
	for i, e := range ex {
		if i%10 == 9 {
			val = append(val, e)
		} else {
			fit = append(fit, e)
		}
	}
	return TrainVarietyWith(ctx, fit, val, DefaultVarietyOptions())
}

// TrainVarietyWith fits a model on train and calibrates it on val (which
// may be empty: temperature 1). Training is deterministic: the same data
// and options give the same weights, so a model file can be rebuilt and
// checked.
func TrainVarietyWith(ctx context.Context, train, val []VarietyExample, opt VarietyOptions) (*VarietyModel, error) {
	if opt.Epochs <= 0 {
		opt = DefaultVarietyOptions()
	}
	label := map[call.Language]int{}
	for i, l := range varietyLabels {
		label[call.Language(l)] = i
	}
	type row struct {
		fs []feature
		y  int
		wt float64
	}
	// Weights: within a class a corpus of n sentences weighs sqrt(n), so
	// that 10,000 HKCanCor lines inform the model without drowning the
	// hotline's few hundred; each class weighs its prior share in total
	// (classPrior), not its share of the corpora.
	per := map[[2]string]int{}
	for _, e := range train {
		per[[2]string{string(e.Variety), e.Source}]++
	}
	classMass := map[string]float64{}
	keys := make([][2]string, 0, len(per))
	for k := range per {
		keys = append(keys, k)
	}
	// Sorted, so that the sums (and the model file) do not depend on map order.
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+"\x00"+keys[i][1] < keys[j][0]+"\x00"+keys[j][1] })
	for _, k := range keys {
		classMass[k[0]] += math.Sqrt(float64(per[k]))
	}
	df := map[string]int{}
	rows := make([]row, 0, len(train))
	for _, e := range train {
		y, ok := label[e.Variety]
		if !ok {
			return nil, fmt.Errorf("%w: variety %q in training data (want cmn, yue, wuu or zh)", ErrModel, e.Variety)
		}
		fs := varietyFeatures(foldVariety(e.Text))
		if len(fs) == 0 {
			continue
		}
		seen := map[string]bool{}
		for _, f := range fs {
			if f.gram && !seen[f.key] {
				seen[f.key] = true
				df[f.key]++
			}
		}
		n := float64(per[[2]string{string(e.Variety), e.Source}])
		wt := classPrior[e.Variety] * math.Sqrt(n) / n / classMass[string(e.Variety)]
		rows = append(rows, row{fs: fs, y: y, wt: wt})
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%w: %d usable training sentences", ErrModel, len(rows))
	}
	// Scale weights so that the mean example weight is 1.
	var tw float64
	for _, r := range rows {
		tw += r.wt
	}
	for i := range rows {
		rows[i].wt *= float64(len(rows)) / tw
	}
	C := len(varietyLabels)
	m := &VarietyModel{Labels: append([]string(nil), varietyLabels...), Options: opt, Unsure: opt.Unsure, Temperature: 1,
		w: map[string][]float32{}, b: make([]float32, C)}
	g2 := map[string][]float64{}
	bg2 := make([]float64, C)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x76617269657479))
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	grad := make([]float64, C)
	for ep := 0; ep < opt.Epochs; ep++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, oi := range order {
			r := rows[oi]
			z, _ := m.logits(r.fs)
			p := softmaxT(z, 1)
			for c := range grad {
				y := 0.0
				if c == r.y {
					y = 1
				}
				grad[c] = (p[c] - y) * r.wt
			}
			for c := range grad {
				bg2[c] += grad[c] * grad[c]
				m.b[c] -= float32(opt.Rate * grad[c] / (math.Sqrt(bg2[c]) + 1e-8))
			}
			for _, f := range r.fs {
				if f.gram && df[f.key] < opt.MinCount {
					continue
				}
				w, ok := m.w[f.key]
				if !ok {
					w = make([]float32, C)
					m.w[f.key] = w
					g2[f.key] = make([]float64, C)
				}
				gg := g2[f.key]
				l2 := opt.L2Mark
				if f.gram {
					l2 = opt.L2Gram
				}
				for c := range grad {
					g := grad[c]*float64(f.val) + l2*float64(w[c])
					gg[c] += g * g
					w[c] -= float32(opt.Rate * g / (math.Sqrt(gg[c]) + 1e-8))
				}
			}
		}
	}
	// Drop weights too small to matter: a smaller file, the same answers.
	for k, w := range m.w {
		big := false
		for _, v := range w {
			if math.Abs(float64(v)) >= 1e-4 {
				big = true
				break
			}
		}
		if !big {
			delete(m.w, k)
		}
	}
	m.calibrate(val)
	return m, nil
}

// calibrate fits the temperature that minimises the negative log
// likelihood of val (a grid search: one parameter, a smooth curve).
func (m *VarietyModel) calibrate(val []VarietyExample) {
	if len(val) == 0 {
		return
	}
	idx := map[string]int{}
	for i, l := range m.Labels {
		idx[l] = i
	}
	type zy struct {
		z []float64
		y int
	}
	var data []zy
	for _, e := range val {
		y, ok := idx[string(e.Variety)]
		if !ok {
			continue
		}
		z, _ := m.logits(varietyFeatures(foldVariety(e.Text)))
		data = append(data, zy{z, y})
	}
	if len(data) == 0 {
		return
	}
	best, bestT := math.Inf(1), 1.0
	for t := 0.2; t <= 5.0001; t *= 1.05 {
		var nll float64
		for _, d := range data {
			nll -= math.Log(math.Max(softmaxT(d.z, t)[d.y], 1e-12))
		}
		if nll < best {
			best, bestT = nll, t
		}
	}
	m.Temperature = bestT
}
