package llmsummary_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/llmsummary"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/store/memory"
)

// fakeChat stands in for a remote OpenAI-compatible chat endpoint, which
// cannot run here. It answers /chat/completions with the given text after
// the given delay.
func fakeChat(t *testing.T, answer string, delay time.Duration) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/chat/completions") {
			http.NotFound(w, r)
			return
		}
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) != 2 || !strings.Contains(req.Messages[1].Content, "will not turn on") {
			http.Error(w, "prompt without the transcript", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": "x", "object": "chat.completion", "model": "m",
			"choices": []map[string]any{{"index": 0, "finish_reason": "stop", "message": map[string]string{"role": "assistant", "content": answer}}},
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLLMSummaryGroundedOrFallback(t *testing.T) {
	cases := []struct {
		name, answer string
		delay        time.Duration
		engine       string
	}{
		{"grounded", "Caller's Phone 14 Pro will not turn on since this morning.", 0, "llm"},
		{"invented order number", "Caller's order 99887766 is late; refund promised.", 0, "llm-fallback:template"},
		{"invented amount in Chinese numerals", "来电人的Phone 14 Pro今早起无法开机，已承诺退款三百元。", 0, "llm-fallback:template"},
		{"invented date", "Caller's Phone 14 Pro will not turn on since 12月3日.", 0, "llm-fallback:template"},
		{"invented name", "Mr Li's Phone 14 Pro will not turn on.", 0, "llm-fallback:template"},
		{"grounded in Chinese", "来电人的Phone 14 Pro今早起无法开机。", 0, "llm"},
		{"too slow", "Caller's phone will not turn on.", 2 * time.Second, "llm-fallback:template"},
	}
	tx, _ := taxonomy.Load()
	r, _ := handoff.DefaultRouter(tx)
	ro, _ := handoff.DemoRoster(r.Groups())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := fakeChat(t, c.answer, c.delay)
			s, err := llmsummary.New(llmsummary.Config{BaseURL: srv.URL + "/v1", Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			e, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: queue.NewMemory(), Store: memory.New(), Taxonomy: tx,
				Summarizer: s, SummaryTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			b, err := e.Handoff(context.Background(), handoff.Request{CallID: "c1",
				Transcript: call.Transcript{Segments: []call.Segment{{Text: "my Phone 14 Pro will not turn on since this morning", Final: true}}},
				Intent:     call.IntentResult{Intent: "device_power_boot", Confidence: 0.9}})
			if err != nil {
				t.Fatal(err)
			}
			if b.Summary.Engine != c.engine {
				t.Fatalf("engine %q (%s), want %q", b.Summary.Engine, b.Summary.Fallback, c.engine)
			}
			if c.engine == "llm" && b.Summary.Text != c.answer {
				t.Fatalf("summary %q", b.Summary.Text)
			}
		})
	}
}
