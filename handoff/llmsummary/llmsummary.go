// Package llmsummary writes case summaries with any OpenAI-compatible chat
// model. The model sees only the transcript, the understanding and the
// verified profile, is told to state nothing else, and the engine then
// checks every number and identifier against them (handoff.Grounded),
// falling back on the template when the check fails or the model is slow.
package llmsummary

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/callbrief/callbrief/handoff"
)

// ErrEmpty: the model answered with no text.
var ErrEmpty = errors.New("llmsummary: empty answer")

// Config is the endpoint.
type Config struct {
	BaseURL string
	APIKey  string
	Model   string
	Timeout time.Duration // per request; the engine's own bound also applies
}

// Summarizer implements handoff.Summarizer.
type Summarizer struct {
	c     *openai.Client
	model string
}

var _ handoff.Summarizer = (*Summarizer)(nil)

// New returns a summarizer for the endpoint.
func New(cfg Config) (*Summarizer, error) {
	if cfg.BaseURL == "" || cfg.Model == "" {
		return nil, fmt.Errorf("llmsummary: base URL and model are required")
	}
	oc := openai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	oc.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	return &Summarizer{c: openai.NewClientWithConfig(oc), model: cfg.Model}, nil
}

// Name implements handoff.Summarizer.
func (s *Summarizer) Name() string { return "llm" }

const system = `You write the case summary a hotline agent reads before answering a call.
Use only the facts given below: the caller's words, the classified need, what was heard and the verified account.
Never add a number, identifier, date, price, promise or diagnosis that is not in them. If something is unknown, leave it out.
At most three short sentences, in the caller's language.`

// Prompt renders the facts the model may use.
func Prompt(in handoff.SummaryInput) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Need: %s (%s, confidence %.2f)\n", in.Intent.Intent, in.IntentName, in.Intent.Confidence)
	fmt.Fprintf(&b, "Urgency: %s, emotion %s\n", in.Urgency.Level, in.Urgency.Emotion)
	fmt.Fprintf(&b, "Verification: %s\n", in.Status)
	for _, s := range in.Slots {
		fmt.Fprintf(&b, "Heard %s: %s\n", s.Kind, s.Value)
	}
	if in.Profile != "" {
		fmt.Fprintf(&b, "Verified account: %s\n", in.Profile)
	}
	fmt.Fprintf(&b, "Caller said:\n%s\n", in.Transcript)
	return b.String()
}

// Summarize implements handoff.Summarizer.
func (s *Summarizer) Summarize(ctx context.Context, in handoff.SummaryInput) (handoff.Summary, error) {
	resp, err := s.c.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model:       s.model,
		Temperature: 0,
		MaxTokens:   200,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: system},
			{Role: openai.ChatMessageRoleUser, Content: Prompt(in)},
		},
	})
	if err != nil {
		return handoff.Summary{}, fmt.Errorf("llmsummary: %w", err)
	}
	if len(resp.Choices) == 0 || strings.TrimSpace(resp.Choices[0].Message.Content) == "" {
		return handoff.Summary{}, ErrEmpty
	}
	return handoff.Summary{Text: strings.TrimSpace(resp.Choices[0].Message.Content), Engine: "llm"}, nil
}
