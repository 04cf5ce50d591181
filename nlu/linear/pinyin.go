package linear

import (
	"sync"

	"github.com/mozillazg/go-pinyin"
)

// Chinese recognizers err by sound: a character is replaced by another
// that is pronounced the same (肯德肌 for 肯德基, 冲电 for 充电), which
// leaves the character n-grams of the word unknown to the model while
// its syllables are unchanged. Toneless pinyin syllable n-grams give the
// model the sound of what was said as well as the characters.

var pinyinCache sync.Map // rune -> string ("" when the character has no reading)

// TonelessPinyin is the first Mandarin reading of a Chinese character
// without its tone ("chong" for 充 and 冲), "" for any other rune.
// Traditional characters have their own entries in the table.
func TonelessPinyin(r rune) string {
	if v, ok := pinyinCache.Load(r); ok {
		return v.(string)
	}
	s := ""
	if ps := pinyin.SinglePinyin(r, pinyin.Args{Style: pinyin.Normal}); len(ps) > 0 {
		s = ps[0]
	}
	pinyinCache.Store(r, s)
	return s
}
