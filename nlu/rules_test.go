package nlu

import "testing"

// TestRulePhrasesAsCallersSayThem covers Cantonese and English wording the
// first rule set missed, and ordinary requests that must not set off an
// emergency.
func TestRulePhrasesAsCallersSayThem(t *testing.T) {
	for text, want := range map[string]string{
		"部機着咗火呀":                                                "safety_emergency",
		"個充電器出緊煙":                                               "safety_emergency",
		"我個仔吞咗粒電池":                                              "safety_emergency",
		"my kid swallowed a battery":                            "safety_emergency",
		"the power bank blew up":                                "safety_emergency",
		"the battery looks all puffy":                           "safety_emergency",
		"someone claiming to be your support asked for my code": "data_leak_fraud",
		"i clicked a fake link in a text":                       "data_leak_fraud",
		"我想叉電到八成就停":                                             "",
		"我想补卡":                                                  "",
	} {
		clean, _ := Clean(text)
		m, ok := matchRules(DefaultRules, clean)
		got := ""
		if ok {
			got = string(m.rule.Intent)
		}
		if got != want {
			t.Errorf("%q: rule %q, want %q", text, got, want)
		}
	}
}
