// Package zhscript converts Chinese text between scripts. Recognisers and
// callers write Chinese in simplified or traditional characters; a score
// or a classifier that compared the two would count the same word as
// different, so evaluation and classification fold text to simplified.
package zhscript

//go:generate go run gen.go

// Simplified returns text with every traditional character that has an
// unambiguous simplified form replaced by it. Other characters are kept.
func Simplified(text string) string {
	changed := false
	for _, r := range text {
		if _, ok := t2s[r]; ok {
			changed = true
			break
		}
	}
	if !changed {
		return text
	}
	out := []rune(text)
	for i, r := range out {
		if s, ok := t2s[r]; ok {
			out[i] = s
		}
	}
	return string(out)
}

// IsTraditional reports whether r is a traditional form with a distinct
// simplified one.
func IsTraditional(r rune) bool {
	_, ok := t2s[r]
	return ok
}
