package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
)

// zhTranscriber hears the opening as a recognizer without Cantonese does:
// standard written Chinese, tagged plain "zh" (or with a variety, when
// tag says so).
type zhTranscriber struct {
	text string
	tag  call.Language
}

func (z zhTranscriber) Transcribe(ctx context.Context, _ []int16, _ asr.Mode) (call.Transcript, error) {
	return call.Transcript{Segments: []call.Segment{{Text: z.text, End: time.Second, Final: true, Language: z.tag}}}, ctx.Err()
}

// mandarinReader reads every text as confident Mandarin, as the variety
// model reads a standard-Chinese transcript; "冒烟" is an emergency.
type mandarinReader struct{}

func (mandarinReader) Understand(ctx context.Context, text string, tag call.Language) (Understanding, error) {
	u := Understanding{Language: call.LanguageResult{Language: call.LangMandarin, Confidence: 0.99, Source: "text"},
		Intent: call.IntentResult{Intent: "order_status", Confidence: 0.9}, Policy: "order_status"}
	if strings.Contains(text, "冒烟") {
		u.Intent = call.IntentResult{Intent: "safety_emergency", Confidence: 1}
		u.Policy, u.Emergency, u.Urgency.Level = "emergency_safety", true, call.UrgencyEmergency
	}
	return u, nil
}

// menuIngress is a live caller: it answers the language menu with
// choice (keys, or words when said is set) and records every prompt and
// adaptation.
type menuIngress struct {
	*OfflineIngress
	choice, said string
	prompts      []Prompt
	adapted      []Adaptation
}

func (m *menuIngress) OffersMenus() bool  { return true }
func (m *menuIngress) Adapt(a Adaptation) { m.adapted = append(m.adapted, a) }
func (m *menuIngress) Answer(ctx context.Context, p Prompt) (Answer, error) {
	m.prompts = append(m.prompts, p)
	if p.LanguageMenu {
		switch {
		case m.said != "":
			return Answer{Text: m.said}, nil
		case m.choice != "":
			return Answer{DTMF: m.choice}, nil
		}
		<-ctx.Done() // says nothing
		return Answer{}, ctx.Err()
	}
	return Answer{}, nil // no answer to the verification questions
}

// TestLanguageMenu: a caller the recognizer heard as plain Chinese, on a
// number that tells nothing, is asked once which language they want,
// before any question, and the choice (key or words) decides the call's
// language, named as the caller's; callers whose number or account
// decides, emergencies, recordings and recognizers that name the variety
// are never asked.
func TestLanguageMenu(t *testing.T) {
	const unknownMainland = "+8613900001111" // no demo account
	for _, c := range []struct {
		name, caller, opening, choice, said string
		tag                                 call.Language
		offline                             bool
		wantMenu                            bool
		want                                call.Language
		wantSource                          string
	}{
		{"unknown number, presses 2", unknownMainland, "我想查一下订单", "2", "", call.LangChinese, false, true, call.LangCantonese, "caller-choice:keypad"},
		{"unknown number, says Cantonese", unknownMainland, "我想查一下订单", "", "我要讲广东话", call.LangChinese, false, true, call.LangCantonese, "caller-choice:speech"},
		{"unknown number, presses 1 (prior cannot undo it)", unknownMainland, "我想查一下订单", "1", "", call.LangChinese, false, true, call.LangMandarin, "caller-choice:keypad"},
		{"unknown number, no choice", unknownMainland, "我想查一下订单", "", "", call.LangChinese, false, true, call.LangMandarin, "text"},
		{"Hong Kong number", "+85298765432", "我想查一下订单", "2", "", call.LangChinese, false, false, call.LangCantonese, "text+prior:number-region"},
		{"registered number", "+8613812345678", "我想查一下订单", "2", "", call.LangChinese, false, false, call.LangMandarin, "text"},
		{"emergency", unknownMainland, "手机冒烟了", "2", "", call.LangChinese, false, false, call.LangMandarin, "text"},
		{"recording", unknownMainland, "我想查一下订单", "2", "", call.LangChinese, true, false, call.LangMandarin, "text"},
		{"recognizer named the variety", unknownMainland, "我想查一下订单", "2", "", call.LangMandarin, false, false, call.LangMandarin, "text"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, _ := testCallConfig(t, "")
			cfg.Transcriber = zhTranscriber{c.opening, c.tag}
			cfg.Understander = mandarinReader{}
			off := &OfflineIngress{Scenario: &Scenario{Caller: c.caller}}
			var in Ingress = off
			mi := &menuIngress{OfflineIngress: off, choice: c.choice, said: c.said}
			if !c.offline {
				in = mi
			}
			res, err := RunCall(context.Background(), cfg, "call-menu", in)
			if err != nil {
				t.Fatal(err)
			}
			asked := 0
			for i, p := range mi.prompts {
				if p.LanguageMenu {
					asked++
					if i != 0 {
						t.Errorf("the menu came after %d other questions", i)
					}
				}
			}
			if (asked == 1) != c.wantMenu || asked > 1 {
				t.Fatalf("menu asked %d times, want asked: %v", asked, c.wantMenu)
			}
			l := res.Brief.Language
			if l.Language != c.want || l.Source != c.wantSource {
				t.Fatalf("language %s (%s), want %s (%s)", l.Language, l.Source, c.want, c.wantSource)
			}
			if strings.HasPrefix(c.wantSource, "caller-choice") {
				last := mi.adapted[len(mi.adapted)-1]
				if last.Language != c.want {
					t.Fatalf("prompts adapted to %s, want %s", last.Language, c.want)
				}
			}
		})
	}
}
