package openai

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	openaiapi "github.com/sashabaranov/go-openai"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
)

func TestValidate(t *testing.T) {
	good := Config{BaseURL: "http://whisper:8000/v1", Model: "whisper-1", Timeout: time.Second, Retries: 2}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"https", func(c *Config) { c.BaseURL = "https://api.openai.com/v1" }, ""},
		{"zero timeout means default", func(c *Config) { c.Timeout = 0 }, ""},
		{"zero retries", func(c *Config) { c.Retries = 0 }, ""},
		{"ten retries", func(c *Config) { c.Retries = 10 }, ""},
		{"chinese variety hint", func(c *Config) { c.Language = call.LangCantonese }, ""},
		{"empty base URL", func(c *Config) { c.BaseURL = "" }, "BaseURL"},
		{"no scheme", func(c *Config) { c.BaseURL = "whisper:8000/v1" }, "BaseURL"},
		{"ftp", func(c *Config) { c.BaseURL = "ftp://whisper/v1" }, "BaseURL"},
		{"no host", func(c *Config) { c.BaseURL = "http:///v1" }, "BaseURL"},
		{"unparsable", func(c *Config) { c.BaseURL = "http://[::1" }, "BaseURL"},
		{"empty model", func(c *Config) { c.Model = "  " }, "Model"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "Timeout"},
		{"negative retries", func(c *Config) { c.Retries = -1 }, "Retries"},
		{"eleven retries", func(c *Config) { c.Retries = 11 }, "Retries"},
		{"unmappable language", func(c *Config) { c.Language = "xyz" }, "Language"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := New(c, nil); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field+":") {
				t.Fatalf("Validate = %v, want ErrInvalidConfig naming %s", err, tc.field)
			}
			if _, err := New(c, nil); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
	if d := DefaultConfig("http://x/v1", "m"); d.Timeout != 15*time.Second || d.Retries != 2 {
		t.Errorf("DefaultConfig = %+v", d)
	}
}

func TestNormalizeDigits(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"hello there", ""},
		{"4821", "4821"},
		{"4-8-2-1.", "4821"},
		{"4,821", "4821"},
		{"Four eight two one", "4821"},
		{"oh seven, zero nine", "0709"},
		{"my code is four 8 two 1", "4821"},
		{"NINE", "9"},
		{"someone", ""}, // "one" inside a word is not a digit
		{"四八二一", "4821"},
		{"零幺两三", "0123"},
		{"号码是一三九，〇〇七", "139007"},
		{"兩五", "25"},
		{"１２３", "123"},
		{"五 five 5", "555"},
	}
	for _, tc := range tests {
		if got := NormalizeDigits(tc.in); got != tc.want {
			t.Errorf("NormalizeDigits(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalizeYesNo(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Yes.", "yes"},
		{"yeah, that's right", "yes"},
		{"Yep", "yes"},
		{"correct", "yes"},
		{"No.", "no"},
		{"nope", "no"},
		{"that's incorrect", "no"},
		{"是", "yes"},
		{"是的", "yes"},
		{"对", "yes"},
		{"對啊", "yes"},
		{"係啊", "yes"},
		{"冇錯", "yes"},
		{"没错", "yes"},
		{"不是", "no"},
		{"不对", "no"},
		{"不對", "no"},
		{"唔係", "no"},
		{"是不是", ""},    // a question, both
		{"yes no", ""}, // contradictory
		{"maybe", ""},
		{"I don't know", ""},
		{"nobody", ""}, // whole words only
	}
	for _, tc := range tests {
		if got := NormalizeYesNo(tc.in); got != tc.want {
			t.Errorf("NormalizeYesNo(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if normalize(asr.ModeFree, " as is ") != " as is " {
		t.Error("ModeFree changed the text")
	}
}

func TestLanguageHint(t *testing.T) {
	tests := []struct {
		in      call.Language
		want    string
		wantErr bool
	}{
		{"", "", false}, {call.LangUndetermined, "", false},
		{call.LangEnglish, "en", false}, {"en-US", "en", false}, {"EN", "en", false},
		{call.LangChinese, "zh", false}, {call.LangMandarin, "zh", false},
		{call.LangCantonese, "zh", false}, {call.LangWu, "zh", false}, {"zh-HK", "zh", false},
		{"fr", "fr", false},
		{"xyz", "", true}, {"english", "", true},
	}
	for _, tc := range tests {
		got, err := languageHint(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("languageHint(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, asr.ErrUnsupportedLanguage) {
			t.Errorf("languageHint(%q) error %v does not wrap ErrUnsupportedLanguage", tc.in, err)
		}
	}
}

func TestResponseLanguage(t *testing.T) {
	tests := []struct {
		reported string
		hint     call.Language
		want     call.Language
	}{
		{"chinese", "", call.LangChinese},
		{"zh", call.LangEnglish, call.LangChinese},
		{"Chinese", call.LangMandarin, call.LangMandarin}, // variety kept from the hint
		{"zh", call.LangWu, call.LangWu},
		{"cantonese", "", call.LangCantonese},
		{"yue", call.LangMandarin, call.LangCantonese},
		{"english", call.LangChinese, call.LangEnglish},
		{"en", "", call.LangEnglish},
		{"mandarin", "", call.LangMandarin},
		{"", call.LangCantonese, call.LangCantonese},
		{"", call.LangUndetermined, ""},
		{"", "", ""},
		{"fr", "", "fr"},
		{"french", "", call.LangUndetermined},
	}
	for _, tc := range tests {
		if got := responseLanguage(tc.reported, tc.hint); got != tc.want {
			t.Errorf("responseLanguage(%q, %q) = %q, want %q", tc.reported, tc.hint, got, tc.want)
		}
	}
}

func TestSegmentFromResponse(t *testing.T) {
	u := utterance{start: 2 * time.Second, end: 3 * time.Second, engine: "openai:m"}
	var resp openaiapi.AudioResponse
	resp.Segments = make([]struct {
		ID               int     `json:"id"`
		Seek             int     `json:"seek"`
		Start            float64 `json:"start"`
		End              float64 `json:"end"`
		Text             string  `json:"text"`
		Tokens           []int   `json:"tokens"`
		Temperature      float64 `json:"temperature"`
		AvgLogprob       float64 `json:"avg_logprob"`
		CompressionRatio float64 `json:"compression_ratio"`
		NoSpeechProb     float64 `json:"no_speech_prob"`
		Transient        bool    `json:"transient"`
	}, 2)
	resp.Segments[0].Start, resp.Segments[0].End, resp.Segments[0].Text = 0.25, 0.5, " first "
	resp.Segments[1].Start, resp.Segments[1].End, resp.Segments[1].Text = 0.5, 30, "second" // whisper's 30 s window end
	resp.Segments[1].AvgLogprob = -1

	seg, ok := u.segment(resp, langProb{}) // no top-level text: joined from segments
	if !ok {
		t.Fatal("no segment")
	}
	if seg.Text != "first second" || seg.Start != 2250*time.Millisecond || seg.End != 3*time.Second {
		t.Errorf("segment = %+v; want text from segments, end clamped to the utterance", seg)
	}
	if math.Abs(seg.Confidence-math.Exp(-1)) > 1e-9 {
		t.Errorf("Confidence = %v; want exp(-1) from the one segment reporting avg_logprob", seg.Confidence)
	}
	if seg.Language != "" || !seg.Final || seg.Engine != "openai:m" {
		t.Errorf("Language, Final, Engine = %q, %v, %q", seg.Language, seg.Final, seg.Engine)
	}

	resp = openaiapi.AudioResponse{Text: "x"}
	resp.Words = append(resp.Words, struct {
		Word  string  `json:"word"`
		Start float64 `json:"start"`
		End   float64 `json:"end"`
	}{" x", -1, 0.5}, struct {
		Word  string  `json:"word"`
		Start float64 `json:"start"`
		End   float64 `json:"end"`
	}{"  ", 0.6, 0.7})
	seg, _ = u.segment(resp, langProb{})
	if len(seg.Words) != 1 || seg.Words[0].Text != "x" || seg.Words[0].Start != 2*time.Second || seg.Words[0].End != 2500*time.Millisecond {
		t.Errorf("Words = %+v; want one word clamped at the utterance start, the blank one dropped", seg.Words)
	}
	if seg.Start != 2*time.Second || seg.End != 2700*time.Millisecond {
		t.Errorf("Start, End from words = %v, %v", seg.Start, seg.End)
	}
	if _, ok := u.segment(openaiapi.AudioResponse{Text: " \n"}, langProb{}); ok {
		t.Error("blank text gave a segment")
	}
}

func TestRequestFormatByModel(t *testing.T) {
	for _, tc := range []struct {
		model      string
		format     openaiapi.AudioResponseFormat
		timestamps int
	}{
		{"whisper-1", openaiapi.AudioResponseFormatVerboseJSON, 2},
		{"Systran/faster-whisper-large-v3", openaiapi.AudioResponseFormatVerboseJSON, 2},
		{"gpt-4o-transcribe", openaiapi.AudioResponseFormatJSON, 0},
		{"gpt-4o-mini-transcribe", openaiapi.AudioResponseFormatJSON, 0},
	} {
		r, err := New(Config{BaseURL: "http://x/v1", Model: tc.model, Prompt: "callbrief"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		req := r.request([]byte("RIFF"), "zh")
		if req.Format != tc.format || len(req.TimestampGranularities) != tc.timestamps ||
			req.Language != "zh" || req.Prompt != "callbrief" || req.Model != tc.model || !strings.HasSuffix(req.FilePath, ".wav") {
			t.Errorf("%s: request %+v", tc.model, req)
		}
		_ = r.Close()
	}
}

func TestEncodeWAV(t *testing.T) {
	in := []int16{0, 1, -1, 32767, -32768, 1234}
	out, err := parseWAV(encodeWAV(in, 16000))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d samples back, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("sample %d = %d, want %d", i, out[i], in[i])
		}
	}
	if len(encodeWAV(nil, 16000)) != 44 {
		t.Error("empty WAV is not a bare 44-byte header")
	}
}

func TestBackoffDelays(t *testing.T) {
	r := &Recognizer{backoff: 200 * time.Millisecond, maxBackoff: time.Second}
	for attempt, want := range map[int]time.Duration{1: 200 * time.Millisecond, 2: 400 * time.Millisecond, 3: 800 * time.Millisecond, 4: time.Second, 9: time.Second} {
		for range 50 {
			if d := r.delay(attempt); d > want || d < want/2 {
				t.Fatalf("delay(%d) = %v, want in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}
