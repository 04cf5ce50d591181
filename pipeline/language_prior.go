package pipeline

import (
	"strings"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/verify/accounts"
)

// Whisper base, the served recognizer, has no Cantonese: it writes
// Cantonese speech as standard written Chinese (嘅 as 的, 佢 as 他), so a
// transcript without Cantonese words says nothing about whether the caller
// spoke Cantonese or Mandarin, and the variety model reads it as Mandarin.
// What the hotline knows besides the audio then decides: the account's
// language, and numbers of Hong Kong and Macau. Measured on the served
// evaluation, 6 of 8 real Cantonese calls were heard as Mandarin.

// cantoneseRegions are country codes whose callers speak Cantonese first.
var cantoneseRegions = []string{"+852", "+853"}

// languagePrior revises a Chinese decision that rests on a transcript
// without variety evidence: when the account's language or the number's
// region says Cantonese, the call is Cantonese, with the evidence named in
// Source and a confidence that says it is a prior, not a hearing. A
// decision the text made on Cantonese or Wu words is left alone, and so is
// one the caller's own words contradict, unless those words were written
// by a recognizer that heard Chinese and cannot write Cantonese
// (bareChinese: it tagged the speech "zh", not a variety), whose standard
// written Chinese reads as confident Mandarin whatever was spoken. A
// Mandarin speaker on a Cantonese account then reaches the dialect line,
// whose agents speak Mandarin too; the reverse error would leave an
// elderly Cantonese caller on a line that may not speak Cantonese.
func languagePrior(l call.LanguageResult, e164 string, acct *accounts.Account, bareChinese bool) call.LanguageResult {
	if l.Language != call.LangMandarin && l.Language != call.LangChinese || strings.HasPrefix(l.Source, "caller-choice") {
		return l // the caller said which language they want
	}
	var why string
	switch {
	case acct != nil && acct.Language == string(call.LangCantonese):
		why = "prior:account-language"
	default:
		for _, p := range cantoneseRegions {
			if strings.HasPrefix(e164, p) {
				why = "prior:number-region"
			}
		}
	}
	if why == "" {
		return l
	}
	// Text that reads as Mandarin with confidence from its own words keeps
	// its decision: the prior speaks only where the words cannot.
	if l.Language == call.LangMandarin && l.Confidence >= 0.97 && !strings.Contains(l.Source, "asr-tag") && !bareChinese {
		return l
	}
	out := l
	out.Alternatives = append([]call.LanguageScore{{Language: l.Language, Confidence: l.Confidence}}, l.Alternatives...)
	out.Language, out.Confidence, out.Unsure = call.LangCantonese, 0.6, false
	if out.Source == "" {
		out.Source = why
	} else {
		out.Source += "+" + why
	}
	return out
}
