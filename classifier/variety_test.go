package classifier_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/internal/testenv"
)

func TestMarkers(t *testing.T) {
	count := func(text string, v call.Language) int {
		n := 0
		for _, h := range classifier.Markers(text) {
			if h.Variety == v {
				n++
			}
		}
		return n
	}
	cases := []struct {
		text string
		v    call.Language
		want int
	}{
		{"佢係我朋友", call.LangCantonese, 2},    // 佢, 係 (traditional)
		{"佢系我朋友", call.LangCantonese, 2},    // the same in simplified
		{"我哋嘅关系好好", call.LangCantonese, 2},  // 哋, 嘅; 系 inside 关系 does not count
		{"这个系统很好用", call.LangCantonese, 0},  // 系统 is Mandarin
		{"佢食緊飯", call.LangCantonese, 3},     // 佢, 食, 緊 (progressive)
		{"我很紧张", call.LangCantonese, 0},     // 紧张 is not the progressive
		{"唔該晒", call.LangCantonese, 3},      // 唔, 唔該, 晒
		{"我去晒太阳", call.LangCantonese, 0},    // sunbathing
		{"侬好阿拉勿晓得", call.LangWu, 3},         // 侬, 阿拉, 勿
		{"我想去阿拉伯国家", call.LangWu, 0},        // Arabia
		{"他们不知道这是什么", call.LangMandarin, 6}, // 他 们 这 是 什么 知道 (不知 is an exception)
	}
	for _, c := range cases {
		if got := count(c.text, c.v); got != c.want {
			t.Errorf("%q: %d %s markers %v, want %d", c.text, got, c.v, classifier.Markers(c.text), c.want)
		}
	}
	if got := classifier.MarkerRule("佢喺屋企"); got != call.LangCantonese {
		t.Errorf("marker rule on 佢喺屋企: %s", got)
	}
	if got := classifier.MarkerRule("今天天气很好"); got != call.LangMandarin {
		t.Errorf("marker rule on 今天天气很好: %s", got)
	}
}

// TestShippedIdentifies checks the model built into the binary (the one
// the service runs) on sentences in neither corpus nor hotline phrasing.
func TestShippedIdentifies(t *testing.T) {
	ctx := context.Background()
	m, err := classifier.ServedVariety(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Data) == 0 {
		t.Fatal("the built-in model names no training data")
	}
	id, err := classifier.NewIdentifier(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		text string
		want call.Language
	}{
		{"今日天氣好好，我哋去行山啦", call.LangCantonese},
		{"你食咗飯未呀", call.LangCantonese},
		{"佢琴日冇返工", call.LangCantonese},
		{"點解你唔早啲講俾我知", call.LangCantonese},
		{"我正在看书，等一下再说吧", call.LangMandarin},
		{"他昨天没有去上班", call.LangMandarin},
		{"为什么你不早点告诉我", call.LangMandarin},
		{"這個問題我們明天再討論", call.LangMandarin}, // Mandarin in traditional characters
		{"侬今朝夜里向有空伐", call.LangWu},
	}
	for _, c := range cases {
		r, err := id.Identify(ctx, c.text, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Language != c.want {
			t.Errorf("%q: got %s (%.2f, unsure %v), want %s", c.text, r.Language, r.Confidence, r.Unsure, c.want)
		}
	}
	// Too short to name a variety: plain Chinese, marked unsure.
	r, err := id.Identify(ctx, "你好", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Language != call.LangChinese || !r.Unsure {
		t.Errorf("你好: got %s unsure %v, want zh unsure", r.Language, r.Unsure)
	}
}

func TestVarietyFileRoundTrip(t *testing.T) {
	ctx := context.Background()
	cs, err := classifier.LoadCorpora("")
	if err != nil {
		t.Fatal(err)
	}
	m, err := classifier.BuildVariety(ctx, cs, classifier.DefaultVarietyOptions())
	if err != nil {
		t.Fatal(err)
	}
	m2, err := classifier.BuildVariety(ctx, cs, classifier.DefaultVarietyOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := m2.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Fatal("two trainings on the same data gave different model files")
	}
	path := filepath.Join(t.TempDir(), "v.cbvm")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := classifier.LoadVariety(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"佢話部機壞咗唔得", "我的手机开不了机了", "侬好阿拉额手机勿好用了"} {
		a, b := m.Predict(s), got.Predict(s)
		if a.Variety != b.Variety || a.Prob != b.Prob {
			t.Errorf("%q: trained %s %.6f, loaded %s %.6f", s, a.Variety, a.Prob, b.Variety, b.Prob)
		}
	}
	if len(got.Data) != len(cs) || got.Data[0].SHA256 == "" {
		t.Errorf("data sources not kept: %+v", got.Data)
	}
	// Damaged files are errors naming the damage.
	for name, bad := range map[string][]byte{
		"truncated": b[:len(b)/2],
		"flipped":   append(append([]byte(nil), b[:100]...), append([]byte{b[100] ^ 1}, b[101:]...)...),
		"foreign":   []byte("not a model at all, just some bytes to read"),
		"empty":     nil,
	} {
		if _, err := classifier.DecodeVariety(bad); !errors.Is(err, classifier.ErrModel) {
			t.Errorf("%s file: err %v, want ErrModel", name, err)
		}
	}
	if _, err := classifier.LoadVariety(filepath.Join(t.TempDir(), "absent.cbvm")); !errors.Is(err, classifier.ErrModel) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}

// TestShippedVarietyReproducible is the gate on the built-in model: built
// again from the shared corpora and the repository, it must come out
// byte for byte the file the binary carries. A change to the features,
// the training or the data that is not followed by
// `callbrief models train --models variety --variety-out classifier/variety.cbvm`
// fails here.
func TestShippedVarietyReproducible(t *testing.T) {
	root := testenv.SharedData(t, "")
	cs, err := classifier.LoadCorpora(root)
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := classifier.ShippedVariety()
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range shipped.Data {
		if i >= len(cs) || cs[i].Name != d.Name || cs[i].SHA256 != d.SHA256 {
			t.Fatalf("built-in model's data source %d (%s %s) differs from the data at hand; rebuild it", i, d.Name, d.SHA256)
		}
	}
	m, err := classifier.BuildVariety(context.Background(), cs, shipped.Options)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("variety.cbvm")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatal("classifier/variety.cbvm is not what the data and code build; run: callbrief models train --models variety --variety-out classifier/variety.cbvm")
	}
}

func FuzzDecodeVariety(f *testing.F) {
	cs, err := classifier.LoadCorpora("")
	if err != nil {
		f.Fatal(err)
	}
	m, err := classifier.BuildVariety(context.Background(), cs[1:], classifier.DefaultVarietyOptions()) // own sentences: a small file
	if err != nil {
		f.Fatal(err)
	}
	b, _ := m.MarshalBinary()
	f.Add(b)
	f.Add([]byte("CBVM"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := classifier.DecodeVariety(b)
		if err != nil {
			return
		}
		m.Predict("佢話部機壞咗唔得")
	})
}
