// Package redact finds personal identifiers in text that is kept (stored
// transcripts and briefs after the call, logs) and replaces them with a
// tag naming the kind: Chinese mobile and landline numbers, resident ID
// numbers (18 characters, checked by their check digit), bank card numbers
// (Luhn), IMEIs (15 digits, Luhn) and email addresses, typed or said: digit
// by digit in Chinese numerals (幺三八…, 两 for 2), full-width digits,
// English digit words ("one three eight"), with spaces, dashes and commas
// between groups.
//
// It reads Chinese digit characters itself, keeping each one's position so
// that the original span can be replaced; positional numerals (三百二十)
// are amounts, not identifiers, and end a run. (internal/zhnum converts
// numerals, positional ones too, but does not keep positions, which
// replacing a span needs.)
package redact

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Kind is a category of identifier.
type Kind string

// Kinds, as they appear in the replacement tag.
const (
	Mobile     Kind = "mobile"
	Landline   Kind = "landline"
	ResidentID Kind = "resident_id"
	BankCard   Kind = "bank_card"
	IMEI       Kind = "imei"
	Email      Kind = "email"
)

// Kinds lists every kind, for reports.
var Kinds = []Kind{Mobile, Landline, ResidentID, BankCard, IMEI, Email}

// Finding is one identifier found: its kind and its byte span in the text.
type Finding struct {
	Kind       Kind
	Start, End int
}

// Tag is what replaces an identifier of kind k.
func Tag(k Kind) string { return "[" + string(k) + "]" }

// maxText bounds the work on one text; longer text is redacted in the
// first maxText bytes and the rest is dropped with a marker, so that a
// huge input cannot make redaction slow (it runs on log lines).
const maxText = 1 << 20

// String returns text with every identifier found replaced by its tag.
func String(text string) string {
	out, _ := Redact(text)
	return out
}

// Redact returns text with identifiers replaced, and what it found, in
// order of position.
func Redact(text string) (string, []Finding) {
	cut := false
	if len(text) > maxText {
		text = text[:maxText]
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
		cut = true
	}
	fs := Find(text)
	if len(fs) == 0 && !cut {
		return text, nil
	}
	var b strings.Builder
	b.Grow(len(text))
	at := 0
	for _, f := range fs {
		b.WriteString(text[at:f.Start])
		b.WriteString(Tag(f.Kind))
		at = f.End
	}
	b.WriteString(text[at:])
	if cut {
		b.WriteString("[truncated]")
	}
	return b.String(), fs
}

var (
	emailRE = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)*\.[a-z]{2,}`)
	// Said aloud: "wang dot ming at qq dot com", "wangming 艾特 163 点 com".
	spokenEmailRE = regexp.MustCompile(`(?i)[a-z0-9._\-]+(\s*(dot|点)\s*[a-z0-9_\-]+)*\s*(\bat\b|艾特|圈a)\s*[a-z0-9\-]+(\s*(dot|点|\.)\s*[a-z0-9\-]+)*\s*(dot|点|\.)\s*(com|cn|net|org|edu)\b`)
)

// Find returns the identifiers in text, in order, not overlapping.
func Find(text string) []Finding {
	var fs []Finding
	for _, re := range []*regexp.Regexp{emailRE, spokenEmailRE} {
		for _, m := range re.FindAllStringIndex(text, -1) {
			fs = addFinding(fs, Finding{Kind: Email, Start: m[0], End: m[1]})
		}
	}
	for _, r := range runs(text) {
		for _, f := range classifyRun(r) {
			fs = addFinding(fs, f)
		}
	}
	sortFindings(fs)
	return fs
}

// addFinding appends f unless it overlaps one already found.
func addFinding(fs []Finding, f Finding) []Finding {
	for _, g := range fs {
		if f.Start < g.End && g.Start < f.End {
			return fs
		}
	}
	return append(fs, f)
}

func sortFindings(fs []Finding) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Start < fs[j-1].Start; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// unit is one digit (or the X of a resident ID) with its byte span.
type unit struct {
	d          byte
	start, end int
	// gap is true when a separator (space, dash, comma) came before it.
	gap bool
}

// run is a sequence of units with at most short separators between them.
type run []unit

var zhDigit = map[rune]byte{
	'零': '0', '〇': '0', '○': '0', '洞': '0', '一': '1', '幺': '1', '壹': '1', '二': '2', '两': '2', '兩': '2', '贰': '2',
	'三': '3', '叁': '3', '四': '4', '肆': '4', '五': '5', '伍': '5', '六': '6', '陆': '6', '陸': '6',
	'七': '7', '柒': '7', '八': '8', '捌': '8', '九': '9', '玖': '9',
}

var enDigit = map[string]byte{
	"zero": '0', "oh": '0', "one": '1', "two": '2', "three": '3', "four": '4',
	"five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9',
}

func isSep(r rune) bool {
	switch r {
	case ' ', '-', ',', '，', '、', '.', '\u3000', '\t', '—', '_':
		return true
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// runs splits text into runs of digits, whatever their script. Up to two
// separator characters may stand between two digits of one run; anything
// else ends it. A digit glued to letters (a model name "P40", a word) does
// not start or continue a run; an X right after 17 digits does (the check
// character of a resident ID).
func runs(text string) []run {
	var out []run
	var cur run
	seps := 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, seps = nil, 0
	}
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		var d byte
		end := i + n
		switch {
		case r >= '0' && r <= '9':
			d = byte(r)
		case r >= '０' && r <= '９':
			d = byte('0' + r - '０')
		case zhDigit[r] != 0:
			d = zhDigit[r]
		case (r == 'X' || r == 'x') && len(cur) == 17 && (end >= len(text) || !isLetter(text[end])):
			d = 'X'
		case r < utf8.RuneSelf && isLetter(byte(r)):
			// An English digit word, or a word that ends the run.
			j := i
			for j < len(text) && isLetter(text[j]) {
				j++
			}
			if dd, ok := enDigit[strings.ToLower(text[i:j])]; ok {
				d, end = dd, j
				break
			}
			flush()
			i = j
			continue
		}
		if d != 0 {
			// Digits glued to a preceding letter (P40, A10001) are a name,
			// not an identifier said aloud.
			if len(cur) == 0 && i > 0 && isLetter(text[i-1]) && r < utf8.RuneSelf {
				i = end
				continue
			}
			cur = append(cur, unit{d: d, start: i, end: end, gap: seps > 0})
			seps = 0
			i = end
			continue
		}
		if isSep(r) && len(cur) > 0 && seps < 2 {
			seps++
			i = end
			continue
		}
		flush()
		i = end
	}
	flush()
	return out
}

// groups splits a run where separators were.
func (rn run) groups() [][2]int {
	var gs [][2]int
	s := 0
	for i := 1; i <= len(rn); i++ {
		if i == len(rn) || rn[i].gap {
			gs = append(gs, [2]int{s, i})
			s = i
		}
	}
	return gs
}

// classifyRun finds identifiers in one run: the longest stretch of whole
// separator groups that is one, from each group on. A run of many digits
// said without pauses is tried whole and, failing that, at every length
// an identifier can have.
func classifyRun(rn run) []Finding {
	var fs []Finding
	gs := rn.groups()
	for i := 0; i < len(gs); {
		found := false
		for j := len(gs) - 1; j >= i; j-- {
			a, b := gs[i][0], gs[j][1]
			if k, ok := classify(digits(rn[a:b])); ok {
				fs = append(fs, Finding{Kind: k, Start: rn[a].start, End: rn[b-1].end})
				i, found = j+1, true
				break
			}
		}
		if !found {
			// One long group said without pauses: look inside it.
			a, b := gs[i][0], gs[i][1]
			fs = append(fs, inside(rn[a:b])...)
			i++
		}
	}
	return fs
}

// inside looks into one unbroken group longer than any identifier (two
// numbers said without a pause): identifiers are taken from its start, one
// after the other. Windows at other offsets are not tried: inside a long
// order number, some window is a valid landline or card by chance.
func inside(rn run) []Finding {
	var fs []Finding
	if len(rn) <= 19 {
		return nil
	}
	for s := 0; s+11 <= len(rn); {
		hit := false
		for _, n := range []int{19, 18, 17, 16, 15, 13, 12, 11} {
			if s+n > len(rn) {
				continue
			}
			if k, ok := classify(digits(rn[s : s+n])); ok {
				fs = append(fs, Finding{Kind: k, Start: rn[s].start, End: rn[s+n-1].end})
				s += n
				hit = true
				break
			}
		}
		if !hit {
			break
		}
	}
	return fs
}

func digits(rn run) string {
	b := make([]byte, len(rn))
	for i, u := range rn {
		b[i] = u.d
	}
	return string(b)
}

// classify says which identifier a digit string is, if any.
func classify(d string) (Kind, bool) {
	if strings.IndexByte(d, 'X') >= 0 {
		if len(d) == 18 && residentID(d) {
			return ResidentID, true
		}
		return "", false
	}
	n := len(d)
	switch {
	case n == 18 && residentID(d):
		return ResidentID, true
	case n == 11 && mobile(d):
		return Mobile, true
	case n == 13 && strings.HasPrefix(d, "86") && mobile(d[2:]):
		return Mobile, true
	case n == 15 && luhn(d):
		// 15 digits passing Luhn: an IMEI (bank cards in China are 16 to
		// 19 digits).
		return IMEI, true
	case n >= 16 && n <= 19 && luhn(d):
		return BankCard, true
	case n >= 10 && n <= 12 && landline(d):
		return Landline, true
	}
	return "", false
}

// mobile: 1, then 3 to 9, then nine digits.
func mobile(d string) bool {
	return len(d) == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9'
}

// landline: 0, an area code of 2 or 3 digits not starting with 0, and a
// local number of 7 or 8 digits: 010-12345678, 0755 1234 5678.
func landline(d string) bool {
	if d[0] != '0' || d[1] == '0' {
		return false
	}
	local := len(d) - 3 // 2-digit area code (010, 020-029)
	if d[1] != '1' && d[1] != '2' {
		local = len(d) - 4
	}
	return local == 7 || local == 8
}

// residentID checks the 18-character resident identity number: a plausible
// birth date (YYYYMMDD from the 7th character) and the ISO 7064 MOD 11-2
// check character (0-9 or X).
func residentID(d string) bool {
	if len(d) != 18 {
		return false
	}
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
		sum += int(d[i]-'0') * weights[i]
	}
	if d[0] == '0' {
		return false // province codes start at 11
	}
	y := atoi(d[6:10])
	m := atoi(d[10:12])
	day := atoi(d[12:14])
	if y < 1900 || y > 2100 || m < 1 || m > 12 || day < 1 || day > 31 {
		return false
	}
	return "10X98765432"[sum%11] == d[17]
}

func atoi(s string) int {
	n := 0
	for i := range len(s) {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// luhn checks the Luhn (mod 10) check digit.
func luhn(d string) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		c := d[i]
		if c < '0' || c > '9' {
			return false
		}
		v := int(c - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}
