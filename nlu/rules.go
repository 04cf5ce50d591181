package nlu

import (
	"strings"
	"unicode"

	"github.com/callbrief/callbrief/call"
)

// Rule forces an intent when one of its phrases is heard. Rules are a
// safety net for emergency intents only: a statistical model trained on a
// few hundred utterances will sometimes miss "电池鼓包" phrased in a way it
// has not seen, and an emergency left in the normal queue is the failure
// this product exists to prevent. A false alarm costs an agent a minute; a
// miss can cost a fire. So rules err towards firing.
type Rule struct {
	Name   string // shown in IntentResult.Rule, e.g. "safety"
	Intent call.Intent
	// Phrases are matched as substrings of the lower-cased text. Chinese
	// phrases are listed in simplified and traditional forms and in
	// Cantonese wording; English phrases match whole words at their start.
	Phrases []string
}

// Negators that, right before a phrase, mean the caller is saying it did
// not happen ("没冒烟", "no smoke"). Checked over the two characters (or the
// one word) before the phrase only, so "冒烟了没想到" still fires.
var zhNegators = []rune("没沒不冇无無未")
var enNegators = map[string]bool{"no": true, "not": true, "never": true, "without": true, "isnt": true, "isn't": true}

// DefaultRules guard the two emergency intents of the taxonomy. Personal
// safety is listed first: when both match, safety wins.
var DefaultRules = []Rule{
	{Name: "safety", Intent: "safety_emergency", Phrases: []string{
		"冒烟", "冒煙", "白烟", "白煙", "黑烟", "黑煙", "烟雾", "煙霧", "着火", "著火", "起火", "失火", "火苗", "火花", "火星", "爆炸", "爆燃", "炸了", "炸咗", "炸伤", "炸傷",
		"鼓包", "鼓起", "胀了", "脹了", "胀起", "脹起", "胀咗", "脹咗", "电池胀", "電池脹", "膨胀", "膨脹", "肿了", "腫了", "顶起", "頂起",
		"烧焦", "燒焦", "焦味", "焦糊", "糊味", "燶味", "烧起来", "燒起來", "烧着", "燒着", "烧黑", "燒黑", "烧化", "燒化", "烧塑料", "燒塑膠",
		"烫伤", "燙傷", "燙親", "烧伤", "燒傷", "受伤", "受傷", "触电", "觸電", "电击", "電擊", "漏电", "漏電", "电了一下", "電了一下", "电到我", "電到我", "電親",
		// Cantonese as callers say it: 着咗火 (caught fire), 出煙 / 出緊煙 (smoking), 爆咗 (burst), 燒緊 (burning), swallowed a battery.
		"着咗火", "著咗火", "出煙", "出緊煙", "出烟", "爆咗", "燒緊", "烧紧", "吞咗", "吞了电池", "吞了電池", "吞下电池", "吞下電池",
		"smoke", "smoking", "fire", "flame", "spark", "explod", "explosion", "blew up", "swollen", "swelling", "swell", "bulging", "puffy", "puffed",
		"burning", "burned", "burnt", "melted", "electric shock", "electrocut", "shocked me", "gave me a shock", "gave her a shock", "gave him a shock", "swallowed a battery", "swallowed the battery", "injur",
	}},
	{Name: "fraud", Intent: "data_leak_fraud", Phrases: []string{
		"被盗", "被盜", "盗号", "盜號", "盗刷", "盜刷", "盗用", "盜用", "俾人盜", "诈骗", "詐騙", "被骗", "被騙", "骗子", "騙子", "骗了", "騙了", "呃錢", "呃咗錢", "俾人呃", "呃我錢",
		"冒充", "扮你哋", "扮客服", "泄露", "洩露", "泄漏", "洩漏", "异地登录", "異地登入", "陌生设备", "陌生裝置", "陌生設備", "被黑", "被人登录", "被偷", "俾人偷",
		"转走", "轉走", "钓鱼", "釣魚", "远程控制", "遠程控制", "监控软件", "屏幕共享", "假短信", "假短訊", "假链接", "假連結",
		"hacked", "scam", "fraud", "phishing", "stolen", "stole my", "leaked", "data leak", "unauthori",
		"pretending to be", "claiming to be", "impersonat", "unknown login", "someone logged in", "fake message", "fake link", "fake text",
	}},
}

// ruleMatch is a fired rule with the phrase that fired it.
type ruleMatch struct {
	rule   *Rule
	phrase string
}

// matchRules returns the first rule (in order) with a non-negated phrase
// in text.
func matchRules(rules []Rule, text string) (ruleMatch, bool) {
	lower := strings.ToLower(text)
	for i := range rules {
		r := &rules[i]
		for _, p := range r.Phrases {
			if phraseAt(lower, p) {
				return ruleMatch{r, p}, true
			}
		}
	}
	return ruleMatch{}, false
}

func isASCIIWord(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] >= 0x80 {
			return false
		}
	}
	return true
}

// phraseAt reports whether p occurs in s not preceded by a negator. ASCII
// phrases must start a word: "fire" matches "fire" and "fired" but not
// "campfire".
func phraseAt(s, p string) bool {
	ascii := isASCIIWord(p)
	for from := 0; ; {
		i := strings.Index(s[from:], p)
		if i < 0 {
			return false
		}
		i += from
		from = i + len(p)
		before := s[:i]
		if ascii {
			if i > 0 {
				if r := rune(s[i-1]); unicode.IsLetter(r) || unicode.IsDigit(r) {
					continue
				}
			}
			f := strings.Fields(before)
			if len(f) > 0 && enNegators[strings.Trim(f[len(f)-1], ".,!?")] {
				continue
			}
			return true
		}
		rs := []rune(before)
		negated := false
		for k := max(0, len(rs)-2); k < len(rs); k++ {
			for _, n := range zhNegators {
				if rs[k] == n {
					negated = true
				}
			}
		}
		if !negated {
			return true
		}
	}
}
