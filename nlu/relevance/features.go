// Package relevance tells speech about the hotline's business from speech
// about anything else. An intent classifier always names the nearest
// intent, and out of scope is just one more class learnt from a few dozen
// sentences we wrote; what callers actually bring that is not a request
// (a radio in the background, a chat with someone in the room, a recording
// played into the phone) shares none of those sentences' words, so the
// classifier's guess among the in-scope intents is arbitrary and sometimes
// an emergency. This package scores an utterance by how much more likely
// its words are under the hotline's own language than under general
// language (a log-likelihood ratio of an interpolated domain model against
// a background model, as in-domain data selection does), which needs no
// example of what off-topic speech will be.
package relevance

import (
	"hash/fnv"
	"strings"
	"unicode"

	"github.com/callbrief/callbrief/internal/zhscript"
	"github.com/callbrief/callbrief/nlu/linear"
)

// Feature namespaces: the background keeps one total per namespace so a
// unigram's probability is not divided by the count of bigrams.
const (
	nsHan1  = iota // one Chinese character
	nsHan2         // two adjacent Chinese characters
	nsWord         // a Latin-script word
	nsWord2        // two adjacent Latin-script words
	numNS
)

// feature is one hashed n-gram of a text.
type feature struct {
	ns   int
	hash uint32
}

// features lists the hashed n-grams of text: Chinese characters and
// character pairs (folded to simplified script, so Cantonese written in
// traditional characters and a recognizer's simplified output meet), and
// Latin words and word pairs. Digits, punctuation and symbols say nothing
// about the topic and are dropped; they also break n-grams.
func features(text string, out []feature) []feature {
	s := linear.Normalize(zhscript.Simplified(text))
	var prevHan rune
	var prevWord string
	var word strings.Builder
	flushWord := func() {
		if word.Len() == 0 {
			return
		}
		w := word.String()
		word.Reset()
		out = append(out, feature{nsWord, hash(nsWord, w)})
		if prevWord != "" {
			out = append(out, feature{nsWord2, hash(nsWord2, prevWord+" "+w)})
		}
		prevWord = w
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			flushWord()
			prevWord = ""
			out = append(out, feature{nsHan1, hash(nsHan1, string(r))})
			if prevHan != 0 {
				out = append(out, feature{nsHan2, hash(nsHan2, string([]rune{prevHan, r}))})
			}
			prevHan = r
		case r >= 'a' && r <= 'z' || r == '\'':
			prevHan = 0
			word.WriteRune(r)
		case r == ' ':
			// A space separates words but keeps a word pair together.
			flushWord()
			prevHan = 0
		default:
			flushWord()
			prevWord, prevHan = "", 0
		}
	}
	flushWord()
	return out
}

// hash is FNV-1a over the namespace and the n-gram: fixed, so the same
// text gives the same buckets in every build and the background file is
// reproducible.
func hash(ns int, s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte{byte(ns)})
	h.Write([]byte(s))
	return h.Sum32()
}

// HanShare is the share of Chinese characters among the characters and
// Latin words of text, which decides whose threshold applies (Chinese and
// English utterances score on different scales: a character pair is not a
// word). A brand name in a Chinese sentence counts as one word.
func HanShare(text string) float64 {
	var han, words int
	inWord := false
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
			inWord = false
		case unicode.IsLetter(r):
			if !inWord {
				words++
			}
			inWord = true
		default:
			inWord = false
		}
	}
	if han+words == 0 {
		return 0
	}
	return float64(han) / float64(han+words)
}
