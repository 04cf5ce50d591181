// Package evals measures callbrief's models on labelled data: datasets,
// metrics, runners and reports (JSON for machines, Markdown for people).
package evals

import (
	"strings"
	"unicode"

	"github.com/callbrief/callbrief/internal/zhnum"
	"github.com/callbrief/callbrief/internal/zhscript"
)

// EditCounts are the alignment of a hypothesis against a reference.
type EditCounts struct {
	Ref           int `json:"ref"` // reference tokens
	Substitutions int `json:"sub"`
	Deletions     int `json:"del"`
	Insertions    int `json:"ins"`
}

// Errors is the number of edits.
func (e EditCounts) Errors() int { return e.Substitutions + e.Deletions + e.Insertions }

// Rate is errors over reference tokens (WER or CER); 0 for an empty
// reference matched by an empty hypothesis, 1 per inserted token otherwise.
func (e EditCounts) Rate() float64 {
	if e.Ref == 0 {
		return float64(e.Insertions)
	}
	return float64(e.Errors()) / float64(e.Ref)
}

// Add accumulates counts, so a corpus rate is total errors over total
// reference tokens (not a mean of per-clip rates).
func (e *EditCounts) Add(o EditCounts) {
	e.Ref += o.Ref
	e.Substitutions += o.Substitutions
	e.Deletions += o.Deletions
	e.Insertions += o.Insertions
}

// Align computes the Levenshtein alignment of hyp against ref.
func Align(ref, hyp []string) EditCounts {
	n, m := len(ref), len(hyp)
	// Each cell keeps the cost and the kind of its last edit so the counts
	// can be read off the best path.
	type cell struct{ cost, sub, del, ins int }
	prev := make([]cell, m+1)
	cur := make([]cell, m+1)
	for j := 1; j <= m; j++ {
		prev[j] = cell{cost: j, ins: j}
	}
	for i := 1; i <= n; i++ {
		cur[0] = cell{cost: i, del: i}
		for j := 1; j <= m; j++ {
			best := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				best.cost++
				best.sub++
			}
			if d := prev[j]; d.cost+1 < best.cost {
				best = d
				best.cost++
				best.del++
			}
			if a := cur[j-1]; a.cost+1 < best.cost {
				best = a
				best.cost++
				best.ins++
			}
			cur[j] = best
		}
		prev, cur = cur, prev
	}
	c := prev[m]
	return EditCounts{Ref: n, Substitutions: c.sub, Deletions: c.del, Insertions: c.ins}
}

// spelledOut maps abbreviations that recognisers write either way to one
// form, as standard English WER normalisers do, so "mr" for "mister" is
// not counted as an error.
var spelledOut = map[string]string{"mr": "mister", "mrs": "missus", "dr": "doctor", "ok": "okay"}

// Words normalises English text for WER: lower case, punctuation removed
// (apostrophes inside words kept), common abbreviations spelled out, split
// on spaces.
func Words(s string) []string {
	words := words(s)
	for i, w := range words {
		if full, ok := spelledOut[w]; ok {
			words[i] = full
		}
	}
	return words
}

func words(s string) []string {
	s = strings.ToLower(s)
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case r == '\'' && i > 0 && i+1 < len(rs) && unicode.IsLetter(rs[i-1]) && unicode.IsLetter(rs[i+1]):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	return strings.Fields(b.String())
}

// Chars normalises Chinese text for CER: traditional characters are folded
// to simplified (a recogniser that writes 廣 for 广 has heard the caller
// right), every letter or digit is a token, spaces and punctuation
// (Chinese or ASCII) are dropped, and Latin words inside Chinese text count
// as one token each.
func Chars(s string) []string {
	s = zhscript.Simplified(s)
	var out []string
	var latin strings.Builder
	flush := func() {
		if latin.Len() > 0 {
			out = append(out, strings.ToLower(latin.String()))
			latin.Reset()
		}
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			flush()
			out = append(out, string(r))
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			latin.WriteRune(r)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			flush()
			out = append(out, string(r))
		default:
			flush()
		}
	}
	flush()
	return out
}

// CharsNumbers is Chars with numbers in one form: Chinese numerals become
// Arabic digits (一二线 and 12线 alike; 三百二十 is 320) and every digit
// is one token, so a recogniser that writes digits where the reference
// has characters, or the other way, is not charged for it.
func CharsNumbers(s string) []string {
	var out []string
	for _, tok := range Chars(zhnum.Replace(s)) {
		if isDigits(tok) {
			for _, r := range tok {
				out = append(out, string(r))
			}
			continue
		}
		out = append(out, tok)
	}
	return out
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
