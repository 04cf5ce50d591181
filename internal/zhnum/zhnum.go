// Package zhnum converts Chinese numerals to Arabic digits and back. Callers
// say phone, order and IMEI numbers digit by digit (一三八…, with 幺 for 1
// and sometimes 两 for 2) and amounts positionally (三百二十, 两万零五,
// colloquially 一百五 for 150); recognizers write either form or digits.
// Slot extraction needs the digits, and scoring needs both sides in one form
// so that 一二线 against 12线 is not counted as two errors.
package zhnum

import (
	"strconv"
	"strings"
)

// digitOf maps digit characters to their value.
var digitOf = map[rune]int{
	'零': 0, '〇': 0, '○': 0, '一': 1, '幺': 1, '壹': 1, '二': 2, '两': 2, '兩': 2, '贰': 2, '貳': 2,
	'三': 3, '叁': 3, '參': 3, '四': 4, '肆': 4, '五': 5, '伍': 5, '六': 6, '陆': 6, '陸': 6,
	'七': 7, '柒': 7, '八': 8, '捌': 8, '九': 9, '玖': 9,
}

// smallUnit maps the units inside a section of four digits.
var smallUnit = map[rune]int64{'十': 10, '拾': 10, '百': 100, '佰': 100, '千': 1000, '仟': 1000}

// bigUnit maps the section units.
var bigUnit = map[rune]int64{'万': 1e4, '萬': 1e4, '亿': 1e8, '億': 1e8}

// IsNumeral reports whether r can be part of a Chinese numeral.
func IsNumeral(r rune) bool {
	_, d := digitOf[r]
	_, s := smallUnit[r]
	_, b := bigUnit[r]
	return d || s || b
}

// Parse converts one numeral to Arabic digits. A run of digit characters
// only is read digit by digit, keeping leading zeros ("零一三八" -> "0138",
// "幺三八" -> "138"); a run with units is read positionally ("三百二十" ->
// "320", "十二" -> "12", "两万零五" -> "20005", "一百五" -> "150"). ok is
// false for anything else ("万一", "三三百", "").
func Parse(s string) (string, bool) {
	rs := []rune(s)
	if len(rs) == 0 {
		return "", false
	}
	allDigits := true
	for _, r := range rs {
		if _, ok := digitOf[r]; !ok {
			allDigits = false
			break
		}
	}
	if allDigits {
		b := make([]byte, len(rs))
		for i, r := range rs {
			b[i] = byte('0' + digitOf[r])
		}
		return string(b), true
	}
	n, ok := positional(rs)
	if !ok {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}

// positional reads a number with units, up to 9999亿9999万9999.
func positional(rs []rune) (int64, bool) {
	var total int64
	last := int64(0) // the last big unit seen: 亿, then 万, in that order
	start := 0
	for i, r := range rs {
		u, ok := bigUnit[r]
		if !ok {
			continue
		}
		if last != 0 && u >= last {
			return 0, false // 万亿, 万万: not a number here
		}
		sec, ok := section(rs[start:i], 0)
		if !ok || sec == 0 {
			return 0, false
		}
		total += sec * u
		last, start = u, i+1
	}
	if start < len(rs) {
		// The unit of an abbreviated tail is a tenth of the section unit
		// before it: 三万五 is 35000, but 三万零五 is 30005.
		implied := int64(0)
		if last != 0 && rs[start] != '零' && rs[start] != '〇' {
			implied = last / 10
		}
		sec, ok := section(rs[start:], implied)
		if !ok {
			return 0, false
		}
		total += sec
	}
	return total, true
}

// section reads 0..9999 written with 千百十. implied is the unit of a lone
// final digit after a bigger unit outside the section (三万五); 0 means none.
func section(rs []rune, implied int64) (int64, bool) {
	var total int64
	digit := int64(-1)
	lastUnit := int64(10000)
	zero := false // a 零 since the last unit: the final digit is units (一百零五)
	for i, r := range rs {
		if d, ok := digitOf[r]; ok {
			if d == 0 {
				if digit > 0 {
					return 0, false
				}
				zero, digit = true, -1
				continue
			}
			if digit > 0 {
				return 0, false // two digits in a row: not positional
			}
			digit = int64(d)
			continue
		}
		u, ok := smallUnit[r]
		if !ok || u >= lastUnit {
			return 0, false
		}
		if digit < 0 {
			if u != 10 || i != 0 {
				return 0, false // 百 alone; 十 alone only leads (十二)
			}
			digit = 1
		}
		total += digit * u
		digit, lastUnit, zero = -1, u, false
	}
	if digit > 0 {
		switch {
		case zero || lastUnit == 10:
			total += digit
		case lastUnit < 10000:
			total += digit * lastUnit / 10 // 一百五 is 150
		case implied > 0:
			total += digit * implied
		default:
			total += digit
		}
	}
	return total, true
}

// Replace rewrites every run of Chinese numeral characters in text as
// Arabic digits (see Parse), and full-width digits as ASCII; a run that is
// not a numeral ("万一") is kept as it is.
func Replace(text string) string {
	var b strings.Builder
	rs := []rune(text)
	for i := 0; i < len(rs); {
		r := rs[i]
		if r >= '０' && r <= '９' {
			b.WriteByte(byte('0' + r - '０'))
			i++
			continue
		}
		if !IsNumeral(r) {
			b.WriteRune(r)
			i++
			continue
		}
		j := i
		for j < len(rs) && IsNumeral(rs[j]) {
			j++
		}
		if d, ok := Parse(string(rs[i:j])); ok {
			b.WriteString(d)
		} else {
			b.WriteString(string(rs[i:j]))
		}
		i = j
	}
	return b.String()
}

// Digits returns the digits said in text, in order, for slots read out
// digit by digit (phone, order and IMEI numbers): Chinese digit characters
// (幺 and 两 included), ASCII and full-width digits; everything else,
// separators included, is skipped. Positional numerals are read as their
// value ("一百" is "100"), so "幺三八 一百" gives "138100".
func Digits(text string) string {
	var b strings.Builder
	for _, r := range Replace(text) {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var digitChars = []rune("零一二三四五六七八九")

// SayDigits writes digits (ASCII; other characters are dropped) as Chinese
// digit characters, one per digit, as a phone number is read out: with
// yao true, 1 is 幺 (clearer on a phone line than 一).
func SayDigits(digits string, yao bool) string {
	var b strings.Builder
	for _, r := range digits {
		if r < '0' || r > '9' {
			continue
		}
		if r == '1' && yao {
			b.WriteRune('幺')
			continue
		}
		b.WriteRune(digitChars[r-'0'])
	}
	return b.String()
}

// Say writes n (0 <= n < 10^12) positionally: 320 is 三百二十, 12 is 十二,
// 10005 is 一万零五. ok is false out of range.
func Say(n int64) (string, bool) {
	if n < 0 || n >= 1e12 {
		return "", false
	}
	if n == 0 {
		return "零", true
	}
	var b strings.Builder
	yi, wan, rest := n/1e8, n/1e4%1e4, n%1e4
	pendingZero := false
	wrote := false
	for _, p := range []struct {
		v    int64
		unit string
	}{{yi, "亿"}, {wan, "万"}, {rest, ""}} {
		if p.v == 0 {
			pendingZero = wrote
			continue
		}
		if wrote && (pendingZero || p.v < 1000) {
			b.WriteRune('零')
		}
		b.WriteString(saySection(p.v, !wrote))
		b.WriteString(p.unit)
		wrote, pendingZero = true, false
	}
	return b.String(), true
}

// saySection writes 1..9999; leading says whether it starts the number
// (十二 there, 一十二 after a bigger unit).
func saySection(v int64, leading bool) string {
	var b strings.Builder
	units := []string{"千", "百", "十", ""}
	div := int64(1000)
	zero, wrote := false, false
	for i := 0; i < 4; i++ {
		d := v / div % 10
		div /= 10
		if d == 0 {
			zero = wrote
			continue
		}
		if zero {
			b.WriteRune('零')
			zero = false
		}
		if !(d == 1 && units[i] == "十" && !wrote && leading) {
			b.WriteRune(digitChars[d])
		}
		b.WriteString(units[i])
		wrote = true
	}
	return b.String()
}
