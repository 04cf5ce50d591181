package handoff

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/callbrief/callbrief/internal/zhnum"
)

// Grounded checks that a summary states nothing the call did not contain:
// every number (digits, Chinese numerals such as 三百 or 一万五, English
// number words, amounts such as ¥300 or 三百元), every date (12月3日,
// 2024-12-03, December 3rd) and relative day (昨天, yesterday), every
// identifier (A10001, RMA-2024-0012) and every person's name (王先生, 姓李,
// 客户张伟, Mr Smith, Wang Xiaoming) must occur in one of sources, in any
// of those forms: 三百块 in the transcript grounds 300元 in the summary.
// Identifiers said in groups ("5201 3148 8088 15") ground the whole number.
func Grounded(summary string, sources ...string) error {
	src := newFactBase(sources)
	sum := normalizeNumerals(summary)
	var missing []string
	// Dates first: their numbers are checked as dates, not one by one.
	sum = replaceAll(sum, dateRes, func(m string, d date) {
		if !src.hasDate(d) {
			missing = append(missing, "date "+m)
		}
	})
	low := strings.ToLower(sum)
	for _, w := range relativeDays {
		if strings.Contains(low, w) && !strings.Contains(src.lower, w) {
			missing = append(missing, "date "+w)
		}
	}
	for _, tok := range codes(sum) {
		if !strings.Contains(src.lower, strings.ToLower(tok)) && !src.hasDigits(digitsOnly(tok)) {
			missing = append(missing, tok)
		}
	}
	// Codes were checked whole; their digits are not numbers of their own.
	rest := codeRe.ReplaceAllStringFunc(sum, func(tok string) string {
		if strings.IndexFunc(tok, unicode.IsLetter) >= 0 && strings.IndexFunc(tok, unicode.IsDigit) >= 0 {
			return " "
		}
		return tok
	})
	for _, n := range numbers(rest) {
		if !src.hasNumber(n) {
			missing = append(missing, "number "+n)
		}
	}
	for _, n := range names(summary) {
		if !src.hasName(n) {
			missing = append(missing, "name "+n.text)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s not in the transcript or profile", ErrUngrounded, strings.Join(missing, ", "))
	}
	return nil
}

// factBase is what the sources say, in comparable forms.
type factBase struct {
	lower   string          // every source, lower case, numerals as digits
	raw     string          // every source as written
	nums    map[string]bool // every number, canonical
	hay     []string        // each source's digits alone, for identifiers said in groups
	dates   []date
	names   []name
	surname map[rune]bool // surnames the sources name someone by
}

func newFactBase(sources []string) *factBase {
	f := &factBase{nums: map[string]bool{}, surname: map[rune]bool{}}
	var all []string
	for _, s := range sources {
		n := normalizeNumerals(s)
		all = append(all, n)
		f.hay = append(f.hay, digitsOnly(n))
		replaceAll(n, dateRes, func(_ string, d date) { f.dates = append(f.dates, d) })
		for _, v := range numbers(n) {
			f.nums[v] = true
		}
		for _, nm := range names(s) {
			f.names = append(f.names, nm)
			if nm.zh {
				f.surname[[]rune(nm.text)[0]] = true
			}
		}
	}
	f.lower = strings.ToLower(strings.Join(all, "\n"))
	f.raw = strings.Join(sources, "\n")
	return f
}

// hasNumber: the number was said; one of four digits or more may also be
// part of an identifier said in groups.
func (f *factBase) hasNumber(n string) bool {
	if f.nums[n] {
		return true
	}
	return len(n) >= 4 && !strings.Contains(n, ".") && f.hasDigits(n)
}

func (f *factBase) hasDigits(d string) bool {
	if d == "" {
		return true
	}
	for _, h := range f.hay {
		if strings.Contains(h, d) {
			return true
		}
	}
	return false
}

func (f *factBase) hasDate(d date) bool {
	for _, s := range f.dates {
		if s.day == d.day && (d.month == 0 || s.month == 0 || s.month == d.month) && (d.year == 0 || s.year == 0 || s.year == d.year) {
			return true
		}
	}
	return false
}

func (f *factBase) hasName(n name) bool {
	if n.zh {
		rs := []rune(n.text)
		if n.title {
			// 王先生: someone in the call is called 王.
			return f.surname[rs[0]] || strings.Contains(f.raw, "姓"+string(rs[0]))
		}
		// 张伟: the surname and the first given character were said.
		return strings.Contains(f.raw, string(rs[:min(2, len(rs))]))
	}
	low := strings.ToLower(f.raw)
	for _, w := range strings.Fields(strings.ToLower(n.text)) {
		if !containsWord(low, w) {
			return false
		}
	}
	return true
}

func containsWord(hay, w string) bool {
	for i := 0; ; {
		j := strings.Index(hay[i:], w)
		if j < 0 {
			return false
		}
		j += i
		before := j == 0 || !isWordByte(hay[j-1])
		after := j+len(w) == len(hay) || !isWordByte(hay[j+len(w)])
		if before && after {
			return true
		}
		i = j + 1
	}
}

func isWordByte(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }

// normalizeNumerals writes Chinese numerals and full-width digits as ASCII
// digits, drops the commas of digit groups (1,299) and applies the
// multipliers written after digits (1.5万 is 15000).
func normalizeNumerals(s string) string {
	s = zhnum.Replace(s)
	s = groupComma.ReplaceAllString(s, "$1$2")
	s = groupComma.ReplaceAllString(s, "$1$2")
	return multiplied.ReplaceAllStringFunc(s, func(m string) string {
		sub := multiplied.FindStringSubmatch(m)
		p := map[string]int{"十": 1, "百": 2, "千": 3, "万": 4, "萬": 4, "亿": 8, "億": 8, "k": 3, "K": 3}[sub[2]]
		return shift(sub[1], p)
	})
}

// shift multiplies a decimal number by 10^p exactly, in its digits (a
// float would make 0.3299万 3299.0000000000005).
func shift(num string, p int) string {
	whole, frac, _ := strings.Cut(num, ".")
	for ; p > 0; p-- {
		if frac == "" {
			whole += "0"
		} else {
			whole, frac = whole+frac[:1], frac[1:]
		}
	}
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	if frac = strings.TrimRight(frac, "0"); frac != "" {
		return whole + "." + frac
	}
	return whole
}

var (
	groupComma = regexp.MustCompile(`(\d),(\d{3})\b`)
	multiplied = regexp.MustCompile(`(\d+(?:\.\d+)?)\s*(十|百|千|万|萬|亿|億|[kK]\b)`)
	numberRe   = regexp.MustCompile(`\d+(?:\.\d+)?`)
	// codeRe: identifiers mixing letters and digits (T2409999, A10001,
	// RMA-2024-0012); ASCII only, so Chinese text around them is no part.
	codeRe = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9/-]*[A-Za-z0-9]`)
)

// codes are the tokens mixing letters and three or more digits.
func codes(s string) []string {
	var out []string
	for _, tok := range codeRe.FindAllString(s, -1) {
		if len(digitsOnly(tok)) >= 3 && strings.IndexFunc(tok, unicode.IsLetter) >= 0 {
			out = append(out, tok)
		}
	}
	return out
}

// numbers are the numbers of s (numerals already digits) and its English
// number words, canonical: no leading zeros unless the number is one of
// several digits said as an identifier, no trailing decimal zeros.
func numbers(s string) []string {
	var out []string
	for _, m := range numberRe.FindAllString(s, -1) {
		out = append(out, canonical(m))
	}
	return append(out, wordNumbers(s)...)
}

func canonical(m string) string {
	if strings.Contains(m, ".") {
		m = strings.TrimRight(strings.TrimRight(m, "0"), ".")
	}
	return m
}

var smallWords = map[string]int64{"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
	"nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
	"eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}

var scaleWords = map[string]int64{"hundred": 100, "thousand": 1000, "million": 1e6}

// wordNumbers reads runs of English number words ("three hundred and
// fifty", "twenty-five") as numbers. "one" alone is left out: "the one I
// bought" states no number.
func wordNumbers(s string) []string {
	var out []string
	var total, cur int64
	var n int
	flush := func() {
		if n > 0 && !(n == 1 && total+cur == 1) {
			out = append(out, strconv.FormatInt(total+cur, 10))
		}
		total, cur, n = 0, 0, 0
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if v, ok := smallWords[w]; ok {
			cur += v
			n++
			continue
		}
		if v, ok := scaleWords[w]; ok && n > 0 {
			if v == 100 {
				cur *= v
			} else {
				total, cur = total+cur*v, 0
			}
			n++
			continue
		}
		if w == "and" && n > 0 {
			continue
		}
		flush()
	}
	flush()
	return out
}

// date is a day, with its month and year when given (0: not given).
type date struct{ year, month, day int }

var months = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}

const monthNames = `(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?`

// dateRes find dates; each returns year, month, day groups by name.
var dateRes = []*regexp.Regexp{
	regexp.MustCompile(`(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号號]?`),
	regexp.MustCompile(`(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})`),
	regexp.MustCompile(`(?i)\b(?P<mn>` + monthNames + `)\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{4}))?`),
	regexp.MustCompile(`(?i)\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mn>` + monthNames + `)\b(?:,?\s+(?P<y>\d{4}))?`),
	regexp.MustCompile(`(?P<d>\d{1,2})[日号號]`),
}

// relativeDays are days named relative to the call.
var relativeDays = []string{"昨天", "前天", "今天", "明天", "后天", "上周", "上星期", "上个月", "下周", "上礼拜", "琴日", "听日", "今日",
	"yesterday", "today", "tomorrow", "last week", "last month", "next week"}

// replaceAll finds every date of s, hands it to f and returns s with the
// dates blanked, so that their numbers are not checked again.
func replaceAll(s string, res []*regexp.Regexp, f func(string, date)) string {
	for _, re := range res {
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			sub := re.FindStringSubmatch(m)
			var d date
			for i, n := range re.SubexpNames() {
				switch n {
				case "y":
					d.year, _ = strconv.Atoi(sub[i])
				case "m":
					d.month, _ = strconv.Atoi(sub[i])
				case "mn":
					if len(sub[i]) >= 3 {
						d.month = months[strings.ToLower(sub[i][:3])]
					}
				case "d":
					d.day, _ = strconv.Atoi(sub[i])
				}
			}
			if d.day < 1 || d.day > 31 || d.month > 12 {
				return m // not a date after all
			}
			f(m, d)
			return strings.Repeat(" ", len(m))
		})
	}
	return s
}

// name is a person's name found in a text.
type name struct {
	text  string
	zh    bool
	title bool // a surname and a title (王先生), or a surname alone (姓王)
}

// surnames are the common Chinese surnames, enough to tell 王先生 from
// 新先生 and 客户张伟 from 客户反映.
const surnames = `王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧区麦`

var (
	zhTitled  = regexp.MustCompile(`([` + surnames + `])(?:先生|女士|小姐|太太|师傅|老师|经理|阿姨|叔叔|伯伯)`)
	zhSurname = regexp.MustCompile(`姓([` + surnames + `])`)
	zhCued    = regexp.MustCompile(`(?:叫|名叫|名字是|姓名|客户|用户|机主|来电人|顾客|account [A-Za-z0-9]+)\s*[：:]?\s*([` + surnames + `]\p{Han}{1,2})`)
	enTitled  = regexp.MustCompile(`\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+([A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)`)
	enCued    = regexp.MustCompile(`\b(?:named|name is|called|caller|customer)\s+([A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)`)
	// enPair: two capitalised words in a row (Wang Xiaoming): a name
	// unless the call has the words.
	enPair = regexp.MustCompile(`\b([A-Z][a-z]+[ -][A-Z][a-z]+)\b`)
)

// names finds people's names in s.
func names(s string) []name {
	var out []name
	for _, m := range zhTitled.FindAllStringSubmatch(s, -1) {
		out = append(out, name{text: m[0], zh: true, title: true})
	}
	for _, m := range zhSurname.FindAllStringSubmatch(s, -1) {
		out = append(out, name{text: m[1], zh: true, title: true})
	}
	for _, m := range zhCued.FindAllStringSubmatch(s, -1) {
		out = append(out, name{text: m[1], zh: true})
	}
	for _, re := range []*regexp.Regexp{enTitled, enCued, enPair} {
		for _, m := range re.FindAllStringSubmatch(s, -1) {
			out = append(out, name{text: strings.ReplaceAll(m[1], "-", " ")})
		}
	}
	return out
}
