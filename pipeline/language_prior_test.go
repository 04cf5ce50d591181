package pipeline

import (
	"testing"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/verify/accounts"
)

func TestLanguagePrior(t *testing.T) {
	heard := call.LanguageResult{Language: call.LangMandarin, Confidence: 0.99, Source: "text+asr-tag"}
	typed := call.LanguageResult{Language: call.LangMandarin, Confidence: 0.99, Source: "text"}
	yueWords := call.LanguageResult{Language: call.LangCantonese, Confidence: 0.95, Source: "text+asr-tag"}
	en := call.LanguageResult{Language: call.LangEnglish, Confidence: 0.99, Source: "text+asr-tag"}
	yueAcct := &accounts.Account{Language: "yue"}
	cmnAcct := &accounts.Account{Language: "cmn"}
	for _, c := range []struct {
		name   string
		in     call.LanguageResult
		number string
		acct   *accounts.Account
		bare   bool // the recognizer tagged the speech plain Chinese
		want   call.Language
	}{
		{"heard as Mandarin, Cantonese account", heard, "+8613800000000", yueAcct, false, call.LangCantonese},
		{"heard as Mandarin, Hong Kong number", heard, "+85291234567", nil, false, call.LangCantonese},
		{"heard as Mandarin, Macau number", heard, "+85361234567", nil, false, call.LangCantonese},
		{"heard as Mandarin, no prior", heard, "+8613800000000", cmnAcct, false, call.LangMandarin},
		{"typed Mandarin read with confidence", typed, "+85291234567", nil, false, call.LangMandarin},
		{"standard Chinese written by a recognizer without Cantonese, Cantonese account", typed, "+8613800000000", yueAcct, true, call.LangCantonese},
		{"standard Chinese written by a recognizer without Cantonese, Mandarin account", typed, "+8613800000000", cmnAcct, true, call.LangMandarin},
		{"Cantonese words already", yueWords, "+8613800000000", cmnAcct, false, call.LangCantonese},
		{"English stays English", en, "+85291234567", yueAcct, false, call.LangEnglish},
	} {
		got := languagePrior(c.in, c.number, c.acct, c.bare)
		if got.Language != c.want {
			t.Errorf("%s: %s, want %s", c.name, got.Language, c.want)
		}
		if got.Language != c.in.Language && got.Source == c.in.Source {
			t.Errorf("%s: revised without naming the evidence (source %q)", c.name, got.Source)
		}
	}
}
