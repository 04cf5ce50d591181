package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/tts"
)

// fakeSpeech stands in for a remote OpenAI-compatible speech endpoint,
// which cannot run here: it checks the request and answers 0.5 s of a
// 24 kHz tone as WAV, as the real API does.
func fakeSpeech(t *testing.T, got *map[string]any) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/audio/speech" {
			http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(got); err != nil {
			t.Errorf("request body: %v", err)
		}
		if (*got)["input"] == "fail" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error":{"message":"model overloaded","type":"server_error"}}`))
			return
		}
		data := make([]float32, 12000)
		for i := range data {
			data[i] = 0.3 * float32(math.Sin(2*math.Pi*440*float64(i)/24000))
		}
		var buf bytes.Buffer
		if err := media.WriteWAV(&buf, &media.Audio{Format: media.Format{SampleRate: 24000, Channels: 1}, Data: data}, 16); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "audio/wav")
		w.Write(buf.Bytes())
	}))
}

func TestSynthesize(t *testing.T) {
	var req map[string]any
	srv := fakeSpeech(t, &req)
	defer srv.Close()
	e, err := New(Config{BaseURL: srv.URL + "/v1", APIKey: "test"})
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := e.Synthesize(context.Background(), "请慢一点说", call.LangMandarin, tts.Slow)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) < 7900 || len(pcm) > 8100 { // 0.5 s at 16 kHz
		t.Fatalf("%d samples, want about 8000", len(pcm))
	}
	if req["speed"] != 0.75 || req["response_format"] != "wav" || req["model"] != "tts-1" {
		t.Fatalf("request %v", req)
	}
	_, err = e.Synthesize(context.Background(), "fail", call.LangEnglish, 0)
	if !errors.Is(err, tts.ErrEngine) {
		t.Fatalf("server error: %v", err)
	}
	if _, err := e.Synthesize(context.Background(), "hi", call.Language("de"), 0); !errors.Is(err, tts.ErrUnsupportedLanguage) {
		t.Fatalf("unsupported: %v", err)
	}
	if _, err := New(Config{}); !errors.Is(err, tts.ErrEngine) {
		t.Fatalf("no base URL: %v", err)
	}
}
