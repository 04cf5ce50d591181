package relevance

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// Example is one in-scope utterance of the hotline.
type Example struct {
	Text string
}

// Options tune training.
type Options struct {
	// Lambda is the domain model's weight in its interpolation with the
	// background: an n-gram the hotline's sentences never use scores
	// log(1-Lambda), one they use as often as general language does
	// about 0, and their own words well above.
	Lambda float64
	// Recall is the share of held-out in-scope utterances that must stay
	// on topic; the thresholds are set to keep it (per script).
	Recall float64
	// Folds is the number of cross-validation folds the thresholds are
	// taken from.
	Folds int
	// MaxLLR caps one n-gram's score, so one rare domain word cannot
	// carry a long off-topic utterance.
	MaxLLR float64
}

// DefaultOptions are the served ones.
func DefaultOptions() Options {
	return Options{Lambda: 0.5, Recall: 0.98, Folds: 5, MaxLLR: 5}
}

// Model scores utterances against the hotline's language.
type Model struct {
	bg     *Background
	opt    Options
	dom    map[uint64]float64
	totals [numNS]float64
	// Thresholds by script: Chinese (HanShare >= 0.5) and Latin.
	ThresholdHan   float64
	ThresholdLatin float64
}

// Verdict is the judgement on one utterance.
type Verdict struct {
	// Score is the mean log-likelihood ratio of its n-grams, domain over
	// background.
	Score     float64
	Threshold float64
	// OnTopic is false when the utterance scored under its threshold.
	// An utterance with no words (digits, silence) is on topic: there is
	// nothing to judge.
	OnTopic bool
	NGrams  int
}

func key(f feature) uint64 { return uint64(f.ns)<<32 | uint64(f.hash) }

func count(exs []Example, skip func(i int) bool) (map[uint64]float64, [numNS]float64) {
	dom := map[uint64]float64{}
	var totals [numNS]float64
	var fs []feature
	for i, e := range exs {
		if skip != nil && skip(i) {
			continue
		}
		fs = features(e.Text, fs[:0])
		for _, f := range fs {
			dom[key(f)]++
			totals[f.ns]++
		}
	}
	return dom, totals
}

// Train fits the domain side on in-scope utterances and takes each
// script's threshold from cross-validation: the score under which only
// 1-Recall of held-out in-scope utterances fall.
func Train(ctx context.Context, bg *Background, exs []Example, opt Options) (*Model, error) {
	if bg == nil {
		return nil, fmt.Errorf("%w: no background", ErrModel)
	}
	if !(opt.Lambda > 0 && opt.Lambda < 1) || !(opt.Recall > 0 && opt.Recall < 1) || opt.Folds < 2 || !(opt.MaxLLR > 0) {
		return nil, fmt.Errorf("%w: options out of range: %+v", ErrModel, opt)
	}
	if len(exs) < 10*opt.Folds {
		return nil, fmt.Errorf("%w: %d in-scope utterances are too few to set a threshold (want at least %d)", ErrModel, len(exs), 10*opt.Folds)
	}
	var han, latin []float64
	for f := 0; f < opt.Folds; f++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dom, totals := count(exs, func(i int) bool { return i%opt.Folds == f })
		m := &Model{bg: bg, opt: opt, dom: dom, totals: totals}
		for i := f; i < len(exs); i += opt.Folds {
			s, n := m.score(exs[i].Text)
			if n == 0 {
				continue
			}
			if HanShare(exs[i].Text) >= 0.5 {
				han = append(han, s)
			} else {
				latin = append(latin, s)
			}
		}
	}
	dom, totals := count(exs, nil)
	m := &Model{bg: bg, opt: opt, dom: dom, totals: totals}
	all := append(append([]float64(nil), han...), latin...)
	m.ThresholdHan = quantile(han, all, 1-opt.Recall)
	m.ThresholdLatin = quantile(latin, all, 1-opt.Recall)
	return m, nil
}

// quantile is the q-quantile of xs, or of fallback when xs is too small
// to have one (a taxonomy with no English sentences).
func quantile(xs, fallback []float64, q float64) float64 {
	if len(xs) < 20 {
		xs = fallback
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(math.Floor(q*float64(len(s)-1)))]
}

// score is the mean capped log-likelihood ratio over text's n-grams.
func (m *Model) score(text string) (float64, int) {
	fs := features(text, nil)
	if len(fs) == 0 {
		return 0, 0
	}
	var sum float64
	for _, f := range fs {
		pb := m.bg.prob(f)
		var pd float64
		if t := m.totals[f.ns]; t > 0 {
			pd = m.dom[key(f)] / t
		}
		llr := math.Log(m.opt.Lambda*pd+(1-m.opt.Lambda)*pb) - math.Log(pb)
		sum += min(llr, m.opt.MaxLLR)
	}
	return sum / float64(len(fs)), len(fs)
}

// Judge scores text and says whether it is about the hotline's business.
func (m *Model) Judge(text string) Verdict {
	s, n := m.score(text)
	thr := m.ThresholdLatin
	if HanShare(text) >= 0.5 {
		thr = m.ThresholdHan
	}
	return Verdict{Score: s, Threshold: thr, OnTopic: n == 0 || s >= thr, NGrams: n}
}
