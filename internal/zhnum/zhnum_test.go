package zhnum

import (
	"strconv"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"一三八一二三四五六七八", "13812345678", true},
		{"幺三八", "138", true},
		{"零幺零", "010", true},
		{"二零二四", "2024", true},
		{"两", "2", true},
		{"十", "10", true},
		{"十二", "12", true},
		{"一十二", "12", true},
		{"二十", "20", true},
		{"三百二十", "320", true},
		{"一百零五", "105", true},
		{"一百五", "150", true},
		{"两千", "2000", true},
		{"一千零一", "1001", true},
		{"一千二百三十四", "1234", true},
		{"一万", "10000", true},
		{"三万五", "35000", true},
		{"三万零五", "30005", true},
		{"两万零五", "20005", true},
		{"十万", "100000", true},
		{"一亿零一", "100000001", true},
		{"三亿五千万", "350000000", true},
		{"九千九百九十九亿九千九百九十九万九千九百九十九", "999999999999", true},
		{"萬", "", false},
		{"万一", "", false},
		{"三三百", "", false},
		{"百", "", false},
		{"二十十", "", false},
		{"万亿", "", false},
		{"三万万", "", false},
		{"", "", false},
		{"abc", "", false},
	} {
		got, ok := Parse(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestReplaceAndDigits(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"一二线", "12线"},
		{"我的手机号是一三八 一二三四 五六七八", "我的手机号是138 1234 5678"},
		{"订单号ＡＢ１２３", "订单号ＡＢ123"},
		{"三百二十块", "320块"},
		{"万一坏了", "万一坏了"}, // not a numeral: "in case"
		{"周一到周五", "周1到周5"},
		{"no numbers", "no numbers"},
	} {
		if got := Replace(tc.in); got != tc.want {
			t.Errorf("Replace(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"我的手机号是幺三八，一二三四-五六七八", "13812345678"},
		{"IMEI 三五 1234 五六", "35123456"},
		{"没有号码", ""},
	} {
		if got := Digits(tc.in); got != tc.want {
			t.Errorf("Digits(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSay(t *testing.T) {
	for n, want := range map[int64]string{
		0: "零", 7: "七", 10: "十", 12: "十二", 20: "二十", 105: "一百零五", 110: "一百一十", 320: "三百二十",
		1001: "一千零一", 1234: "一千二百三十四", 10000: "一万", 10005: "一万零五", 10010: "一万零一十", 35000: "三万五千",
		100000: "十万", 100000001: "一亿零一", 350000000: "三亿五千万", 100010000: "一亿零一万", 120000000: "一亿二千万",
	} {
		if got, ok := Say(n); !ok || got != want {
			t.Errorf("Say(%d) = %q, want %q", n, got, want)
		}
	}
	if _, ok := Say(-1); ok {
		t.Error("Say(-1) must fail")
	}
	if _, ok := Say(1e12); ok {
		t.Error("Say(1e12) must fail")
	}
	if got := SayDigits("13812345678", true); got != "幺三八幺二三四五六七八" {
		t.Errorf("SayDigits yao: %q", got)
	}
	if got := SayDigits("010-2", false); got != "零一零二" {
		t.Errorf("SayDigits: %q", got)
	}
}

// FuzzSayParse: every number said positionally reads back as itself, and
// every digit string read out digit by digit reads back as itself.
func FuzzSayParse(f *testing.F) {
	for _, n := range []uint64{0, 1, 10, 12, 105, 150, 10005, 35000, 100000001, 999999999999} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, u uint64) {
		n := int64(u % 1e12)
		s, ok := Say(n)
		if !ok {
			t.Fatalf("Say(%d) failed", n)
		}
		got, ok := Parse(s)
		if !ok || got != strconv.FormatInt(n, 10) {
			t.Fatalf("Parse(Say(%d) = %q) = %q, %v", n, s, got, ok)
		}
		d := strconv.FormatUint(u, 10)
		if got, ok := Parse(SayDigits(d, u%2 == 0)); !ok || got != d {
			t.Fatalf("Parse(SayDigits(%s)) = %q, %v", d, got, ok)
		}
	})
}

// FuzzReplace: any text is rewritten without panicking, stays valid
// UTF-8 when it was, and a second pass changes nothing.
func FuzzReplace(f *testing.F) {
	for _, s := range []string{"一二线", "三万五", "万一", "九千九百九十九亿", "十十十", "零零", "ＡＢ１２"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Replace(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("Replace(%q) = %q: invalid UTF-8", s, out)
		}
		if again := Replace(out); again != out {
			t.Fatalf("Replace not idempotent on %q: %q then %q", s, out, again)
		}
		for _, r := range Digits(s) {
			if r < '0' || r > '9' {
				t.Fatalf("Digits(%q) has %q", s, r)
			}
		}
	})
}
