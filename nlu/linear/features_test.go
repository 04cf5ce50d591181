package linear

import (
	"encoding/json"
	"testing"
)

func TestAllChineseTextHasNoWordBlock(t *testing.T) {
	count := func(f Features, s string) (word, char int) {
		for _, h := range f.extract(Normalize(s), nil) {
			if h.block == blockWord {
				word++
			} else {
				char++
			}
		}
		return word, char
	}
	if w, c := count(DefaultFeatures, "我部手机开唔到机"); w != 0 || c == 0 {
		t.Fatalf("all-Chinese text: %d word and %d character features, want 0 and some", w, c)
	}
	old := DefaultFeatures
	old.SkipHanStart = false
	if w, _ := count(old, "我部手机开唔到机"); w != 1 {
		t.Fatalf("old features: %d word features, want the one start bigram", w)
	}
	// Mixed text keeps its Latin words and their bigrams with Chinese.
	if w, _ := count(DefaultFeatures, "iphone 屏幕碎了"); w < 3 {
		t.Fatalf("mixed text: %d word features, want the word and its bigrams", w)
	}
	// A model file written before the field existed keeps the old features.
	var f Features
	if err := json.Unmarshal([]byte(`{"word_ngrams":2,"char_min":3,"char_max":4,"han_max":4,"char_weight":1}`), &f); err != nil || f.SkipHanStart {
		t.Fatalf("old file: %+v %v", f, err)
	}
}
