package handoff

import (
	"context"
	"errors"
	"fmt"
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

// Sources are the texts a summary's facts must come from.
func (in SummaryInput) Sources() []string {
	s := []string{in.Transcript, in.Profile, string(in.Intent.Intent)}
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

// Grounded checks that every number and identifier in summary (runs of 3
// or more digits, and letter-digit codes such as RMA-2024-0012) occurs in
// one of sources. Digits are compared without separators, so "138 0013"
// in the transcript grounds "1380013".
func Grounded(summary string, sources ...string) error {
	var hay strings.Builder
	for _, s := range sources {
		hay.WriteString(digitsOnly(s))
		hay.WriteByte('|')
	}
	all := strings.ToLower(strings.Join(sources, "\n"))
	var missing []string
	for _, tok := range facts(summary) {
		d := digitsOnly(tok)
		if !strings.Contains(hay.String(), d) && !strings.Contains(all, strings.ToLower(tok)) {
			missing = append(missing, tok)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s not in the transcript or profile", ErrUngrounded, strings.Join(missing, ", "))
	}
	return nil
}

// facts returns the tokens of s that carry 3 or more digits.
func facts(s string) []string {
	var out []string
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool {
		return !(r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '-' || r == '/')
	}) {
		if len(digitsOnly(tok)) >= 3 {
			out = append(out, strings.Trim(tok, "-/"))
		}
	}
	return out
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
