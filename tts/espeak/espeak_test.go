package espeak

import (
	"context"
	"errors"
	"testing"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/tts"
)

func TestSynthesize(t *testing.T) {
	e, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang call.Language
		text string
	}{
		{call.LangMandarin, "您好，请问有什么可以帮您？"},
		{call.LangCantonese, "你好，請問有咩可以幫到你？"},
		{call.LangEnglish, "Hello, how can I help you today?"},
	}
	for _, tt := range tests {
		t.Run(string(tt.lang), func(t *testing.T) {
			normal, err := e.Synthesize(context.Background(), tt.text, tt.lang, tts.Normal)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := e.Synthesize(context.Background(), tt.text, tt.lang, tts.Slow)
			if err != nil {
				t.Fatal(err)
			}
			// At least half a second of speech, and the slow version
			// clearly longer (0.75x the pace: about 1.33x the length).
			if len(normal) < tts.SampleRate/2 || float64(len(slow)) < 1.15*float64(len(normal)) {
				t.Fatalf("normal %d samples, slow %d", len(normal), len(slow))
			}
			var peak int16
			for _, s := range normal {
				peak = max(peak, s, -s)
			}
			if peak < 1000 {
				t.Fatalf("peak %d: silent", peak)
			}
		})
	}
}

func TestSynthesizeErrors(t *testing.T) {
	e, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		text string
		lang call.Language
		want error
	}{
		{"empty", "", call.LangEnglish, tts.ErrEmptyText},
		{"unsupported", "bonjour", call.Language("fr"), tts.ErrUnsupportedLanguage},
		// Text that looks like an option is read, not obeyed.
		{"option-like text", "--help", call.LangEnglish, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Synthesize(context.Background(), tt.text, tt.lang, 0); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := New("no-such-espeak-binary"); !errors.Is(err, tts.ErrEngine) {
		t.Fatalf("missing binary: %v", err)
	}
}

func TestFixStreamedWAV(t *testing.T) {
	// A 16 kHz mono header declaring the streaming size, then 4 samples.
	h := []byte("RIFF\xf8\xff\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\xf0\xff\x7f")
	wav := append(h, 1, 0, 2, 0, 3, 0, 4, 0)
	pcm, err := tts.DecodeWAV(fixStreamedWAV(wav))
	if err != nil || len(pcm) != 4 || pcm[3] != 4 {
		t.Fatalf("got %v, %v", pcm, err)
	}
	if _, err := tts.DecodeWAV(fixStreamedWAV([]byte("not a wav"))); !errors.Is(err, tts.ErrNoAudio) {
		t.Fatalf("garbage: %v", err)
	}
}
