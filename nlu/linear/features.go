package linear

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxRunes bounds the text a featurizer looks at. Callers' utterances are
// a sentence or two; a longer input (a pasted document, a runaway
// recognizer) is truncated so that cost stays bounded and a single input
// cannot dominate a feature vector.
const MaxRunes = 600

// Features chooses which n-grams describe a text. The zero value is not
// useful; start from DefaultFeatures.
type Features struct {
	// WordNgrams is the longest word n-gram for space-delimited text (1 =
	// unigrams only, 2 = unigrams and bigrams).
	WordNgrams int `json:"word_ngrams"`
	// CharMin..CharMax are the character n-gram lengths inside Latin words,
	// with word boundaries marked; they make the model robust to
	// misspellings and recognizer errors ("recieve", "blue tooth").
	CharMin int `json:"char_min"`
	CharMax int `json:"char_max"`
	// HanMax is the longest n-gram over runs of Chinese characters (from 1).
	// Chinese is not segmented into words, so character n-grams stand in
	// for words and phrases.
	HanMax int `json:"han_max"`
	// CharWeight scales the character-n-gram block against the word block;
	// each block is L2-normalised on its own first, as a union of two
	// TF-IDF vectorizers would be.
	CharWeight float64 `json:"char_weight"`
	// SkipHanStart drops the sentence-start bigram before a Chinese
	// character. Chinese characters take no other part in the word block,
	// so in an all-Chinese text that one bigram was the whole block and,
	// each block being normalised on its own, weighed as much as every
	// character n-gram together. Model files written before it have it
	// false and keep the old features.
	SkipHanStart bool `json:"skip_han_start,omitempty"`
	// PinyinMax is the longest n-gram of toneless pinyin syllables over
	// runs of Chinese characters (0: none), in the character block: what
	// a homophone error by the recognizer leaves intact. Model files
	// written before it have 0 and keep the old features.
	PinyinMax int `json:"pinyin_max,omitempty"`
}

// DefaultFeatures are the features used unless told otherwise.
var DefaultFeatures = Features{WordNgrams: 2, CharMin: 3, CharMax: 4, HanMax: 4, CharWeight: 1, SkipHanStart: true}

// feature blocks
const (
	blockWord = 0
	blockChar = 1
)

// Normalize prepares text for feature extraction: invalid UTF-8 replaced,
// truncated to MaxRunes, lower-cased, full-width ASCII folded to ASCII and
// digits folded to 0 so that "order 12345" and "order 67890" look alike.
func Normalize(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	var b strings.Builder
	b.Grow(min(len(s), MaxRunes*3))
	n := 0
	for _, r := range s {
		if n >= MaxRunes {
			break
		}
		n++
		switch {
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		}
		if unicode.IsDigit(r) {
			r = '0'
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// token is a unit of the word sequence: a Latin word or a single Chinese
// character. hanRun groups consecutive Chinese characters.
type token struct {
	text string
	han  bool
}

func tokenize(s string) []token {
	var toks []token
	start := -1
	flush := func(end int) {
		if start >= 0 {
			w := strings.ReplaceAll(s[start:end], "'", "")
			if w != "" {
				toks = append(toks, token{text: w})
			}
			start = -1
		}
	}
	for i, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			flush(i)
			toks = append(toks, token{text: string(r), han: true})
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || (r == '\'' && start >= 0):
			if start < 0 {
				start = i
			}
		default:
			flush(i)
		}
	}
	flush(len(s))
	return toks
}

// hashed is one feature occurrence before weighting.
type hashed struct {
	h     uint64
	block int
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv(seed uint64, parts ...string) uint64 {
	h := uint64(fnvOffset) ^ seed
	for pi, p := range parts {
		if pi > 0 {
			h ^= 0x1f
			h *= fnvPrime
		}
		for i := 0; i < len(p); i++ {
			h ^= uint64(p[i])
			h *= fnvPrime
		}
	}
	return h
}

// extract lists the features of normalised text, with repeats (term
// frequency is counted by the caller). Namespaces keep a word "a" apart
// from a character n-gram "a".
func (f Features) extract(s string, out []hashed) []hashed {
	toks := tokenize(s)
	// Word block: Latin words and their bigrams; Chinese characters take part
	// in bigrams with neighbouring Latin words ("iphone 屏幕").
	prev := "<s>"
	prevHan := false
	for _, t := range toks {
		if !t.han {
			out = append(out, hashed{fnv(1, t.text), blockWord})
		}
		if f.WordNgrams >= 2 && !(t.han && prevHan) && !(f.SkipHanStart && t.han && prev == "<s>") {
			out = append(out, hashed{fnv(2, prev, t.text), blockWord})
		}
		prev, prevHan = t.text, t.han
	}
	if f.WordNgrams >= 2 && len(toks) > 0 && !prevHan {
		out = append(out, hashed{fnv(2, prev, "</s>"), blockWord})
	}
	// Character block.
	var run []rune
	var syl []string
	flushHan := func() {
		if len(run) == 0 {
			return
		}
		for n := 1; n <= f.HanMax; n++ {
			for i := 0; i+n <= len(run); i++ {
				out = append(out, hashed{fnv(3, string(run[i:i+n])), blockChar})
			}
		}
		// Boundary-marked edges: how a phrase starts and ends matters
		// ("我要..." vs "...吗").
		out = append(out, hashed{fnv(4, string(run[:min(2, len(run))])), blockChar})
		out = append(out, hashed{fnv(5, string(run[max(0, len(run)-2):])), blockChar})
		if f.PinyinMax > 0 {
			syl = syl[:0]
			for _, r := range run {
				if p := TonelessPinyin(r); p != "" {
					syl = append(syl, p)
				}
			}
			for n := 1; n <= f.PinyinMax; n++ {
				for i := 0; i+n <= len(syl); i++ {
					out = append(out, hashed{fnv(7, syl[i:i+n]...), blockChar})
				}
			}
		}
		run = run[:0]
	}
	for _, t := range toks {
		if t.han {
			run = append(run, []rune(t.text)[0])
			continue
		}
		flushHan()
		if f.CharMax <= 0 {
			continue
		}
		w := []rune("<" + t.text + ">")
		for n := f.CharMin; n <= f.CharMax; n++ {
			for i := 0; i+n <= len(w); i++ {
				out = append(out, hashed{fnv(6, string(w[i:i+n])), blockChar})
			}
		}
	}
	flushHan()
	return out
}

// sparse is a feature vector: indices into the model's vocabulary with
// their weights.
type sparse struct {
	idx []int32
	val []float32
}

// vectorize turns text into an L2-normalised TF-IDF vector over vocab
// (features not in vocab are dropped). Term frequency is sublinear
// (1 + log tf) so a repeated filler word does not dominate.
func (f Features) vectorize(text string, vocab map[uint64]int32, idf []float32, scratch []hashed) sparse {
	hs := f.extract(Normalize(text), scratch[:0])
	type acc struct {
		idx   int32
		block int
		tf    float64
	}
	pos := make(map[int32]int, len(hs))
	var accs []acc
	for _, h := range hs {
		i, ok := vocab[h.h]
		if !ok {
			continue
		}
		if p, ok := pos[i]; ok {
			accs[p].tf++
			continue
		}
		pos[i] = len(accs)
		accs = append(accs, acc{i, h.block, 1})
	}
	var norm [2]float64
	vals := make([]float64, len(accs))
	for k, a := range accs {
		v := (1 + math.Log(a.tf)) * float64(idf[a.idx])
		vals[k] = v
		norm[a.block] += v * v
	}
	scale := [2]float64{1, f.CharWeight}
	var total float64
	for b := range norm {
		if norm[b] > 0 {
			scale[b] /= math.Sqrt(norm[b])
			if b == blockWord {
				total += 1
			} else {
				total += f.CharWeight * f.CharWeight
			}
		}
	}
	if total > 0 {
		total = 1 / math.Sqrt(total)
	}
	sv := sparse{idx: make([]int32, len(accs)), val: make([]float32, len(accs))}
	for k, a := range accs {
		sv.idx[k] = a.idx
		sv.val[k] = float32(vals[k] * scale[a.block] * total)
	}
	return sv
}
