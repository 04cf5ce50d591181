package relevance

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"
)

// general stands for general language: everyday sentences about anything
// but the hotline, in Chinese and English.
var general = []string{
	"今天天气很好我们去公园散步吧", "他昨天晚上看了一场电影", "这本书写得非常有意思", "我妈妈做的饭最好吃",
	"明年我们打算去北京旅游", "学校下个星期开运动会", "请问去火车站怎么走", "我喜欢听音乐和画画",
	"佢今日好早返屋企", "我哋听日去饮茶啦", "呢间餐厅啲嘢好好食", "你识唔识讲英文呀",
	"the weather is lovely today let us go for a walk", "she read a novel on the train", "what time does the museum open",
	"we are planning a trip to the mountains next summer", "can you recommend a good restaurant nearby", "my brother plays football every weekend",
}

// hotline stands for the hotline's own sentences.
var hotline = []string{
	"我的手机开不了机了", "手机屏幕摔碎了怎么修", "我的订单什么时候发货", "耳机连不上蓝牙", "手表充不进电",
	"我想查一下维修进度", "手机电池鼓包了", "账号被锁了怎么解锁", "智能音箱连不上网", "我要退货退款",
	"我部手机开唔到机", "个耳机连唔到蓝牙", "我想查下张单几时发货", "手表充唔到电", "我要退货",
	"my phone will not turn on", "the screen on my phone is cracked", "where is my order", "my earbuds will not pair with bluetooth",
	"my watch is not charging", "i want to check my repair status", "my account is locked", "the smart speaker will not connect to wifi",
	"i want to return my phone and get a refund", "my phone battery is swollen", "the tablet screen is flickering",
	"手机充电很慢", "订单显示已签收但是没收到", "平板屏幕一直闪", "手机号码换了账号登不上",
	"my order never arrived", "the charger gets very hot", "phone keeps restarting", "cannot log in to my account",
	"耳机左边没有声音", "手表屏幕不亮", "音箱一直断网", "我的订单被取消了", "维修要多久", "保修期多长",
	"my watch screen is blank", "the speaker keeps dropping wifi", "how long is the warranty", "my order was cancelled",
	"手机摄像头打不开", "the camera app crashes", "我要换电池", "i need a new battery", "蓝牙耳机一直断", "bluetooth keeps disconnecting",
}

func testBackground(t *testing.T) *Background {
	t.Helper()
	bg, err := BuildBackground([]Source{{Name: "general", SHA256: strings.Repeat("0", 64), Texts: general}}, 12)
	if err != nil {
		t.Fatal(err)
	}
	return bg
}

func examples(ss []string) []Example {
	out := make([]Example, len(ss))
	for i, s := range ss {
		out[i] = Example{Text: s}
	}
	return out
}

func TestFeaturesFoldScriptAndDropDigits(t *testing.T) {
	trad := features("我個帳號被鎖咗 12345", nil)
	simp := features("我个帐号被锁咗", nil)
	if len(trad) != len(simp) {
		t.Fatalf("traditional and simplified text give %d and %d n-grams", len(trad), len(simp))
	}
	for i := range trad {
		if trad[i] != simp[i] {
			t.Fatalf("n-gram %d differs between scripts", i)
		}
	}
	en := features("My phone, it's BROKEN", nil)
	// my, phone, my phone, it's, broken, it's broken (the comma breaks the pair)
	if len(en) != 6 {
		t.Fatalf("got %d English n-grams, want 6", len(en))
	}
	if n := len(features("12345 ... !!!", nil)); n != 0 {
		t.Fatalf("digits and punctuation gave %d n-grams", n)
	}
}

func TestHanShare(t *testing.T) {
	for _, c := range []struct {
		text string
		want float64
	}{{"我的iphone坏了", 0.8}, {"my phone", 0}, {"", 0}, {"手机", 1}} {
		if got := HanShare(c.text); got != c.want {
			t.Errorf("HanShare(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestJudgeSeparatesHotlineFromGeneral(t *testing.T) {
	m, err := Train(context.Background(), testBackground(t), examples(hotline), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"我的手机屏幕碎了", "my phone screen is cracked", "个耳机充唔到电"} {
		if v := m.Judge(s); !v.OnTopic {
			t.Errorf("%q judged off topic (score %.2f, threshold %.2f)", s, v.Score, v.Threshold)
		}
	}
	for _, s := range []string{"我们明天去公园看电影吧", "she read a novel about football", "我哋听日去饮茶"} {
		if v := m.Judge(s); v.OnTopic {
			t.Errorf("%q judged on topic (score %.2f, threshold %.2f)", s, v.Score, v.Threshold)
		}
	}
	if v := m.Judge("123 456"); !v.OnTopic || v.NGrams != 0 {
		t.Errorf("an utterance of digits only must not be judged: %+v", v)
	}
}

func TestTrainRefusesBadInput(t *testing.T) {
	bg := testBackground(t)
	if _, err := Train(context.Background(), nil, examples(hotline), DefaultOptions()); !errors.Is(err, ErrModel) {
		t.Errorf("no background: %v", err)
	}
	if _, err := Train(context.Background(), bg, examples(hotline[:5]), DefaultOptions()); !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), "too few") {
		t.Errorf("five utterances: %v", err)
	}
	o := DefaultOptions()
	o.Recall = 1
	if _, err := Train(context.Background(), bg, examples(hotline), o); !errors.Is(err, ErrModel) {
		t.Errorf("recall 1: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, bg, examples(hotline), DefaultOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if _, err := BuildBackground([]Source{{Name: "empty"}}, 12); !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty source: %v", err)
	}
}

func TestBackgroundFileRoundTripAndDamage(t *testing.T) {
	bg := testBackground(t)
	b, err := bg.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := testBackground(t).MarshalBinary()
	if !bytes.Equal(b, again) {
		t.Fatal("the same corpora gave different files")
	}
	got, err := UnmarshalBackground(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Totals != bg.Totals || !bytes.Equal(got.q, bg.q) || got.Sources[0] != bg.Sources[0] {
		t.Fatal("the decoded background differs")
	}
	for name, data := range map[string][]byte{
		"truncated": b[:len(b)-40],
		"altered":   append(append([]byte(nil), b[:100]...), append([]byte{b[100] ^ 1}, b[101:]...)...),
		"not ours":  []byte("hello world, this is not a background file at all....."),
		"empty":     nil,
	} {
		if _, err := UnmarshalBackground(data); !errors.Is(err, ErrModel) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDefaultBackgroundLoads(t *testing.T) {
	bg, err := DefaultBackground()
	if err != nil {
		t.Fatal(err)
	}
	if len(bg.Sources) < 3 || bg.Bits != DefaultBits {
		t.Fatalf("built-in background: %d sources, %d bits", len(bg.Sources), bg.Bits)
	}
}

func TestParsePeoplesDaily(t *testing.T) {
	in := "１９９８年/t  １月/t  １日/t\n" +
		"[中国/ns  政府/n]nt  今天/t  发表/v  声明/n  。/w  人民/n  生活/n  不断/d  改善/v  ！/w\n\n" +
		"新华社/nt  北京/ns  电/n\n"
	got, err := ParsePeoplesDaily(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"中国政府今天发表声明。", "人民生活不断改善！", "新华社北京电"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q (the dateline of under four characters dropped)", got, want)
	}
	_, err = ParsePeoplesDaily(strings.NewReader("中国/ns  政府/n\n这行没有标注\n"))
	if !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("untagged line: %v", err)
	}
	if _, err := ParsePeoplesDaily(strings.NewReader("")); !errors.Is(err, ErrModel) {
		t.Fatalf("empty corpus: %v", err)
	}
}

func FuzzParsePeoplesDaily(f *testing.F) {
	f.Add("[中国/ns  政府/n]nt  今天/t  发表/v  声明/n  。/w")
	f.Add("/w /")
	f.Add("a/b\n\n\xff/x")
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ParsePeoplesDaily(strings.NewReader(s))
		if err != nil && !errors.Is(err, ErrModel) {
			t.Fatalf("error not wrapped: %v", err)
		}
		for _, o := range out {
			n := 0
			for _, r := range o {
				if unicode.Is(unicode.Han, r) {
					n++
				}
			}
			if n < 4 {
				t.Fatalf("a sentence of %d Chinese characters was kept: %q", n, o)
			}
		}
	})
}

func FuzzUnmarshalBackground(f *testing.F) {
	bg, err := BuildBackground([]Source{{Name: "g", Texts: general}}, 10)
	if err != nil {
		f.Fatal(err)
	}
	b, _ := bg.MarshalBinary()
	f.Add(b)
	f.Add([]byte("CBRB"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := UnmarshalBackground(data)
		if err != nil {
			if !errors.Is(err, ErrModel) {
				t.Fatalf("error not wrapped: %v", err)
			}
			return
		}
		_ = got.prob(feature{nsHan1, 12345})
	})
}
