package evals

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/otp"
	"github.com/callbrief/callbrief/verify/phone"
)

// scriptedCaller is a scenario's caller as a pipeline.Ingress: the
// opening turn, then one scripted turn per question. In audio mode the
// opening and spoken answers are synthesized speech through a telephone
// channel; in text mode they are text.
type scriptedCaller struct {
	sc      CallScenario
	mode    string
	account *accounts.Account
	gw      *otp.DevGateway
	speak   func(ctx context.Context, text string, lang call.Language) ([]int16, error)
	rng     *rand.Rand

	mu sync.Mutex
	i  int
}

func newScriptedCaller(sc CallScenario, mode string, acct *accounts.Account, gw *otp.DevGateway,
	speak func(ctx context.Context, text string, lang call.Language) ([]int16, error)) *scriptedCaller {
	h := fnv.New64a()
	h.Write([]byte(sc.ID))
	return &scriptedCaller{sc: sc, mode: mode, account: acct, gw: gw, speak: speak, rng: rand.New(rand.NewPCG(h.Sum64(), 1)), i: 1}
}

// Caller implements pipeline.Ingress.
func (c *scriptedCaller) Caller() (string, string) { return c.sc.Caller, c.sc.Region }

// Opening implements pipeline.Ingress. In text mode one silent frame
// stands for the audio: the text transcriber ignores it.
func (c *scriptedCaller) Opening(ctx context.Context) ([]int16, error) {
	if c.mode == ModeText {
		return make([]int16, 320), ctx.Err()
	}
	t := c.sc.Turns[0]
	return c.speak(ctx, t.Say, t.Lang)
}

// Answer implements pipeline.Ingress.
func (c *scriptedCaller) Answer(ctx context.Context, p pipeline.Prompt) (pipeline.Answer, error) {
	c.mu.Lock()
	var t ScenarioTurn
	ok := c.i < len(c.sc.Turns)
	if ok {
		t = c.sc.Turns[c.i]
		c.i++
	}
	c.mu.Unlock()
	if !ok || t.Silence {
		<-ctx.Done() // says nothing until the call stops waiting
		return pipeline.Answer{}, ctx.Err()
	}
	switch {
	case t.Hangup:
		return pipeline.Answer{Hangup: true}, nil
	case t.DTMF != "":
		return pipeline.Answer{DTMF: t.DTMF, Kind: t.Kind}, nil
	case t.Say != "":
		return c.spoken(ctx, t.Say, t.Lang, t.Kind)
	}
	kind, digits := t.Kind, c.answer(p, t.Answer == "genuine")
	if p.Identify {
		// Keyed or spoken, an order number is all digits; account IDs
		// have a letter a keypad cannot send.
		kind = accounts.KindOrder
	}
	if t.Via == "speech" {
		lang := t.Lang
		if lang == "" {
			lang = c.sc.Turns[0].Lang
		}
		return c.spoken(ctx, strings.Join(strings.Split(digits, ""), " "), lang, kind)
	}
	if !p.Identify {
		digits += "#"
	}
	return pipeline.Answer{DTMF: digits, Kind: kind}, nil
}

func (c *scriptedCaller) spoken(ctx context.Context, text string, lang call.Language, kind accounts.IDKind) (pipeline.Answer, error) {
	if c.mode == ModeText {
		return pipeline.Answer{Text: text, Kind: kind}, nil
	}
	if lang == "" {
		lang = c.sc.Turns[0].Lang
	}
	pcm, err := c.speak(ctx, text, lang)
	if err != nil {
		return pipeline.Answer{}, err
	}
	return pipeline.Answer{Audio: pcm, Kind: kind}, nil
}

// answer is the genuine customer's answer to p, or a wrong guess of the
// right length.
func (c *scriptedCaller) answer(p pipeline.Prompt, genuine bool) string {
	if genuine && c.account != nil {
		if p.Identify && len(c.account.Orders) > 0 {
			return c.account.Orders[len(c.account.Orders)-1].Number
		}
		if a := genuineAnswer(*c.account, p, c.gw); a != "" {
			return a
		}
	}
	n := p.Challenge.Digits
	if n == 0 {
		n = 14
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + c.rng.IntN(10))
	}
	return string(b)
}

// genuineAnswer is what the account holder answers: they know their
// devices, orders and numbers, and read the code off their phone.
func genuineAnswer(a accounts.Account, p pipeline.Prompt, gw *otp.DevGateway) string {
	ch := p.Challenge
	switch ch.Method {
	case call.MethodIMEI:
		for _, d := range a.Devices {
			if d.Model == ch.Hint && len(d.IMEI) >= ch.Digits {
				return d.IMEI[len(d.IMEI)-ch.Digits:]
			}
		}
	case call.MethodOrder:
		if len(a.Orders) > 0 {
			return a.Orders[len(a.Orders)-1].Number
		}
	case call.MethodPhoneDigits:
		for _, n := range a.Phones {
			e164, err := phone.Normalize(n)
			if err == nil && len(ch.Hint) >= 3 && strings.HasPrefix(phone.Mask(e164), ch.Hint[:3]) {
				return phone.Last(e164, ch.Digits)
			}
		}
	case call.MethodOTP:
		if len(a.Phones) > 0 {
			if e164, err := phone.Normalize(a.Phones[0]); err == nil {
				if text, ok := gw.LastTo(e164); ok {
					return codeRe.FindString(text)
				}
			}
		}
	}
	return ""
}

// textTranscriber is text mode's recognizer: the opening turn's text,
// exactly, with no language tag (the language identifier decides, as it
// would with an engine that gives none).
type textTranscriber struct{ text string }

func (t textTranscriber) Transcribe(ctx context.Context, _ []int16, mode asr.Mode) (call.Transcript, error) {
	if err := ctx.Err(); err != nil {
		return call.Transcript{}, err
	}
	if mode == asr.ModeDigits {
		return call.Transcript{}, fmt.Errorf("%w: text mode received audio for an answer", ErrScenario)
	}
	return call.Transcript{Segments: []call.Segment{{Text: t.text, Final: true}}}, nil
}
