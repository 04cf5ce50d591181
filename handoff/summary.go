package handoff

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/callbrief/callbrief/call"
)

// ErrUngrounded: a summary states a number or identifier that appears
// neither in the transcript nor in the caller's profile.
var ErrUngrounded = errors.New("handoff: summary not grounded")

// Summary is the case in a few sentences.
type Summary struct {
	Text   string `json:"text"`
	Engine string `json:"engine"` // "template", "llm", "llm-fallback:template"
	// Fallback says why the configured engine was not used.
	Fallback string `json:"fallback,omitempty"`
}

// SummaryInput is what a summarizer may use, and all it may use.
type SummaryInput struct {
	CallID     string
	Transcript string
	Intent     call.IntentResult
	IntentName string // human-readable, e.g. "device will not turn on"
	Slots      []call.Slot
	Urgency    call.Urgency
	Status     call.VerificationStatus
	// Profile is the verified account's facts as text (devices, orders,
	// service history); empty when unverified.
	Profile string
}

// Sources are the texts a summary's facts must come from: the call, and
// what the summarizer is told of it (the confidence as a percentage, the
// repeat calls the caller mentioned).
func (in SummaryInput) Sources() []string {
	s := []string{in.Transcript, in.Profile, string(in.Intent.Intent), in.IntentName,
		fmt.Sprintf("%.0f %.2f", in.Intent.Confidence*100, in.Intent.Confidence)}
	if in.Urgency.RepeatCall > 0 {
		s = append(s, strconv.Itoa(in.Urgency.RepeatCall))
	}
	for _, sl := range in.Slots {
		s = append(s, sl.Value, sl.Text)
	}
	return s
}

// Summarizer writes the case summary. An empty transcript is summarised
// from the other fields; errors are for a cancelled context or a broken
// engine, and callers fall back on the template.
type Summarizer interface {
	Summarize(ctx context.Context, in SummaryInput) (Summary, error)
	Name() string
}

// Template is the deterministic default: a sentence built from the
// understanding, then the caller's own first words (extractive), so it can
// state nothing that was not heard or found.
type Template struct{}

// Name implements Summarizer.
func (Template) Name() string { return "template" }

// maxQuote bounds the quoted part of the caller's words.
const maxQuote = 160

// Summarize implements Summarizer.
func (Template) Summarize(ctx context.Context, in SummaryInput) (Summary, error) {
	if err := ctx.Err(); err != nil {
		return Summary{}, err
	}
	var b strings.Builder
	need := in.IntentName
	if need == "" {
		need = strings.ReplaceAll(string(in.Intent.Intent), "_", " ")
	}
	if in.Intent.Intent == "" || in.Intent.Intent == call.IntentOutOfScope {
		need = "need not classified"
	}
	fmt.Fprintf(&b, "%s", upperFirst(need))
	if in.Intent.Confidence > 0 {
		fmt.Fprintf(&b, " (confidence %.0f%%)", in.Intent.Confidence*100)
	}
	b.WriteString(". ")
	if in.Urgency.Level > call.UrgencyNormal || in.Urgency.Emotion != "" && in.Urgency.Emotion != call.EmotionNeutral {
		fmt.Fprintf(&b, "Urgency %s", in.Urgency.Level)
		if in.Urgency.Emotion != "" && in.Urgency.Emotion != call.EmotionNeutral {
			fmt.Fprintf(&b, ", caller sounds %s", in.Urgency.Emotion)
		}
		if in.Urgency.RepeatCall > 0 {
			fmt.Fprintf(&b, ", says they called %d times before", in.Urgency.RepeatCall)
		}
		b.WriteString(". ")
	}
	if in.Status != "" {
		fmt.Fprintf(&b, "Caller %s. ", in.Status)
	}
	var heard []string
	for _, s := range in.Slots {
		h := string(s.Kind) + " " + s.Value
		if !s.Valid {
			h += " (to confirm)"
		}
		heard = append(heard, h)
	}
	if len(heard) > 0 {
		fmt.Fprintf(&b, "Heard: %s. ", strings.Join(heard, ", "))
	}
	if q := quote(in.Transcript); q != "" {
		fmt.Fprintf(&b, "Caller said: “%s”", q)
	}
	return Summary{Text: strings.TrimSpace(b.String()), Engine: "template"}, nil
}

func upperFirst(s string) string {
	for i, r := range s {
		return string(unicode.ToUpper(r)) + s[i+len(string(r)):]
	}
	return s
}

// quote cuts the transcript at a character boundary.
func quote(t string) string {
	t = strings.Join(strings.Fields(t), " ")
	r := []rune(t)
	if len(r) <= maxQuote {
		return t
	}
	return string(r[:maxQuote]) + "…"
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
