// Package slots extracts values callers say: phone numbers, order numbers,
// IMEI and serial numbers, device models and dates. It works on recognizer
// output: no punctuation, digits said as words (幺 for 1, 洞 for 0,
// "double eight"), digit groups split by spaces.
package slots

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// zhDigits are the ways a digit is said or written in Chinese when a number
// is read out digit by digit (幺 and 洞 are the radio-style 1 and 0
// callers use on the phone; 两 for 2).
var zhDigits = map[rune]byte{
	'零': '0', '〇': '0', '洞': '0', '○': '0',
	'幺': '1', '一': '1', '壹': '1',
	'二': '2', '两': '2', '兩': '2', '贰': '2',
	'三': '3', '叁': '3', '四': '4', '肆': '4', '五': '5', '伍': '5',
	'六': '6', '陆': '6', '七': '7', '柒': '7', '八': '8', '捌': '8', '九': '9', '玖': '9',
}

var enDigits = map[string]byte{
	"zero": '0', "oh": '0', "o": '0', "nought": '0', "one": '1', "two": '2', "three": '3',
	"four": '4', "five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9',
}

// token is a unit of the scan: one Chinese character, one ASCII word, one
// run of ASCII digits, with its byte span in the original text.
type token struct {
	text       string
	start, end int
	// gap is true when separators other than spaces or hyphens come before
	// the token (a digit run does not continue across them).
	gap bool
}

func tokens(s string) []token {
	var out []token
	gap := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			j := i
			isDigit := unicode.IsDigit(r)
			for j < len(s) && s[j] < 0x80 && (unicode.IsDigit(rune(s[j])) == isDigit) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			out = append(out, token{s[i:j], i, j, gap})
			gap = false
			i = j
		case unicode.IsSpace(r) || r == '-' || r == '_':
			i += size
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			out = append(out, token{s[i : i+size], i, i + size, gap})
			gap = false
			i += size
		default:
			gap = true
			i += size
		}
	}
	return out
}

// digitRun is a number read out in the text, normalised to digits.
type digitRun struct {
	digits     string
	start, end int  // byte span in the original text
	words      bool // some digits were said as words
}

// digitValue is the digits one token stands for, and whether it is a
// repeat word ("double", "triple") applying to the next token.
func digitValue(t string) (digits string, repeat int, ok bool) {
	if t[0] < 0x80 && unicode.IsDigit(rune(t[0])) {
		return t, 0, true
	}
	if r, size := utf8.DecodeRuneInString(t); size == len(t) {
		if d, ok := zhDigits[r]; ok {
			return string(d), 0, true
		}
	}
	lt := strings.ToLower(t)
	switch lt {
	case "double":
		return "", 2, true
	case "triple":
		return "", 3, true
	}
	if d := enDigits[lt]; d != 0 {
		return string(d), 0, true
	}
	return "", 0, false
}

// findDigitRuns finds numbers read out in s. A run of digit words must
// have at least three digits, so "一下", "one phone" and "两个" stay words.
func findDigitRuns(s string) []digitRun {
	toks := tokens(s)
	var runs []digitRun
	for i := 0; i < len(toks); {
		var b strings.Builder
		start, end := -1, -1
		words, arabic := false, false
		j := i
		repeat := 0
		for ; j < len(toks); j++ {
			if j > i && toks[j].gap {
				break
			}
			d, rep, ok := digitValue(toks[j].text)
			if !ok {
				break
			}
			if rep > 0 {
				if repeat > 0 {
					break
				}
				repeat = rep
				if start < 0 {
					start = toks[j].start
				}
				end = toks[j].end
				continue
			}
			if unicode.IsDigit(rune(d[0])) && toks[j].text[0] < 0x80 && unicode.IsDigit(rune(toks[j].text[0])) {
				arabic = true
			} else {
				words = true
			}
			if repeat > 0 {
				d = strings.Repeat(d, repeat)
				repeat = 0
			}
			b.WriteString(d)
			if start < 0 {
				start = toks[j].start
			}
			end = toks[j].end
		}
		if b.Len() >= 3 || (arabic && b.Len() > 0) {
			runs = append(runs, digitRun{b.String(), start, end, words})
		}
		if j == i {
			j++
		}
		i = j
	}
	return runs
}

// NormalizeNumbers rewrites numbers read out digit by digit as digits:
// "幺三八 洞洞幺三" becomes "13800013", "double eight five" becomes "885",
// "138 0013 8000" becomes "13800138000". Other text is unchanged.
func NormalizeNumbers(s string) string {
	runs := findDigitRuns(s)
	if len(runs) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, r := range runs {
		b.WriteString(s[last:r.start])
		b.WriteString(r.digits)
		last = r.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// chineseNumber converts a Chinese number up to the thousands (十四 = 14,
// 二十一 = 21, 两千 = 2000, 3 = 3) or digits; ok is false otherwise.
func chineseNumber(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	if n, ok := atoi(s); ok {
		return n, true
	}
	total, cur := 0, 0
	seen := false
	for _, r := range s {
		switch r {
		case '十', '拾':
			if cur == 0 {
				cur = 1
			}
			total += cur * 10
			cur = 0
		case '百', '佰':
			total += cur * 100
			cur = 0
		case '千', '仟':
			total += cur * 1000
			cur = 0
		default:
			d, ok := zhDigits[r]
			if !ok {
				return 0, false
			}
			cur = cur*10 + int(d-'0')
		}
		seen = true
	}
	return total + cur, seen
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// Luhn reports whether digits pass the Luhn check (the last digit of an
// IMEI is its check digit).
func Luhn(digits string) bool {
	if len(digits) < 2 {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
