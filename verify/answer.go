package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// Source is how an answer arrived.
type Source string

// Answer sources.
const (
	// Speech: final text of a digit-mode recognition stream.
	Speech Source = "speech"
	// DTMF: keys pressed on the phone; # ends the entry.
	DTMF Source = "dtmf"
)

// spoken maps the characters a recognizer may return for digits, so that
// "幺三八" and "one three eight" are read like "138". Mandarin readers of
// numbers say 幺 for 1 and 两 for 2.
var spoken = map[rune]byte{
	'零': '0', '〇': '0', '洞': '0', '一': '1', '幺': '1', '二': '2', '两': '2', '三': '3', '四': '4',
	'五': '5', '六': '6', '七': '7', '八': '8', '九': '9',
	'０': '0', '１': '1', '２': '2', '３': '3', '４': '4', '５': '5', '６': '6', '７': '7', '８': '8', '９': '9',
}

var words = map[string]byte{
	"zero": '0', "oh": '0', "o": '0', "one": '1', "two": '2', "three": '3', "four": '4',
	"five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9',
}

// maxAnswer bounds what is read: no identifier asked for is longer.
const maxAnswer = 32

// Digits extracts the digit string from an answer. Speech: digits, Chinese
// numerals and English digit words; other text (spaces, "uh", punctuation)
// is ignored. DTMF: digits up to the first #; * clears what was keyed so
// far, as on most phone menus.
func Digits(src Source, text string) string {
	var b []byte
	if src == DTMF {
		for i := 0; i < len(text) && len(b) <= maxAnswer; i++ {
			switch c := text[i]; {
			case c >= '0' && c <= '9':
				b = append(b, c)
			case c == '*':
				b = b[:0]
			case c == '#':
				return string(b)
			}
		}
		return trim(b)
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return r == ' ' || r == ',' || r == '-' || r == '.' || r == '，' || r == '、' || r == '。'
	}) {
		if d, ok := words[w]; ok {
			b = append(b, d)
			continue
		}
		for _, r := range w {
			switch {
			case r >= '0' && r <= '9':
				b = append(b, byte(r))
			default:
				if d, ok := spoken[r]; ok {
					b = append(b, d)
				}
			}
		}
		if len(b) > maxAnswer {
			break
		}
	}
	return trim(b)
}

func trim(b []byte) string {
	if len(b) > maxAnswer {
		b = b[:maxAnswer]
	}
	return string(b)
}

// equal compares in constant time. Both sides are hashed first so that
// the comparison also takes the same time whatever their lengths.
func equal(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1 && want != ""
}

// anyEqual reports whether got equals any of wants, comparing with all of
// them so that the time taken does not reveal which matched.
func anyEqual(got string, wants []string) bool {
	ok := 0
	for _, w := range wants {
		if equal(got, w) {
			ok |= 1
		}
	}
	return ok == 1
}
