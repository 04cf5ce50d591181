package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/nlu"
)

// fakeServer stands in for a remote OpenAI-compatible chat endpoint, which
// cannot run here. It checks that the request asks for schema-constrained
// JSON and answers with content, or sleeps, as the test says.
func fakeServer(t *testing.T, content string, delay time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		var req struct {
			ResponseFormat struct {
				Type       string `json:"type"`
				JSONSchema struct {
					Schema struct {
						Properties struct {
							Intent struct {
								Enum []string `json:"enum"`
							} `json:"intent"`
						} `json:"properties"`
					} `json:"schema"`
				} `json:"json_schema"`
			} `json:"response_format"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("bad request body: %v", err)
		}
		if req.ResponseFormat.Type != "json_schema" || len(req.ResponseFormat.JSONSchema.Schema.Properties.Intent.Enum) == 0 {
			t.Errorf("request does not constrain the answer to the taxonomy: %+v", req.ResponseFormat)
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		body, _ := json.Marshal(content)
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}]}`, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// stub is a fallback that always answers the same.
type stub struct{}

func (stub) Classify(ctx context.Context, text string, lang call.Language) (call.IntentResult, error) {
	return call.IntentResult{Intent: "order_status", Confidence: 0.7, Engine: "embedded"}, nil
}
func (stub) Name() string { return "embedded" }
func (stub) Close() error { return nil }

var intents = []Intent{{"order_status", "where is my order"}, {"safety_emergency", "smoke, fire, swelling battery"}}

func TestClassify(t *testing.T) {
	cases := []struct {
		name    string
		content string
		delay   time.Duration
		want    call.Intent
		engine  string
	}{
		{"valid", `{"intent":"safety_emergency","confidence":0.93}`, 0, "safety_emergency", "llm"},
		{"fenced", "```json\n{\"intent\":\"order_status\",\"confidence\":0.8}\n```", 0, "order_status", "llm"},
		{"out of taxonomy", `{"intent":"weather","confidence":0.9}`, 0, "order_status", "llm-fallback:embedded"},
		{"not json", `I think it's an order question`, 0, "order_status", "llm-fallback:embedded"},
		{"timeout", `{"intent":"safety_emergency","confidence":0.9}`, 2 * time.Second, "order_status", "llm-fallback:embedded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := fakeServer(t, c.content, c.delay)
			cl, err := New(Config{BaseURL: srv.URL + "/v1", Model: "m", Timeout: 300 * time.Millisecond, Intents: intents, Fallback: stub{}})
			if err != nil {
				t.Fatal(err)
			}
			r, err := cl.Classify(context.Background(), "手机冒烟了", call.LangMandarin)
			if err != nil {
				t.Fatal(err)
			}
			if r.Intent != c.want || r.Engine != c.engine {
				t.Errorf("got %s via %s, want %s via %s", r.Intent, r.Engine, c.want, c.engine)
			}
		})
	}
}

func TestServerDown(t *testing.T) {
	cl, err := New(Config{BaseURL: "http://127.0.0.1:1/v1", Model: "m", Timeout: time.Second, Intents: intents, Fallback: stub{}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := cl.Classify(context.Background(), "where is my order", call.LangEnglish)
	if err != nil || r.Engine != "llm-fallback:embedded" {
		t.Fatalf("got %+v, %v", r, err)
	}
	if _, err := cl.Classify(context.Background(), "  ", call.LangEnglish); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty text: err %v, want %v", err, nlu.ErrEmptyText)
	}
}
