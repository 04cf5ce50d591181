package evals

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
)

func TestAlign(t *testing.T) {
	for _, tc := range []struct {
		ref, hyp string
		want     EditCounts
	}{
		{"a b c", "a b c", EditCounts{Ref: 3}},
		{"a b c", "a x c", EditCounts{Ref: 3, Substitutions: 1}},
		{"a b c", "a c", EditCounts{Ref: 3, Deletions: 1}},
		{"a b c", "a b b c", EditCounts{Ref: 3, Insertions: 1}},
		{"a b c", "", EditCounts{Ref: 3, Deletions: 3}},
		{"", "a", EditCounts{Ref: 0, Insertions: 1}},
		{"the cat sat on the mat", "cat sat on a mat today", EditCounts{Ref: 6, Substitutions: 1, Deletions: 1, Insertions: 1}},
	} {
		got := Align(strings.Fields(tc.ref), strings.Fields(tc.hyp))
		if got != tc.want {
			t.Errorf("Align(%q, %q) = %+v, want %+v", tc.ref, tc.hyp, got, tc.want)
		}
	}
}

func TestNormalisation(t *testing.T) {
	if got, want := Words("IT WAS the First, great  sorrow. Don't!"), []string{"it", "was", "the", "first", "great", "sorrow", "don't"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Words = %q", got)
	}
	if got, want := Chars("廣州市，房地产 中介 iPhone 15！"), []string{"广", "州", "市", "房", "地", "产", "中", "介", "iphone", "15"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Chars = %q", got)
	}
}

func TestRunASRCorpusLevel(t *testing.T) {
	items := []ASRItem{
		{File: "a.wav", Language: call.LangEnglish, Reference: "one two three four"},
		{File: "b.wav", Language: call.LangEnglish, Reference: "five six"},
		{File: "c.wav", Language: call.LangChinese, Reference: "广州市"},
		{File: "d.wav", Language: call.LangEnglish, Reference: "seven"},
	}
	hyps := map[string]string{"a.wav": "one two three for", "b.wav": "five six", "c.wav": "广州"}
	rep, err := RunASR(context.Background(), "fake", "t", items, func(ctx context.Context, it ASRItem) (ASRHypothesis, error) {
		h, ok := hyps[it.File]
		if !ok {
			return ASRHypothesis{}, errors.New("decoder exploded")
		}
		return ASRHypothesis{Text: h, Audio: time.Second, Process: 200 * time.Millisecond,
			EndpointDelays: []time.Duration{600 * time.Millisecond}, FinalLatencies: []time.Duration{10 * time.Millisecond}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// English: 1 sub + 1 deletion (failed clip) over 7 words.
	if math.Abs(*rep.WER-2.0/7) > 1e-9 {
		t.Errorf("WER = %v, want 2/7", *rep.WER)
	}
	if math.Abs(*rep.CER-1.0/3) > 1e-9 {
		t.Errorf("CER = %v, want 1/3", *rep.CER)
	}
	if rep.Failures != 1 || !strings.Contains(rep.Markdown(), "decoder exploded") {
		t.Errorf("a failed clip must be reported: %+v", rep)
	}
	if rep.EndToFinal.P50 != 610 {
		t.Errorf("end to final p50 = %v", rep.EndToFinal.P50)
	}
	if math.Abs(rep.RTF-0.2) > 1e-9 {
		t.Errorf("RTF = %v", rep.RTF)
	}
}

func TestParseASRTSVErrors(t *testing.T) {
	for name, in := range map[string]string{
		"two columns":   "a.wav\ten\n",
		"absolute path": "/etc/passwd\ten\thello\n",
		"escape":        "../x.wav\ten\thello\n",
		"no language":   "a.wav\t\thello\n",
		"empty":         "# nothing\n\n",
	} {
		if _, err := ParseASRTSV(strings.NewReader(in), "d"); !errors.Is(err, ErrDataset) {
			t.Errorf("%s: want ErrDataset, got %v", name, err)
		}
	}
	items, err := ParseASRTSV(strings.NewReader("# c\na.wav\tzh\t广州 市\r\n\nb.wav\ten\tHello\tthere\n"), "d")
	if err != nil || len(items) != 2 || items[1].Reference != "Hello\tthere" || items[0].Reference != "广州 市" {
		t.Fatalf("items %+v err %v", items, err)
	}
}

func TestParseSphinxTranscription(t *testing.T) {
	items, err := ParseSphinxTranscription(strings.NewReader("<s> he was not an ill disposed young man </s> (clip-0880)\n"), "d")
	if err != nil || len(items) != 1 || items[0].Reference != "he was not an ill disposed young man" || !strings.HasSuffix(items[0].File, "clip-0880.wav") {
		t.Fatalf("%+v %v", items, err)
	}
	if _, err := ParseSphinxTranscription(strings.NewReader("no id here\n"), "d"); err == nil {
		t.Fatal("want an error")
	}
}

func FuzzParseASRTSV(f *testing.F) {
	f.Add("a.wav\ten\thello world\n")
	f.Add("# x\n\nb.wav\tzh\t广州\r\n")
	f.Add("\t\t\t\n")
	f.Fuzz(func(t *testing.T, in string) {
		items, err := ParseASRTSV(strings.NewReader(in), "d")
		if err == nil && len(items) == 0 {
			t.Fatal("no error and no items")
		}
		for _, it := range items {
			if it.Language == "" || strings.Contains(it.File, "..") {
				t.Fatalf("bad item accepted: %+v", it)
			}
		}
	})
}

func TestParseASRJSONL(t *testing.T) {
	items, err := ParseASRJSONL(strings.NewReader(`{"file":"a.wav","language":"zh","text":"广州市"}`+"\n\n"+`{"file":"b.wav","language":"en","text":"hello there"}`), "d")
	if err != nil || len(items) != 2 || items[0].Reference != "广州市" || items[1].Language != call.LangEnglish {
		t.Fatalf("%+v %v", items, err)
	}
	for name, in := range map[string]string{
		"unknown field": `{"file":"a.wav","language":"zh","text":"x","speaker":1}`,
		"escape":        `{"file":"../a.wav","language":"zh","text":"x"}`,
		"not json":      `{"file":`,
		"no language":   `{"file":"a.wav","text":"x"}`,
	} {
		if _, err := ParseASRJSONL(strings.NewReader(in), "d"); !errors.Is(err, ErrDataset) {
			t.Errorf("%s: want ErrDataset, got %v", name, err)
		}
	}
}

func TestCERNumbersNormalisedAndLanguages(t *testing.T) {
	if got := strings.Join(CharsNumbers("请转一二线，三百二十元"), " "); got != "请 转 1 2 线 3 2 0 元" {
		t.Errorf("CharsNumbers = %q", got)
	}
	items := []ASRItem{
		{File: "a.wav", Language: call.LangChinese, Reference: "请转一二线"},
		{File: "b.wav", Language: call.LangCantonese, Reference: "佢喺度"},
		{File: "c.wav", Language: call.LangEnglish, Reference: "hello"},
	}
	hyps := map[string]ASRHypothesis{
		"a.wav": {Text: "请转12线", Language: call.LangChinese},
		"b.wav": {Text: "他在这里", Language: call.LangChinese},
		"c.wav": {Text: "你好", Language: call.LangChinese},
	}
	rep, err := RunASR(context.Background(), "fake", "t", items, func(ctx context.Context, it ASRItem) (ASRHypothesis, error) {
		return hyps[it.File], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Raw: 12 is one token against 一 二: 1 sub + 1 del of 5.
	if a := rep.Clips[0]; a.Rate != 2.0/5 || a.RateNumbers != 0 || a.Detected != call.LangChinese {
		t.Errorf("clip a: raw %v normalised %v detected %q", a.Rate, a.RateNumbers, a.Detected)
	}
	if rep.CERNumbers == nil || *rep.CERNumbers >= *rep.CER {
		t.Errorf("corpus CER %v, normalised %v", *rep.CER, rep.CERNumbers)
	}
	if len(rep.Languages) != 3 {
		t.Fatalf("languages %+v", rep.Languages)
	}
	for i, want := range []struct {
		lang            call.Language
		tagged, correct int
	}{{call.LangChinese, 1, 1}, {call.LangCantonese, 1, 1}, {call.LangEnglish, 1, 0}} {
		l := rep.Languages[i]
		if l.Language != want.lang || l.Tagged != want.tagged || l.Correct != want.correct {
			t.Errorf("language %d: %+v, want %+v", i, l, want)
		}
	}
	md := rep.Markdown()
	if !strings.Contains(md, "numbers normalised") || !strings.Contains(md, "| en | 1 | WER | 100.0% | 100.0% | 0/1 |") {
		t.Errorf("markdown:\n%s", md)
	}
	if MajorityLanguage([]call.Segment{{Text: "hi", Language: "en"}, {Text: "你好世界", Language: "zh"}, {Text: "x"}}) != "zh" {
		t.Error("MajorityLanguage must weigh by text")
	}
}
