package zhscript

import "testing"

func TestSimplified(t *testing.T) {
	for in, want := range map[string]string{
		"廣州市佛地產中間協會分析":  "广州市佛地产中间协会分析",
		"我的手機開不了機":      "我的手机开不了机",
		"已经是简体":         "已经是简体",
		"iPhone 15 Pro": "iPhone 15 Pro",
		"":              "",
		"\xff\xfe壞":     "\ufffd\ufffd坏",
	} {
		if got := Simplified(in); got != want {
			t.Errorf("Simplified(%q) = %q, want %q", in, got, want)
		}
	}
	if !IsTraditional('會') || IsTraditional('会') {
		t.Error("IsTraditional")
	}
}
