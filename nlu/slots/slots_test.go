package slots

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
)

// now is a Wednesday.
var now = time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)

func find(ss []call.Slot, k call.SlotKind) []string {
	var out []string
	for _, s := range ss {
		if s.Kind == k {
			v := s.Value
			if !s.Valid {
				v += "!"
			}
			out = append(out, v)
		}
	}
	return out
}

func TestParse(t *testing.T) {
	cases := []struct {
		text string
		kind call.SlotKind
		want string // values joined by ","; "!" marks Valid=false
	}{
		{"我的电话是幺三八零零幺三八零零零", call.SlotPhone, "13800138000"},
		{"手机号 一三八 零零一三 八零零零", call.SlotPhone, "13800138000"},
		{"电话号码是幺五九 两两 三三 四四五五", call.SlotPhone, "15922334455"},
		{"my number is one three eight double oh one three eight triple oh", call.SlotPhone, "13800138000"},
		{"call me on 138 0013 8000", call.SlotPhone, "13800138000"},
		{"座机是零二幺 六二三四五六七八", call.SlotPhone, "02162345678"},
		{"家里电话 六二三四五六七八", call.SlotPhone, "62345678"},
		{"号码是一二三四五六七八九零一", call.SlotPhone, "12345678901!"},
		{"订单号是幺三五七二四六八", call.SlotOrderNumber, "13572468"},
		{"order number 5 5 0 1 2 3 4 9", call.SlotOrderNumber, "55012349"},
		{"IMEI是 490154203237518", call.SlotIMEI, "490154203237518"},
		{"串号四九零幺五四二零三二三七五幺八", call.SlotIMEI, "490154203237518"},
		{"imei 490154203237519", call.SlotIMEI, "490154203237519!"},
		{"序列号是 SN23X0A1B2C", call.SlotSerialNumber, "SN23X0A1B2C"},
		{"我的小米十四开不了机", call.SlotDeviceModel, "Xiaomi 14"},
		{"redmi note 13 pro 屏幕碎了", call.SlotDeviceModel, "Redmi Note 13 Pro"},
		{"红米k七十至尊版", call.SlotDeviceModel, "Redmi K 70 Ultra"},
		{"my iphone 15 pro max won't charge", call.SlotDeviceModel, "iPhone 15 Pro Max"},
		{"华为mate60没信号", call.SlotDeviceModel, "Huawei Mate 60"},
		{"荣耀 magic 6 pro", call.SlotDeviceModel, "Honor Magic 6 Pro"},
		{"poco f6 wifi断", call.SlotDeviceModel, "POCO F 6"},
		{"小米手机开不了机", call.SlotDeviceModel, ""},
		{"我今天打过电话", call.SlotDate, "2025-03-12"},
		{"明天能修好吗", call.SlotDate, "2025-03-13"},
		{"上周三送修的", call.SlotDate, "2025-03-05"},
		{"下个礼拜一来取", call.SlotDate, "2025-03-17"},
		{"三月五号买的", call.SlotDate, "2025-03-05"},
		{"12月20号下的单", call.SlotDate, "2024-12-20"},
		{"I sent it last Monday", call.SlotDate, "2025-03-10"},
		{"bought it on March 3rd", call.SlotDate, "2025-03-03"},
		{"the 1st of february", call.SlotDate, "2025-02-01"},
		{"二月三十号", call.SlotDate, ""},
		{"我等一下再打", call.SlotPhone, ""},
		{"I have one phone and two tablets", call.SlotPhone, ""},
	}
	for _, c := range cases {
		got := strings.Join(find(Parse(c.text, now), c.kind), ",")
		if got != c.want {
			t.Errorf("%q %s: got %q, want %q (all: %v)", c.text, c.kind, got, c.want, Parse(c.text, now))
		}
	}
}

func TestNormalizeNumbers(t *testing.T) {
	cases := map[string]string{
		"幺三八 洞洞幺三":          "1380013",
		"double eight five": "885",
		"一下":                "一下",
		"两个手机":              "两个手机",
		"138-0013-8000":     "13800138000",
	}
	for in, want := range cases {
		if got := NormalizeNumbers(in); got != want {
			t.Errorf("NormalizeNumbers(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLuhn(t *testing.T) {
	for _, c := range []struct {
		s  string
		ok bool
	}{{"490154203237518", true}, {"490154203237519", false}, {"79927398713", true}, {"", false}, {"12a", false}} {
		if Luhn(c.s) != c.ok {
			t.Errorf("Luhn(%q) = %v", c.s, !c.ok)
		}
	}
}

func FuzzSlots(f *testing.F) {
	for _, s := range []string{"我的电话是幺三八零零幺三八零零零", "double eight triple", "订单号 1234", "\xff\xfe", "上周三 三月五号", strings.Repeat("九", 5000), "redmi note 十三 pro"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, sl := range Parse(s, now) {
			if sl.Kind == "" || sl.Value == "" {
				t.Fatalf("empty slot %+v from %q", sl, s)
			}
		}
		_ = NormalizeNumbers(s)
	})
}

func ExampleParse() {
	for _, s := range Parse("我的小米十四开不了机 电话幺三八 零零幺三 八零零零", now) {
		fmt.Println(s.Kind, s.Value)
	}
	// Output:
	// phone 13800138000
	// device_model Xiaomi 14
}
