package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/callbrief/callbrief/handoff/kb"
)

// fakeServer stands in for a remote OpenAI-compatible embeddings endpoint,
// which cannot be reached from the build machine. It returns, for each
// input, a 4-d vector derived from the text (unnormalised, to check the
// client normalises), in reverse order (to check the client re-orders by
// index).
func fakeServer(t *testing.T, status int, inputs *[][]string) *httptest.Server {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/v1/embeddings" || r.Header.Get("Authorization") != "Bearer sk-test" {
			http.Error(w, `{"error":{"message":"bad path or key"}}`, http.StatusUnauthorized)
			return
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			w.Write([]byte(`{"error":{"message":"overloaded","type":"server_error"}}`))
			return
		}
		var req struct {
			Input []string `json:"input"`
			Model string   `json:"model"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "text-embedding-3-small" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if inputs != nil {
			*inputs = append(*inputs, req.Input)
		}
		type item struct {
			Object    string    `json:"object"`
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		var data []item
		for i := len(req.Input) - 1; i >= 0; i-- {
			data = append(data, item{"embedding", i, []float32{float32(len(req.Input[i])), 3, 0, 4}})
		}
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestEmbed(t *testing.T) {
	ctx := context.Background()
	var inputs [][]string
	srv := fakeServer(t, http.StatusOK, &inputs)
	e, err := New(ctx, Options{BaseURL: srv.URL + "/v1", APIKey: "sk-test", Model: "text-embedding-3-small", QueryPrefix: "query: ", PassagePrefix: "passage: ", BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if e.Dim() != 4 {
		t.Fatalf("probed Dim = %d, want 4", e.Dim())
	}
	texts := []string{"a", "bbb", "cc"}
	vs, err := e.Embed(ctx, texts, kb.Passage)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		var n float32
		for _, x := range v {
			n += x * x
		}
		if n < 0.999 || n > 1.001 {
			t.Errorf("vector %d not unit length: %v", i, v)
		}
		// The first component encodes the prefixed text's length, so
		// order and prefix are both checked.
		want := float32(len("passage: " + texts[i]))
		if got := v[0] / v[1] * 3; got < want-0.01 || got > want+0.01 {
			t.Errorf("vector %d belongs to a text of length %.1f, want %.0f", i, got, want)
		}
	}
	if got := len(inputs); got != 3 { // probe + two batches of at most 2
		t.Errorf("%d requests, want 3", got)
	}
	if _, err := e.Embed(ctx, []string{"x"}, kb.Query); err != nil || !strings.HasPrefix(inputs[len(inputs)-1][0], "query: ") {
		t.Errorf("query prefix not applied: %v %v", inputs[len(inputs)-1], err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		opts func(url string) Options
		code int
		want error
	}{
		{"server error", func(u string) Options {
			return Options{BaseURL: u + "/v1", APIKey: "sk-test", Model: "text-embedding-3-small", Dim: 4}
		}, http.StatusServiceUnavailable, kb.ErrEmbedder},
		{"wrong key", func(u string) Options {
			return Options{BaseURL: u + "/v1", APIKey: "nope", Model: "text-embedding-3-small", Dim: 4}
		}, http.StatusOK, kb.ErrEmbedder},
		{"dimension differs", func(u string) Options {
			return Options{BaseURL: u + "/v1", APIKey: "sk-test", Model: "text-embedding-3-small", Dim: 8}
		}, http.StatusOK, kb.ErrDimension},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeServer(t, tc.code, nil)
			e, err := New(ctx, tc.opts(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Embed(ctx, []string{"x"}, kb.Query); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := New(ctx, Options{Model: "m"}); !errors.Is(err, kb.ErrEmbedder) {
		t.Errorf("missing base URL: %v", err)
	}
}
