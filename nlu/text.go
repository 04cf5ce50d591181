package nlu

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

func utf8RuneStart(b byte) bool { return utf8.RuneStart(b) }

func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "")
}

// trimSpace also trims Chinese full-width spaces and punctuation-only
// edges the recognizer may leave.
func trimSpace(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == 0 || unicode.IsControl(r) })
}
