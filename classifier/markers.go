package classifier

import (
	"sort"
	"strings"
	"unicode"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/internal/zhscript"
)

// Marker words and constructions of the Chinese varieties. They are what a
// linguist (or a Cantonese reader) looks at first, and unlike character
// n-grams learned from one corpus they do not depend on its topics: 佢 is
// Cantonese in a phone complaint, a soap opera and a newspaper column
// alike. The variety model sees them twice: each marker as a feature of its
// own, and the count of markers per variety, so that a marker too rare to
// be weighed from the training data still counts as evidence.
//
// Each entry is "word" or "word|exception,exception": an occurrence inside
// one of the exceptions is not counted (系 in 关系 is Mandarin, 紧 in 紧张 is
// not the Cantonese progressive). Entries are written in either script;
// they are folded like the text.
var markerLists = map[call.Language][]string{
	call.LangCantonese: {
		// pronouns, demonstratives, question words
		"佢", "哋", "嗰", "乜", "乜嘢", "咩", "點解", "點樣", "點算", "邊個", "邊度", "邊度", "幾時|幾時候", "咁|咁多位", "噉", "呢個", "呢度", "呢啲",
		// structural particles, aspect, negation, copula
		"嘅", "咗", "緊|緊張,要緊,緊急,趕緊,抓緊,加緊,緊密,緊緊,緊迫,緊身,收緊,鬆緊", "晒|曬太陽,晒太阳,晒乾,晒干,晒衣,晾晒,日晒,晒黑,晒图",
		"冇", "唔", "未|未來,未必,未成年,從未,尚未,未知,未免", "係|關係,联系,聯繫,系統,系统,系列,體系,体系,派系,中文系,直系,維繫", "喺", "啲", "嚟", "仲|仲裁,伯仲,仲介",
		// sentence-final particles
		"喎", "囉", "㗎", "噃", "啫", "咋", "嘞", "吖", "喇", "啩", "嘛", "咪|麥克風,咪咪", "嗱",
		// verbs and content words with a different Mandarin equivalent
		"嘢", "睇", "俾", "畀", "啱", "揾", "搵", "諗", "攞", "瞓", "嗌", "揸", "郁|郁金香", "嘥", "冚", "屙", "攰", "嬲", "靚", "掂",
		"食|食品,食物,食堂,食用,飲食,食欲,食谱,零食,美食,粮食,糧食,伙食,素食", "飲|飲料,饮料,飲食,饮食,飲用", "企|企業,企业,企圖,企图,企鹅,企鵝",
		"屋企", "返工", "放工", "鍾意", "中意", "識|認識,知識,意識,識別,常識,見識,識字,共識,標識", "琴日", "尋日", "聽日", "而家", "宜家", "依家", "今日", "成日", "落雨", "唔該", "多謝",
		"有冇", "係咪", "係唔係", "好似", "啱啱", "頭先", "先至", "咁樣", "噉樣", "點知", "搞掂", "冇問題", "得閒", "架車", "部機",
	},
	call.LangMandarin: {
		"的|的士,的確,的确,目的", "了|了解,除了,為了,为了,了不起,受不了", "是|但是,是否,於是,于是,總是,总是,還是,还是,凡是,就是", "不|不過,不过,不同,不如,不錯,不错,不斷,不断,不知,不少,不但",
		"他", "她", "它", "們", "這", "那", "哪", "什麼", "甚麼", "怎麼", "為什麼", "没有", "沒有", "沒", "没", "在|現在,现在,存在,實在,实在",
		"給", "说", "説", "看", "找", "東西", "今天", "昨天", "明天", "喜歡", "吃", "喝", "睡覺", "知道", "一下", "嗎", "吧", "著", "很", "別|特別,分別,區別,区别,別人,别人,個別,个别",
		"誰", "這裡", "這裏", "那裡", "那裏", "哪裡", "哪裏", "這樣", "那樣", "怎樣", "剛才", "剛剛", "已經", "而且", "就是",
	},
	call.LangWu: {
		"儂", "阿拉|阿拉伯", "伊拉|伊拉克", "伐|步伐,砍伐,征伐,討伐,讨伐", "勿|請勿,请勿,切勿,勿忘", "覅", "呒没", "呒沒", "呒", "搿", "辰光", "哪能", "交關", "物事", "今朝", "明朝", "欢喜", "歡喜", "拨侬", "撥儂",
		"咾", "老好", "伊|伊朗,伊拉克,伊斯兰,伊斯蘭,伊妹儿", "侪", "儕",
	},
	call.LangChinese: { // other Chinese: southern Wu (Wenzhou), Min, Hakka, Gan
		"卬", "渠", "爻", "訾", "眙", "厝", "佮", "𠊎", "汝", "囥", "毋", "恁", "俺", "哏", "阿拉渠",
	},
}

// marker is one compiled marker: its folded form and the folded words in
// which it does not count.
type marker struct {
	word   string
	except []string
}

// markers are the compiled lists, by variety.
var markers = map[call.Language][]marker{}

// markerVarieties is the order in which the per-variety counts are
// reported.
var markerVarieties = []call.Language{call.LangMandarin, call.LangCantonese, call.LangWu, call.LangChinese}

func init() {
	for v, list := range markerLists {
		seen := map[string]bool{}
		for _, e := range list {
			word, exc, _ := strings.Cut(e, "|")
			m := marker{word: foldVariety(word)}
			if seen[m.word] {
				continue
			}
			seen[m.word] = true
			if exc != "" {
				for _, x := range strings.Split(exc, ",") {
					m.except = append(m.except, foldVariety(x))
				}
			}
			markers[v] = append(markers[v], m)
		}
		sort.Slice(markers[v], func(i, j int) bool { return markers[v][i].word < markers[v][j].word })
	}
}

// extraFold maps forms that zhscript keeps apart but that mean the same
// to the variety model (variant characters, and simplified forms of
// Cantonese characters made by the conversion table that the folded
// markers would otherwise miss).
var extraFold = map[rune]rune{'説': '说', '裡': '里', '裏': '里', '𰥛': '瞓', '𫽋': '攞', '㖞': '喎', '嗰': '嗰', '着': '著', '妳': '你', '噶': '㗎', '架': '架'}

// foldVariety prepares text for the variety model: simplified characters
// (so that wording, not script, decides), variant forms merged, Latin
// letters lower-cased.
func foldVariety(text string) string {
	s := zhscript.Simplified(FoldSimplified(text))
	return strings.Map(func(r rune) rune {
		if f, ok := extraFold[r]; ok {
			return f
		}
		return unicode.ToLower(r)
	}, s)
}

// MarkerHit is one counted marker.
type MarkerHit struct {
	Variety call.Language
	Word    string
}

// Markers returns the marker words found in text (folded), in text order
// per variety. Overlapping markers of one variety are all counted (乜 and
// 乜嘢): a longer construction is stronger evidence than its first
// character.
func Markers(text string) []MarkerHit {
	return markersFolded(foldVariety(text))
}

func markersFolded(t string) []MarkerHit {
	var out []MarkerHit
	for _, v := range markerVarieties {
		for _, m := range markers[v] {
			for off := 0; ; {
				i := strings.Index(t[off:], m.word)
				if i < 0 {
					break
				}
				pos := off + i
				off = pos + len(m.word)
				if !excepted(t, pos, len(m.word), m.except) {
					out = append(out, MarkerHit{Variety: v, Word: m.word})
				}
			}
		}
	}
	return out
}

// excepted reports whether the occurrence t[pos:pos+n] lies inside one of
// the exception words.
func excepted(t string, pos, n int, except []string) bool {
	for _, x := range except {
		// The exception must contain the marker; try each alignment.
		for k := strings.Index(x, t[pos:pos+n]); k >= 0; {
			start := pos - k
			if start >= 0 && start+len(x) <= len(t) && t[start:start+len(x)] == x {
				return true
			}
			nk := strings.Index(x[k+1:], t[pos:pos+n])
			if nk < 0 {
				break
			}
			k += 1 + nk
		}
	}
	return false
}

// MarkerRule is the simple peer the variety model must beat: Cantonese
// when the text holds at least one of the single Cantonese marker
// characters a reader would list first (嘅 咗 冇 佢 係 唔 啲 嚟 喺 乜 嘢 睇 俾 畀
// 咁 噉 啱 揾 哋 嗰 咩), Mandarin otherwise. It knows no other variety.
func MarkerRule(text string) call.Language {
	for _, r := range foldVariety(text) {
		if strings.ContainsRune(ruleChars, r) {
			return call.LangCantonese
		}
	}
	return call.LangMandarin
}

var ruleChars = foldVariety("嘅咗冇佢係唔啲嚟喺乜嘢睇俾畀咁噉啱揾搵哋嗰咩")
