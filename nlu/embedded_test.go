package nlu_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/nlu"
	"github.com/callbrief/callbrief/nlu/linear"
)

var (
	hotlineOnce sync.Once
	hotline     *nlu.Embedded
	hotlineErr  error
)

func hotlineClassifier(tb testing.TB) *nlu.Embedded {
	tb.Helper()
	hotlineOnce.Do(func() {
		m, err := nlu.TrainHotline(context.Background(), nlu.HotlineOptions(), nil)
		if err != nil {
			hotlineErr = err
			return
		}
		hotline, hotlineErr = nlu.NewEmbedded(m, nlu.EmbeddedOptions{})
	})
	if hotlineErr != nil {
		tb.Fatal(hotlineErr)
	}
	return hotline
}

func TestBadInput(t *testing.T) {
	c := hotlineClassifier(t)
	ctx := context.Background()
	for _, s := range []string{"", "   ", "\xff\xfe\xfd", "\x00\x00"} {
		if _, err := c.Classify(ctx, s, call.LangUndetermined); !errors.Is(err, nlu.ErrEmptyText) {
			t.Errorf("%q: err %v, want ErrEmptyText", s, err)
		}
	}
	huge := strings.Repeat("我的手机开不了机", 1<<20/24)
	r, err := c.Classify(ctx, huge, call.LangMandarin)
	if err != nil || r.Intent != "device_power_boot" {
		t.Errorf("1 MB text: %v %v", r.Intent, err)
	}
	// Invalid bytes inside real text are dropped, not fatal.
	r, err = c.Classify(ctx, "手机\xff冒烟了", call.LangMandarin)
	if err != nil || r.Intent != "safety_emergency" {
		t.Errorf("invalid UTF-8 inside text: %v %v", r.Intent, err)
	}
	// Text the model has never seen anything of is out of scope.
	r, err = c.Classify(ctx, "ꦲꦏ꧀ꦱꦫ ꦗꦮ", call.LangUndetermined)
	if err != nil || r.Intent != call.IntentOutOfScope || !r.Rejected {
		t.Errorf("unknown script: %+v %v", r, err)
	}
	// Mixed scripts: a product name inside Chinese, and a code-switched
	// sentence, which must get some sane answer.
	r, err = c.Classify(ctx, "我的iPhone屏幕碎了要换屏", call.LangUndetermined)
	if err != nil || r.Intent != "hardware_fault" {
		t.Errorf("mixed scripts: %+v %v", r, err)
	}
	r, err = c.Classify(ctx, "my 手机 screen 碎了 need 换屏 Привет", call.LangUndetermined)
	if err != nil || r.Intent == "" || len(r.Alternatives) == 0 {
		t.Errorf("code-switched text: %+v %v", r, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Classify(cctx, "hello", call.LangEnglish); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestEmergencyRules(t *testing.T) {
	c := hotlineClassifier(t)
	cases := []struct {
		text string
		want call.Intent // "" : any intent, but no rule may fire
	}{
		{"我那个手机后面好像有点鼓包了", "safety_emergency"},
		{"there is a burning smell from the charger", "safety_emergency"},
		{"手机很烫但是没冒烟", ""},
		{"it's hot but there is no smoke", ""},
		{"呃我的手机开不了机", "device_power_boot"},
		{"someone hacked my account", "data_leak_fraud"},
		{"有人冒充你们要我转账", "data_leak_fraud"},
	}
	for _, cs := range cases {
		r, err := c.Classify(context.Background(), cs.text, call.LangUndetermined)
		if err != nil {
			t.Fatal(err)
		}
		if cs.want == "" && r.Rule != "" {
			t.Errorf("%q: negated phrase fired rule %q", cs.text, r.Rule)
		}
		if cs.want != "" && r.Intent != cs.want {
			t.Errorf("%q: got %s (%s), want %s", cs.text, r.Intent, r.Rule, cs.want)
		}
	}
}

func TestTopKAndCalibration(t *testing.T) {
	c := hotlineClassifier(t)
	r, err := c.Classify(context.Background(), "我的订单什么时候到", call.LangMandarin)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Alternatives) != 3 || r.Alternatives[0].Intent != r.Intent {
		t.Fatalf("alternatives %+v", r.Alternatives)
	}
	sum := 0.0
	for i, a := range r.Alternatives {
		sum += a.Confidence
		if i > 0 && a.Confidence > r.Alternatives[i-1].Confidence {
			t.Errorf("alternatives not sorted: %+v", r.Alternatives)
		}
	}
	if sum > 1.0001 || r.Confidence <= 0 || r.Confidence > 1 {
		t.Errorf("confidences out of range: %+v", r)
	}
	if m := c.Model(); m.Temperature <= 0 || m.Threshold <= 0 {
		t.Errorf("calibration not fitted: T=%v threshold=%v", m.Temperature, m.Threshold)
	}
}

func TestSaveLoad(t *testing.T) {
	c := hotlineClassifier(t)
	p := filepath.Join(t.TempDir(), "m.cblm")
	if err := c.Model().Save(p); err != nil {
		t.Fatal(err)
	}
	c2, err := nlu.LoadEmbedded(p, nlu.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"转人工", "my watch won't sync", "退款什么时候到账"} {
		a, _ := c.Classify(context.Background(), s, "")
		b, _ := c2.Classify(context.Background(), s, "")
		if a.Intent != b.Intent || a.Confidence != b.Confidence {
			t.Errorf("%q: %v/%v before, %v/%v after loading", s, a.Intent, a.Confidence, b.Intent, b.Confidence)
		}
	}
	var buf bytes.Buffer
	if _, err := c.Model().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	bad := append([]byte(nil), b...)
	bad[len(bad)/2] ^= 1
	for name, data := range map[string][]byte{"corrupted": bad, "truncated": b[:len(b)-100], "empty": nil} {
		if _, err := linear.Decode(data); !errors.Is(err, linear.ErrModel) {
			t.Errorf("%s: err %v, want ErrModel", name, err)
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	c := hotlineClassifier(b)
	texts := []string{"嗯那个我的手机开不了机了一直在转圈", "my phone is stuck on the logo and keeps rebooting", "我部電話開唔到機點算好", "订单号幺三五七二四六八到哪里了"}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.Classify(ctx, texts[i%len(texts)], call.LangUndetermined); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"我的手机开不了机", "转人工", "", "\xff\xfe", "my phone is smoking", "佢部機壞咗", strings.Repeat("啊", 3000), "1234567890", "🔥🔥🔥"} {
		f.Add(s)
	}
	c := hotlineClassifier(f)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := c.Classify(context.Background(), s, call.LangUndetermined)
		if err != nil {
			if !errors.Is(err, nlu.ErrEmptyText) {
				t.Fatalf("%q: unexpected error %v", s, err)
			}
			return
		}
		if r.Intent == "" || r.Confidence < 0 || r.Confidence > 1 {
			t.Fatalf("%q: bad result %+v", s, r)
		}
	})
}
