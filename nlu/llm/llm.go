// Package llm classifies intents with a chat model behind any
// OpenAI-compatible API (go-openai). The model is asked for JSON
// constrained by a schema whose intent field is an enum of the taxonomy;
// the answer is validated again here, since not every server enforces
// schemas. On a timeout, an error or an invalid answer it falls back to
// another classifier (the embedded one), so a slow or absent server never
// leaves a call unclassified.
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/nlu"
)

// ErrInvalidAnswer means the model answered outside the taxonomy or not in
// the required JSON.
var ErrInvalidAnswer = errors.New("llm: invalid answer")

// Intent describes one class for the prompt.
type Intent struct {
	ID          string
	Description string
}

// Config configures the classifier.
type Config struct {
	BaseURL string // OpenAI-compatible endpoint, e.g. http://host:8000/v1
	APIKey  string
	Model   string
	// Timeout bounds one classification (default 3 s): a caller is waiting.
	Timeout time.Duration
	Intents []Intent
	// Fallback answers when the model cannot (required).
	Fallback nlu.IntentClassifier
	Log      *slog.Logger
}

// Classifier is the LLM-backed IntentClassifier.
type Classifier struct {
	cfg    Config
	client *openai.Client
	ids    []string
	schema json.RawMessage
	system string
}

var _ nlu.IntentClassifier = (*Classifier)(nil)

// New builds a classifier.
func New(cfg Config) (*Classifier, error) {
	if cfg.Fallback == nil {
		return nil, errors.New("llm: a fallback classifier is required")
	}
	if len(cfg.Intents) == 0 || cfg.Model == "" {
		return nil, errors.New("llm: intents and model are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	oc := openai.DefaultConfig(cfg.APIKey)
	if cfg.BaseURL != "" {
		oc.BaseURL = cfg.BaseURL
	}
	c := &Classifier{cfg: cfg, client: openai.NewClientWithConfig(oc)}
	var lines []string
	for _, in := range cfg.Intents {
		c.ids = append(c.ids, in.ID)
		lines = append(lines, fmt.Sprintf("- %s: %s", in.ID, in.Description))
	}
	if !slices.Contains(c.ids, string(call.IntentOutOfScope)) {
		c.ids = append(c.ids, string(call.IntentOutOfScope))
		lines = append(lines, fmt.Sprintf("- %s: none of the above", call.IntentOutOfScope))
	}
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"intent":     map[string]any{"type": "string", "enum": c.ids},
			"confidence": map[string]any{"type": "number", "minimum": 0, "maximum": 1},
		},
		"required":             []string{"intent", "confidence"},
		"additionalProperties": false,
	}
	c.schema, _ = json.Marshal(schema)
	c.system = "You classify what a caller to a consumer-electronics customer-service hotline needs. " +
		"The text is speech recognizer output in Mandarin, Cantonese, another Chinese variety or English, without punctuation. " +
		"Answer only JSON {\"intent\": one of the ids below, \"confidence\": 0..1}.\nIntents:\n" + strings.Join(lines, "\n")
	return c, nil
}

// Name implements nlu.IntentClassifier.
func (c *Classifier) Name() string { return "llm" }

// Close implements nlu.IntentClassifier.
func (c *Classifier) Close() error { return nil }

// Classify implements nlu.IntentClassifier.
func (c *Classifier) Classify(ctx context.Context, text string, lang call.Language) (call.IntentResult, error) {
	text, err := nlu.Clean(text)
	if err != nil {
		return call.IntentResult{}, err
	}
	res, err := c.ask(ctx, text)
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return call.IntentResult{}, ctx.Err()
	}
	c.cfg.Log.Warn("llm intent failed, using fallback", "err", err, "fallback", c.cfg.Fallback.Name())
	res, ferr := c.cfg.Fallback.Classify(ctx, text, lang)
	if ferr != nil {
		return res, fmt.Errorf("llm: %w; fallback: %w", err, ferr)
	}
	res.Engine = "llm-fallback:" + c.cfg.Fallback.Name()
	return res, nil
}

func (c *Classifier) ask(ctx context.Context, text string) (call.IntentResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := c.client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model:       c.cfg.Model,
		Temperature: 0,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: c.system},
			{Role: openai.ChatMessageRoleUser, Content: text},
		},
		ResponseFormat: &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name: "intent", Schema: c.schema, Strict: true,
			},
		},
	})
	if err != nil {
		return call.IntentResult{}, err
	}
	if len(resp.Choices) == 0 {
		return call.IntentResult{}, fmt.Errorf("%w: no choices", ErrInvalidAnswer)
	}
	return c.parse(resp.Choices[0].Message.Content)
}

// parse validates the model's JSON against the taxonomy.
func (c *Classifier) parse(content string) (call.IntentResult, error) {
	content = strings.TrimSpace(content)
	// Some servers wrap JSON in a Markdown fence despite the schema.
	content = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(content, "```json"), "```"), "```")
	var a struct {
		Intent     string   `json:"intent"`
		Confidence *float64 `json:"confidence"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(content)), &a); err != nil {
		return call.IntentResult{}, fmt.Errorf("%w: %w", ErrInvalidAnswer, err)
	}
	if !slices.Contains(c.ids, a.Intent) {
		return call.IntentResult{}, fmt.Errorf("%w: intent %q not in the taxonomy", ErrInvalidAnswer, a.Intent)
	}
	conf := 0.5
	if a.Confidence != nil && *a.Confidence >= 0 && *a.Confidence <= 1 {
		conf = *a.Confidence
	}
	in := call.Intent(a.Intent)
	return call.IntentResult{Intent: in, Confidence: conf, Alternatives: []call.IntentScore{{Intent: in, Confidence: conf}}, Engine: "llm"}, nil
}
