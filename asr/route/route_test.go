package route

import (
	"context"
	"errors"
	"testing"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
)

// named is a recognizer double that records which engine opened a stream.
type named struct {
	name   string
	rate   int
	opened *[]string
	closed bool
}

func (n *named) Name() string    { return n.name }
func (n *named) SampleRate() int { return n.rate }
func (n *named) Close() error    { n.closed = true; return nil }
func (n *named) NewStream(ctx context.Context, cfg asr.StreamConfig) (asr.Stream, error) {
	*n.opened = append(*n.opened, n.name)
	return nil, nil
}

func TestRoutesByLanguage(t *testing.T) {
	var opened []string
	en := &named{name: "sphinx", rate: 16000, opened: &opened}
	zh := &named{name: "whisper", rate: 16000, opened: &opened}
	r, err := New(en, zh)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []call.Language{call.LangEnglish, call.LangMandarin, "", call.LangCantonese, call.LangChinese, call.LangWu} {
		r.NewStream(context.Background(), asr.StreamConfig{Language: l})
	}
	want := []string{"sphinx", "whisper", "sphinx", "whisper", "whisper", "whisper"}
	for i := range want {
		if opened[i] != want[i] {
			t.Fatalf("streams went to %v, want %v", opened, want)
		}
	}
	r.Close()
	if !en.closed || !zh.closed {
		t.Fatal("Close must close both engines")
	}
	if _, err := New(en, &named{name: "x", rate: 8000, opened: &opened}); err == nil {
		t.Fatal("engines at different rates must be refused")
	}
}

func TestPolicyAudioFirst(t *testing.T) {
	var opened []string
	sphinx := &named{name: "sphinx", rate: 16000, opened: &opened}
	whisper := &named{name: "whisper", rate: 16000, opened: &opened}
	up := true
	free, digits, yesno := asr.ModeFree, asr.ModeDigits, asr.ModeYesNo
	cases := []struct {
		english, grammars, up bool
		lang                  call.Language
		mode                  asr.Mode
		want                  string // engine, "error" for ErrUnavailable
		fellBack              bool
	}{
		// No hint: the multilingual engine decides the language.
		{false, true, true, "", free, "whisper", false},
		{false, true, true, call.LangUndetermined, free, "whisper", false},
		{false, true, true, call.LangMandarin, free, "whisper", false},
		{false, true, true, call.LangCantonese, digits, "whisper", false}, // no Chinese grammar on sphinx
		{false, true, true, call.LangEnglish, free, "sphinx", false},
		{true, true, true, call.LangEnglish, free, "whisper", false},
		{true, true, true, "en-GB", free, "whisper", false},
		{true, true, true, call.LangEnglish, digits, "sphinx", false},
		{true, true, true, "", yesno, "sphinx", false},
		{true, false, true, "", yesno, "whisper", false},
		// Down: English and unhinted streams fall back; Chinese ones cannot.
		{true, true, false, "", free, "sphinx", true},
		{true, true, false, call.LangEnglish, free, "sphinx", true},
		{true, true, false, call.LangMandarin, free, "error", true},
		{true, true, false, call.LangEnglish, digits, "sphinx", false},
	}
	for _, tc := range cases {
		up = tc.up
		r, err := NewPolicy(Policy{Multilingual: whisper, Fallback: sphinx, EnglishOnMultilingual: tc.english, GrammarsOnFallback: tc.grammars, Up: func() bool { return up }})
		if err != nil {
			t.Fatal(err)
		}
		opened = nil
		_, err = r.NewStream(context.Background(), asr.StreamConfig{Language: tc.lang, Mode: tc.mode})
		got := "error"
		if err == nil {
			got = opened[0]
		} else if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%+v: %v", tc, err)
		}
		if got != tc.want || (r.Fallbacks() == 1) != (tc.fellBack && err == nil) {
			t.Errorf("%+v: went to %s (fallbacks %d)", tc, got, r.Fallbacks())
		}
	}
	r, _ := NewPolicy(Policy{Multilingual: whisper, Fallback: sphinx})
	if r.Name() != "whisper+fallback:sphinx" {
		t.Errorf("Name %q", r.Name())
	}
}
