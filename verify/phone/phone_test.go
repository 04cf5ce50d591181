package phone

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"+8613812345678", "+8613812345678", nil},
		{"8613812345678", "+8613812345678", nil},
		{"008613812345678", "+8613812345678", nil},
		{"13812345678", "+8613812345678", nil},
		{"138 1234 5678", "+8613812345678", nil},
		{"138-1234-5678", "+8613812345678", nil},
		{"+86 (138) 1234-5678", "+8613812345678", nil},
		{"tel:+8613812345678", "+8613812345678", nil},
		{"sip:+8613812345678@ims.example.cn;user=phone", "+8613812345678", nil},
		{"010-12345678", "+861012345678", nil},
		{"0755 8888 1234", "+8675588881234", nil},
		{"+852 9123 4567", "+85291234567", nil},
		{"+1 415 555 0100", "+14155550100", nil},
		{"", "", ErrWithheld},
		{"anonymous", "", ErrWithheld},
		{"  Private ", "", ErrWithheld},
		{"sip:anonymous@anonymous.invalid", "", ErrWithheld},
		{"1381234567", "", ErrInvalid},              // 10 digits, no country code
		{"+86138123456789", "", ErrInvalid},         // 12-digit mobile
		{"+8612812345678", "", ErrInvalid},          // no 12x mobile range
		{"+86012345678", "", ErrInvalid},            // trunk zero after +86
		{"+123", "", ErrInvalid},                    // too short
		{"+1234567890123456", "", ErrInvalid},       // too long
		{"138l2345678", "", ErrInvalid},             // letter l for 1
		{"+86 138 1234 5678 ext 9", "", ErrInvalid}, // extension text
		{"1+3812345678", "", ErrInvalid},            // plus in the middle
		{"+0123456789", "", ErrInvalid},             // country code 0
		{"\xff\xfe", "", ErrInvalid},                // not UTF-8
		{strings.Repeat("1", 50), "", ErrInvalid},   // absurd length
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestMask(t *testing.T) {
	tests := map[string]string{
		"+8613812345678": "138****5678",
		"+14155550100":   "141****0100",
		"+123":           "****",
		"":               "****",
		"王小明":            "****",
	}
	for in, want := range tests {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestLast(t *testing.T) {
	if got := Last("+8613812345678", 4); got != "5678" {
		t.Errorf("Last 4 = %q", got)
	}
	if got := Last("+86", 4); got != "86" {
		t.Errorf("Last of short = %q", got)
	}
}

// FuzzNormalize checks that whatever the network or a caller sends, the
// normaliser never panics, always returns E.164 on success, is idempotent,
// and that Mask never shows the middle digits.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+8613812345678", "13812345678", "anonymous", "010-12345678", "sip:+1@x", "+", "00", "tel:;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Normalize(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrWithheld) {
				t.Fatalf("Normalize(%q): error %v wraps no sentinel", s, err)
			}
			return
		}
		if len(got) < 9 || len(got) > 16 || got[0] != '+' || strings.Trim(got[1:], "0123456789") != "" {
			t.Fatalf("Normalize(%q) = %q: not E.164", s, got)
		}
		again, err := Normalize(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
		m := Mask(got)
		if strings.Contains(m, got[1:]) || !strings.Contains(m, "****") {
			t.Fatalf("Mask(%q) = %q shows the number", got, m)
		}
	})
}
