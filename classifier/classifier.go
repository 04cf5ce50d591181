// Package classifier tells which language a caller speaks and, for
// Chinese, which variety (Mandarin, Cantonese, Wu, another), so the call
// reaches an agent of the right dialect line. Language comes from
// lingua-go restricted to the languages served; the variety from a
// character n-gram model trained on HKCanCor, Tatoeba's parallel
// varieties and our own sentences; the recognizer's language tag is
// combined with both when the engine gives one.
package classifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"unicode"

	"github.com/pemistahl/lingua-go"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
)

// ErrModel means the variety model could not be trained or loaded.
var ErrModel = errors.New("classifier: model")

// LanguageIdentifier names the language (and Chinese variety) of an
// utterance. asrTag is the recognizer's language tag, empty when it gives
// none. Too little text is answered with call.LangUndetermined, not an
// error; errors are for a cancelled context only.
type LanguageIdentifier interface {
	Identify(ctx context.Context, text string, asrTag call.Language) (call.LanguageResult, error)
}

// Minimum evidence: fewer Chinese characters or Latin letters than this
// is too short to tell.
const (
	MinHan     = 2
	MinLetters = 3
	// MinVarietyHan is the fewest Chinese characters for naming a variety;
	// below it the answer is plain Chinese (zh).
	MinVarietyHan = 4
	// maxRunes bounds the text looked at.
	maxRunes = 400
)

// EmbeddedCorpus is the training text built into the binary: our own
// sentences and the hotline taxonomy's Mandarin and Cantonese utterances.
func EmbeddedCorpus(split Split) ([]VarietyExample, error) {
	out := OwnCorpus(split)
	tax, err := taxonomy.Load()
	if err != nil {
		return nil, err
	}
	us, err := tax.Train()
	if split == SplitTest {
		us, err = tax.Test()
	}
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		if l := call.Language(u.Lang); l == call.LangMandarin || l == call.LangCantonese {
			out = append(out, VarietyExample{Text: u.Text, Variety: l, Source: "taxonomy"})
		}
	}
	return out, nil
}

// SharedCorpus adds HKCanCor and Tatoeba from the shared data folder
// (hkcancor/ and tatoeba-zh-varieties/ under root) to the embedded corpus.
// HKCanCor is capped so that Cantonese does not swamp the other classes.
func SharedCorpus(root string, split Split) ([]VarietyExample, error) {
	out, err := EmbeddedCorpus(split)
	if err != nil {
		return nil, err
	}
	tat, err := LoadTatoeba(filepath.Join(root, "tatoeba-zh-varieties"), split)
	if err != nil {
		return nil, err
	}
	limit := 1200
	if split == SplitTest {
		limit = 400
	}
	hk, err := LoadHKCanCor(filepath.Join(root, "hkcancor"), split, MinVarietyHan, limit)
	if err != nil {
		return nil, err
	}
	out = append(out, tat...)
	return append(out, hk...), nil
}

// Identifier is the default LanguageIdentifier.
type Identifier struct {
	lang    lingua.LanguageDetector
	variety *VarietyModel
	log     *slog.Logger
}

var _ LanguageIdentifier = (*Identifier)(nil)

// NewIdentifier builds an identifier around a variety model (from
// ServedVariety, TrainVariety or LoadVariety). lingua-go is restricted to English and
// Chinese, the languages served: a detector choosing among 75 languages is
// slower and, on a two-word utterance, more often wrong.
func NewIdentifier(variety *VarietyModel, log *slog.Logger) (*Identifier, error) {
	if variety == nil {
		return nil, fmt.Errorf("%w: no variety model", ErrModel)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	det := lingua.NewLanguageDetectorBuilder().
		FromLanguages(lingua.English, lingua.Chinese).
		WithPreloadedLanguageModels().
		Build()
	return &Identifier{lang: det, variety: variety, log: log}, nil
}

// Identify implements LanguageIdentifier.
func (id *Identifier) Identify(ctx context.Context, text string, asrTag call.Language) (call.LanguageResult, error) {
	if err := ctx.Err(); err != nil {
		return call.LanguageResult{}, err
	}
	rs := []rune(text)
	if len(rs) > maxRunes {
		rs = rs[:maxRunes]
	}
	text = string(rs)
	han, letters := 0, 0
	for _, r := range rs {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case r < unicode.MaxLatin1 && unicode.IsLetter(r):
			letters++
		}
	}
	res := call.LanguageResult{Language: call.LangUndetermined, Script: DetectScript(text), Source: "text"}
	switch {
	case han >= MinHan:
		// Any real run of Chinese characters makes the utterance Chinese
		// for routing, even with English product names inside
		// ("我的iPhone开不了机").
		res.Language, res.Confidence = call.LangChinese, 1
		if han >= MinVarietyHan {
			id.variety1(text, &res)
		} else {
			res.Unsure = true // too short to name a variety
		}
	case letters >= MinLetters:
		conf := id.lang.ComputeLanguageConfidence(text, lingua.English)
		if conf >= 0.5 {
			res.Language, res.Confidence = call.LangEnglish, conf
		}
	}
	return combineTag(res, asrTag), nil
}

// variety1 names the variety; a calibrated-unsure answer stays plain
// Chinese, marked Unsure.
func (id *Identifier) variety1(text string, res *call.LanguageResult) {
	p := id.variety.Predict(text)
	for _, s := range p.Scores {
		res.Alternatives = append(res.Alternatives, call.LanguageScore{Language: s.Variety, Confidence: s.Prob})
	}
	res.Confidence = p.Prob
	res.Unsure = p.Unsure
	if !p.Unsure {
		res.Language = p.Variety
	}
}

// Variety is the identifier's variety model.
func (id *Identifier) Variety() *VarietyModel { return id.variety }

// asrWeight is how much a recognizer's variety tag counts against the
// text: a tag comes from the acoustics (tones, phonology), which the text
// alone cannot see, but recognizers tag per model, not per caller, so it
// only tips close calls.
const asrWeight = 0.6

// combineTag merges the recognizer's tag into a text-based result.
func combineTag(res call.LanguageResult, tag call.Language) call.LanguageResult {
	if tag == "" || tag == call.LangUndetermined {
		return res
	}
	switch {
	case res.Language == call.LangUndetermined:
		// Too little text: the tag is the only evidence.
		res.Language, res.Confidence, res.Source = tag, asrWeight, "asr-tag"
	case tag == call.LangChinese || tag == call.LangEnglish || !res.Language.IsChinese():
		// A bare language tag adds nothing to a variety decision, and a
		// Chinese-variety tag on English text is the recognizer's model
		// talking, not the caller.
		if tag.IsChinese() != res.Language.IsChinese() && res.Confidence < 0.5 {
			res.Language, res.Confidence, res.Source = tag, asrWeight, "asr-tag"
		}
	default:
		// Chinese text and a variety tag: reweigh the text's variety
		// probabilities by the tag.
		if len(res.Alternatives) == 0 {
			res.Language, res.Confidence, res.Source = tag, asrWeight, "text+asr-tag"
			return res
		}
		var sum float64
		alts := make([]call.LanguageScore, len(res.Alternatives))
		for i, a := range res.Alternatives {
			w := (1 - asrWeight) / 3
			if a.Language == tag {
				w = asrWeight
			}
			alts[i] = call.LanguageScore{Language: a.Language, Confidence: a.Confidence * w}
			sum += alts[i].Confidence
		}
		for i := range alts {
			alts[i].Confidence /= sum
		}
		sort.SliceStable(alts, func(i, j int) bool { return alts[i].Confidence > alts[j].Confidence })
		res.Alternatives = alts
		res.Language, res.Confidence, res.Source = alts[0].Language, alts[0].Confidence, "text+asr-tag"
	}
	return res
}
