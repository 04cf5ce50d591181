// Package urgency reads how urgent a call is from what the caller says:
// emergency phrases, anger or frustration, and repeat calls ("第三次打电话",
// "third time I call"). Routing uses the level for queue priority.
package urgency

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/callbrief/callbrief/call"
)

type cue struct {
	phrases []string
	level   call.UrgencyLevel
	emotion call.Emotion
	reason  string
}

// Cues in order of weight. Emergency phrases match the intent rules'
// spirit: personal safety and fraud in progress.
var cues = []cue{
	{[]string{"冒烟", "冒煙", "着火", "著火", "起火", "爆炸", "炸了", "鼓包", "电池胀", "電池脹", "烧焦", "燒焦", "烫伤", "燙傷", "受伤", "受傷", "触电", "觸電", "smoke", "fire", "explod", "swollen", "swelling", "burn", "injur", "electric shock"},
		call.UrgencyEmergency, call.EmotionDistressed, "personal safety"},
	{[]string{"被盗", "被盜", "盗刷", "盜刷", "被骗", "被騙", "诈骗", "詐騙", "骗子", "騙子", "冒充", "泄露", "洩露", "hacked", "scam", "fraud", "stolen", "leaked"},
		call.UrgencyEmergency, call.EmotionDistressed, "fraud or data leak"},
	{[]string{"救命", "紧急", "緊急", "急死", "快点", "快點", "马上", "馬上", "urgent", "emergency", "right now", "asap", "help me"},
		call.UrgencyHigh, call.EmotionDistressed, "urgent request"},
	{[]string{"投诉", "投訴", "消协", "消協", "曝光", "工商局", "律师", "律師", "起诉", "起訴", "气死", "氣死", "太过分", "太過分", "什么态度", "骗人", "垃圾", "混蛋", "他妈", "扯淡", "忍无可忍",
		"complain", "lawyer", "sue ", "ridiculous", "unacceptable", "furious", "outrageous", "disgusting", "useless", "manager"},
		call.UrgencyHigh, call.EmotionAngry, "anger or complaint"},
	{[]string{"烦死", "煩死", "受不了", "又是", "还是不行", "還是不行", "一直没", "一直沒", "等了很久", "等了好久", "到底", "怎么回事", "搞什么", "冇人理",
		"frustrat", "annoying", "still not", "still hasn't", "again", "waited for", "fed up", "sick of"},
		call.UrgencyElevated, call.EmotionFrustrated, "frustration"},
}

var (
	zhRepeat = regexp.MustCompile(`第([0-9一二两三四五六七八九十]+)(?:次|趟|遍)(?:打|來電|来电|致电|致電|call)`)
	zhMany   = regexp.MustCompile(`(?:打了|打咗)(?:好几|好幾|很多|好多|[0-9一二两三四五六七八九十]+)(?:次|趟|遍|回)`)
	enRepeat = regexp.MustCompile(`(?i)\b(second|third|fourth|fifth|sixth|\d+(?:st|nd|rd|th))\s+time\s+(?:i(?:'m| am)?\s+)?(?:call|calling|i call|phoning)`)
	enMany   = regexp.MustCompile(`(?i)\b(?:called|calling)\s+(?:you\s+)?(twice|(?:two|three|four|five|several|many|\d+)\s+times)`)
)

var enOrdinal = map[string]int{"second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6}

var zhNum = map[rune]int{'一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9, '十': 10}

var enNum = map[string]int{"two": 2, "three": 3, "four": 4, "five": 5, "several": 3, "many": 3}

func num(s string) int {
	if f := strings.Fields(s); len(f) > 0 && enNum[f[0]] > 0 {
		return enNum[f[0]]
	}
	n := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			n = n*10 + int(r-'0')
		case zhNum[r] > 0:
			n = n*10 + zhNum[r]
		}
	}
	return n
}

// Assess reads the urgency of one utterance (or a whole transcript).
// emergencyIntent is true when the intent classifier chose an emergency
// intent, which sets the level to emergency whatever the words.
func Assess(text string, emergencyIntent bool) call.Urgency {
	u := call.Urgency{Level: call.UrgencyNormal, Emotion: call.EmotionNeutral}
	if len(text) > 8192 {
		text = strings.ToValidUTF8(text[:8192], "")
	}
	lower := strings.ToLower(text)
	raise := func(l call.UrgencyLevel, e call.Emotion, reason string) {
		if l > u.Level {
			u.Level = l
		}
		// Distress outranks anger, which outranks frustration.
		rank := map[call.Emotion]int{call.EmotionNeutral: 0, call.EmotionFrustrated: 1, call.EmotionAngry: 2, call.EmotionDistressed: 3}
		if rank[e] > rank[u.Emotion] {
			u.Emotion = e
		}
		u.Reasons = append(u.Reasons, reason)
	}
	if emergencyIntent {
		raise(call.UrgencyEmergency, call.EmotionDistressed, "emergency intent")
	}
	for _, c := range cues {
		for _, p := range c.phrases {
			if strings.Contains(lower, p) {
				raise(c.level, c.emotion, fmt.Sprintf("%s: %q", c.reason, strings.TrimSpace(p)))
				break
			}
		}
	}
	if m := zhRepeat.FindStringSubmatch(text); m != nil {
		u.RepeatCall = num(m[1])
	} else if m := enRepeat.FindStringSubmatch(lower); m != nil {
		if n, ok := enOrdinal[m[1]]; ok {
			u.RepeatCall = n
		} else {
			u.RepeatCall = num(m[1])
		}
	} else if m := zhMany.FindString(text); m != "" {
		u.RepeatCall = max(2, num(m))
	} else if m := enMany.FindStringSubmatch(lower); m != nil {
		u.RepeatCall = max(2, num(m[1]))
		if m[1] == "twice" {
			u.RepeatCall = 2
		}
	}
	if u.RepeatCall >= 2 {
		// A caller whose problem came back is the hotline's costliest case:
		// third time and later is high priority.
		l := call.UrgencyElevated
		if u.RepeatCall >= 3 {
			l = call.UrgencyHigh
		}
		raise(l, call.EmotionFrustrated, fmt.Sprintf("repeat call (%d)", u.RepeatCall))
	}
	// Exclamation runs and shouting in capitals are anger on a transcript
	// that keeps punctuation.
	if strings.Contains(text, "!!") || strings.Contains(text, "！！") {
		raise(call.UrgencyElevated, call.EmotionAngry, "exclamations")
	}
	return u
}
