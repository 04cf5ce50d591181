package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/tts"
)

// LiveIngress is the Ingress of a live call: prompts are synthesized and
// spoken on the call, the caller's turns are cut from its audio by VAD and
// endpointing, keys pressed answer questions, and the caller talking over a
// prompt stops it (barge-in).
type LiveIngress struct {
	Call        webrtc.Call
	Synth       tts.Synthesizer
	NewDetector func() (vad.Detector, error)
	Endpoint    vad.EndpointConfig
	// Number and Region are what the network (or the caller page) says
	// about the caller; empty when withheld.
	Number, Region string
	// Language of the prompts until the caller's own is known.
	Language call.Language
	// Rate of speech: tts.Slow for elderly callers or on request.
	Rate tts.Rate
	// TurnTimeout bounds the wait for the caller to start speaking.
	TurnTimeout time.Duration
	// BargeIn is how much of the caller's speech stops a prompt: shorter
	// than the endpoint's MinSpeech, so that the prompt stops well within
	// 200 ms of the caller starting to talk. Default 90 ms (three Silero
	// chunks).
	BargeIn time.Duration
	// Decoder, when set, is told of the caller's pauses in the opening
	// turn (after PauseAfter of silence, default 300 ms) so the turn is
	// recognised before the endpoint is sure it ended (see
	// PausedTranscriber).
	Decoder    PauseDecoder
	PauseAfter time.Duration
	Log        *slog.Logger
}

// Adapt implements Adapter: prompts in the caller's language (English,
// Cantonese, else Mandarin, which the speakers of other Chinese varieties
// are addressed in), slower when asked.
func (l *LiveIngress) Adapt(a Adaptation) {
	switch a.Language {
	case call.LangEnglish, call.LangCantonese, call.LangMandarin:
		l.Language = a.Language
	case call.LangChinese, call.LangWu:
		l.Language = call.LangMandarin
	}
	if a.Slower {
		l.Rate = tts.Slow
	}
}

// Caller implements Ingress.
func (l *LiveIngress) Caller() (string, string) { return l.Number, l.Region }

// Opening implements Ingress: greet, then take the caller's first turn.
func (l *LiveIngress) Opening(ctx context.Context) ([]int16, error) {
	pcm, _, err := l.turn(ctx, prompts(l.Language).greeting, false)
	return pcm, err
}

// OffersMenus implements MenuOfferer: a live caller can press a key.
func (l *LiveIngress) OffersMenus() bool { return true }

// Answer implements Ingress: ask p, then take keys or speech.
func (l *LiveIngress) Answer(ctx context.Context, p Prompt) (Answer, error) {
	text := prompts(l.Language).identify
	switch {
	case p.LanguageMenu:
		text = prompts(l.Language).languageMenu
	case !p.Identify:
		text = prompts(l.Language).challenge(p.Challenge.Method, p.Challenge.Digits, p.Challenge.Hint)
	}
	// What the caller said while we were busy (transcribing, verifying)
	// came before this question: it is neither its answer nor a reason to
	// cut the question short by barge-in.
	if q := l.Call.Frames(); q != nil {
		if n := q.Discard(); n > 0 {
			l.logger().Debug("audio from before the question discarded", "frames", n)
		}
	}
	pcm, keys, err := l.turn(ctx, text, true)
	switch {
	case errors.Is(err, webrtc.ErrHangup), errors.Is(err, webrtc.ErrPeerGone):
		return Answer{Hangup: true}, nil
	case err != nil:
		return Answer{}, err
	case keys != "":
		return Answer{DTMF: keys}, nil
	}
	return Answer{Audio: pcm}, nil
}

func (l *LiveIngress) logger() *slog.Logger {
	if l.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Log
}

// turn speaks text and listens for one utterance (or, when keys is set, a
// key sequence ended by '#' or a pause). Speech that starts during the
// prompt interrupts it.
func (l *LiveIngress) turn(ctx context.Context, text string, keys bool) ([]int16, string, error) {
	log := l.logger()
	callCtx := ctx // pieces of the opening are recognised under the call's context, past the turn's
	pauseAfter := l.PauseAfter
	if pauseAfter <= 0 {
		pauseAfter = 300 * time.Millisecond
	}
	paused, decoder := false, l.Decoder
	if keys {
		decoder = nil // answers are recognised by their own grammars, whole
	}
	det, err := l.NewDetector()
	if err != nil {
		return nil, "", fmt.Errorf("pipeline: live vad: %w", err)
	}
	seg, err := vad.NewSegmenter(det, l.Endpoint)
	if err != nil {
		det.Close()
		return nil, "", err
	}
	defer det.Close()

	speakCtx, stopSpeaking := context.WithCancel(ctx)
	defer stopSpeaking()
	spoke := make(chan error, 1)
	go func() {
		pcm, err := l.Synth.Synthesize(speakCtx, text, l.Language, l.Rate)
		if err == nil {
			err = l.Call.Speak(speakCtx, pcm, tts.SampleRate)
		}
		spoke <- err
	}()
	// The goroutine ends when the prompt ends or speakCtx is cancelled on
	// return; wait for it so nothing outlives the turn.
	defer func() { stopSpeaking(); <-spoke }()

	timeout := l.TurnTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		ring     []media.Frame // recent frames, for the pre-roll
		utt      []int16
		inSpeech bool
		bargedIn bool
		digits   strings.Builder
	)
	bargeIn := l.BargeIn
	if bargeIn <= 0 {
		bargeIn = 90 * time.Millisecond
	}
	for {
		ev, err := l.Call.Next(ctx)
		if err != nil {
			if ctx.Err() != nil && digits.Len() > 0 {
				return nil, digits.String(), nil // a pause ends a key sequence
			}
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
				return utt, "", nil // silence: no answer
			}
			return nil, "", err
		}
		switch ev.Kind {
		case webrtc.EventDTMF:
			l.Call.Interrupt()
			if !keys {
				continue
			}
			if ev.Digit == '#' {
				return nil, digits.String() + "#", nil
			}
			digits.WriteRune(ev.Digit)
		case webrtc.EventAudio:
			f := ev.Frame
			evs, err := seg.Process(f)
			if err != nil {
				return nil, "", err
			}
			ring = append(ring, f)
			if len(ring) > 40 {
				ring = ring[1:]
			}
			if !bargedIn && seg.Onset() >= bargeIn {
				l.Call.Interrupt() // barge-in: the caller talks over the prompt
				bargedIn = true
			}
			for _, e := range evs {
				switch e.Kind {
				case vad.SpeechStart:
					inSpeech = true
					if !bargedIn {
						l.Call.Interrupt()
						bargedIn = true
					}
					for _, rf := range ring {
						if rf.Offset+rf.Duration() > e.At-300*time.Millisecond {
							utt = append(utt, rf.Samples...)
						}
					}
					log.Debug("caller speaking", "at", e.At)
				case vad.SpeechEnd:
					if inSpeech {
						return utt, "", nil
					}
				}
			}
			if inSpeech && len(evs) == 0 {
				utt = append(utt, f.Samples...)
				if decoder != nil {
					switch sil := seg.Silence(); {
					case !paused && sil >= pauseAfter:
						log.Debug("caller paused; recognising the turn so far", "silence", sil, "samples", len(utt))
						decoder.Pause(callCtx, utt)
						paused = true
					case paused && sil < pauseAfter:
						decoder.Resume() // speech again: the silence run restarted
						paused = false
					}
				}
			}
		}
	}
}

// promptSet is what the call says, in one language.
type promptSet struct {
	greeting, identify string
	languageMenu       string
	hold, busy         string               // while waiting for the agent; when none came
	place              func(pos int) string // the caller's place in the queue
	challenge          func(m call.Method, digits int, hint string) string
}

func prompts(lang call.Language) promptSet {
	if lang.IsChinese() {
		return promptSet{
			greeting: "您好，这里是客服热线，请问有什么可以帮您？",
			identify: "请说出或按键输入您的账号、订单号或者设备串号，按井号键结束。",
			// Spoken in the Mandarin voice: callers of every Chinese
			// variety understand it, and the key does the choosing.
			languageMenu: "普通话请按1，广东话请按2，For English, press 3.",
			hold:         "正在为您转接人工客服，请稍候，不要挂机。",
			place: func(pos int) string {
				switch {
				case pos <= 0:
					return "客服人员马上为您接听。"
				case pos == 1:
					return "下一位就是您。"
				}
				return fmt.Sprintf("您前面还有%d位客户在等候。", pos-1)
			},
			busy: "抱歉，客服人员暂时都在忙，我们已经记录了您的问题，会尽快给您回电。再见。",
			challenge: func(m call.Method, digits int, hint string) string {
				what := map[call.Method]string{call.MethodPhoneDigits: "注册手机号码", call.MethodIMEI: "设备串号", call.MethodOrder: "订单号", call.MethodOTP: "短信验证码"}[m]
				if what == "" {
					what = "验证信息"
				}
				if digits > 0 {
					return fmt.Sprintf("为了核实身份，请说出或按键输入%s%s的后%d位，按井号键结束。", hint, what, digits)
				}
				return fmt.Sprintf("为了核实身份，请说出或按键输入%s%s，按井号键结束。", hint, what)
			},
		}
	}
	return promptSet{
		greeting:     "Hello, this is customer service. How can we help you today?",
		identify:     "Please say or key in your account, order or device number, then press hash.",
		languageMenu: "For English, press 3. 普通话请按1，广东话请按2。",
		hold:         "Connecting you to an agent. Please stay on the line.",
		place: func(pos int) string {
			switch {
			case pos <= 0:
				return "An agent is about to take your call."
			case pos == 1:
				return "You are next in the queue."
			}
			return fmt.Sprintf("You are number %d in the queue.", pos)
		},
		busy: "Sorry, all our agents are busy. We have noted your request and will call you back soon. Goodbye.",
		challenge: func(m call.Method, digits int, hint string) string {
			what := map[call.Method]string{call.MethodPhoneDigits: "registered phone number", call.MethodIMEI: "device IMEI", call.MethodOrder: "order number", call.MethodOTP: "text message code"}[m]
			if what == "" {
				what = "verification code"
			}
			if digits > 0 {
				return fmt.Sprintf("To confirm it is you, please say or key the last %d digits of your %s %s, then press hash.", digits, hint, what)
			}
			return fmt.Sprintf("To confirm it is you, please say or key your %s %s, then press hash.", hint, what)
		},
	}
}
