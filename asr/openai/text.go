package openai

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
)

// languageHint maps a call.Language to the ISO 639-1 code sent to the
// server: every Chinese variety becomes "zh" (many compatible servers
// reject "yue"/"cmn"), "" and "und" send no hint, other two-letter codes
// pass through, region subtags are dropped ("en-US" -> "en").
func languageHint(l call.Language) (string, error) {
	s := strings.ToLower(strings.TrimSpace(string(l)))
	if i := strings.IndexAny(s, "-_"); i >= 0 {
		s = s[:i]
	}
	switch call.Language(s) {
	case "", call.LangUndetermined:
		return "", nil
	case call.LangChinese, call.LangMandarin, call.LangCantonese, call.LangWu:
		return "zh", nil
	case call.LangEnglish:
		return "en", nil
	}
	if len(s) == 2 && isASCIILower(s) {
		return s, nil
	}
	return "", fmt.Errorf("%w: %q has no ISO 639-1 code", asr.ErrUnsupportedLanguage, l)
}

// responseLanguage maps the language a server reports (whisper gives
// names such as "english", others give codes) back to a call.Language.
// Plain Chinese keeps the hint's variety when the hint was Chinese. An
// empty report yields the hint (the server was told to use it); a name
// not known here yields LangUndetermined.
func responseLanguage(reported string, hint call.Language) call.Language {
	s := strings.ToLower(strings.TrimSpace(reported))
	if hint == call.LangUndetermined {
		hint = ""
	}
	switch s {
	case "":
		return hint
	case "zh", "chinese":
		if hint.IsChinese() {
			return hint
		}
		return call.LangChinese
	case "yue", "cantonese":
		return call.LangCantonese
	case "cmn", "mandarin":
		return call.LangMandarin
	case "wuu", "shanghainese":
		return call.LangWu
	case "en", "english":
		return call.LangEnglish
	}
	if (len(s) == 2 || len(s) == 3) && isASCIILower(s) {
		return call.Language(s)
	}
	return call.LangUndetermined
}

func isASCIILower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// normalize applies the stream's mode to the recognised text.
func normalize(mode asr.Mode, text string) string {
	switch mode {
	case asr.ModeDigits:
		return NormalizeDigits(text)
	case asr.ModeYesNo:
		return NormalizeYesNo(text)
	}
	return text
}

var englishDigits = map[string]byte{
	"zero": '0', "oh": '0', "one": '1', "two": '2', "three": '3', "four": '4',
	"five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9',
}

var hanDigits = map[rune]byte{
	'零': '0', '〇': '0', '一': '1', '幺': '1', '二': '2', '两': '2', '兩': '2',
	'三': '3', '四': '4', '五': '5', '六': '6', '七': '7', '八': '8', '九': '9',
}

// NormalizeDigits returns the digits spoken in text, in order, as a string
// of ASCII digits: digits already written (ASCII or full-width), English
// digit words ("oh" and "zero".."nine") and Chinese digit characters
// (零〇一二三四五六七八九, 幺 for 1, 两/兩 for 2). Everything else is ignored,
// so "My code is four 8, 二一" gives "4821". No digit gives "".
func NormalizeDigits(text string) string {
	var out []byte
	var word []rune
	endWord := func() {
		if len(word) > 0 {
			if d, ok := englishDigits[string(word)]; ok {
				out = append(out, d)
			}
			word = word[:0]
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case r >= '0' && r <= '9':
			endWord()
			out = append(out, byte(r))
		case r >= '０' && r <= '９':
			endWord()
			out = append(out, byte('0'+r-'０'))
		case hanDigits[r] != 0:
			endWord()
			out = append(out, hanDigits[r])
		case r < unicode.MaxASCII && unicode.IsLetter(r):
			word = append(word, r)
		default:
			endWord()
		}
	}
	endWord()
	return string(out)
}

// Yes/no vocabulary. Chinese phrases are matched longest first so that
// 不是 is "no" rather than 不 + 是, and 冇錯/沒錯 ("no mistake") are "yes".
var (
	englishYesNo = map[string]string{
		"yes": "yes", "yeah": "yes", "yep": "yes", "yup": "yes", "correct": "yes",
		"no": "no", "nope": "no", "incorrect": "no",
	}
	hanYesNo = map[string]string{
		"冇錯": "yes", "冇错": "yes", "沒錯": "yes", "没错": "yes",
		"不是": "no", "不对": "no", "不對": "no", "唔係": "no", "唔是": "no", "唔系": "no",
		"是": "yes", "对": "yes", "對": "yes", "係": "yes",
	}
)

// NormalizeYesNo returns "yes" or "no" for an answer in English or Chinese
// (yes/yeah/yep/correct/是/对/係/冇錯/没错 versus no/nope/incorrect/不是/
// 不对/唔係), and "" when neither was heard or both were ("是不是",
// "yes... no").
func NormalizeYesNo(text string) string {
	var yes, no bool
	mark := func(v string) {
		switch v {
		case "yes":
			yes = true
		case "no":
			no = true
		}
	}
	rs := []rune(strings.ToLower(text))
	var word []rune
	endWord := func() {
		if len(word) > 0 {
			mark(englishYesNo[string(word)])
			word = word[:0]
		}
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if r < unicode.MaxASCII && unicode.IsLetter(r) {
			word = append(word, r)
			continue
		}
		endWord()
		if i+1 < len(rs) {
			if v, ok := hanYesNo[string(rs[i:i+2])]; ok {
				mark(v)
				i++
				continue
			}
		}
		mark(hanYesNo[string(r)])
	}
	endWord()
	switch {
	case yes && !no:
		return "yes"
	case no && !yes:
		return "no"
	}
	return ""
}
