package pipeline

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/tts"
)

// scriptedCall is a webrtc.Call double: it delivers a script of events
// (20 ms frames following a speech pattern, keys) as fast as they are
// read, and records prompts and interruptions. The real call is tested in
// media/webrtc over loopback; this tests what the ingress does with it.
type scriptedCall struct {
	mu          sync.Mutex
	events      []webrtc.Event
	spoken      []int
	interrupted atomic.Int32
	speaking    chan struct{}
	done        chan struct{}
	hangupAfter bool
	consumed    int // events taken by Next
	interruptAt int // consumed at the first Interrupt, -1 before
}

func newScriptedCall(pattern string, keys string, hangupAfter bool) *scriptedCall {
	c := &scriptedCall{done: make(chan struct{}), hangupAfter: hangupAfter, interruptAt: -1}
	var off time.Duration
	for _, p := range pattern {
		s := make([]int16, 320)
		if p == '#' {
			for i := range s {
				s[i] = 8000
			}
		}
		c.events = append(c.events, webrtc.Event{Kind: webrtc.EventAudio, Frame: media.Frame{Samples: s, Rate: 16000, Offset: off}})
		off += 20 * time.Millisecond
	}
	for _, k := range keys {
		c.events = append(c.events, webrtc.Event{Kind: webrtc.EventDTMF, Digit: k})
	}
	return c
}

func (c *scriptedCall) ID() string                { return "live-1" }
func (c *scriptedCall) Codec() webrtc.Codec       { return webrtc.CodecOpus }
func (c *scriptedCall) Frames() *media.FrameQueue { return nil }
func (c *scriptedCall) DTMF() <-chan rune         { return nil }
func (c *scriptedCall) Done() <-chan struct{}     { return c.done }
func (c *scriptedCall) Err() error                { return nil }
func (c *scriptedCall) Stats() webrtc.Stats       { return webrtc.Stats{} }
func (c *scriptedCall) Close() error              { return nil }
func (c *scriptedCall) Interrupt() {
	c.mu.Lock()
	if c.interruptAt < 0 {
		c.interruptAt = c.consumed
	}
	c.mu.Unlock()
	c.interrupted.Add(1)
}
func (c *scriptedCall) Next(ctx context.Context) (webrtc.Event, error) {
	c.mu.Lock()
	if len(c.events) > 0 {
		ev := c.events[0]
		c.events = c.events[1:]
		c.consumed++
		c.mu.Unlock()
		return ev, nil
	}
	c.mu.Unlock()
	if c.hangupAfter {
		return webrtc.Event{}, webrtc.ErrHangup
	}
	<-ctx.Done()
	return webrtc.Event{}, ctx.Err()
}
func (c *scriptedCall) Speak(ctx context.Context, pcm []int16, rate int) error {
	c.mu.Lock()
	c.spoken = append(c.spoken, len(pcm))
	c.mu.Unlock()
	<-ctx.Done() // a prompt lasts until the turn ends it
	return ctx.Err()
}

// toneSynth says every prompt as 100 ms of tone and records the text.
type toneSynth struct {
	mu    sync.Mutex
	texts []string
	langs []call.Language
	rates []tts.Rate
}

func (s *toneSynth) Name() string { return "tone" }
func (s *toneSynth) Synthesize(ctx context.Context, text string, lang call.Language, r tts.Rate) ([]int16, error) {
	s.mu.Lock()
	s.texts = append(s.texts, text)
	s.langs = append(s.langs, lang)
	s.rates = append(s.rates, r)
	s.mu.Unlock()
	return make([]int16, 1600), nil
}

func liveIngress(c *scriptedCall, synth *toneSynth) *LiveIngress {
	return &LiveIngress{Call: c, Synth: synth, Language: call.LangEnglish, TurnTimeout: 300 * time.Millisecond,
		NewDetector: func() (vad.Detector, error) { return vad.NewEnergy(vad.EnergyConfig{}), nil },
		Endpoint:    vad.EndpointConfig{Threshold: 0.5, NegThreshold: 0.35, MinSpeech: 100 * time.Millisecond, Hangover: 200 * time.Millisecond, MaxUtterance: 10 * time.Second}}
}

func TestLiveIngressTurns(t *testing.T) {
	before := runtime.NumGoroutine()
	// Quiet, 1 s of loud "speech", quiet: one utterance, with pre-roll.
	c := newScriptedCall(rep('.', 25)+rep('#', 50)+rep('.', 30), "", false)
	synth := &toneSynth{}
	in := liveIngress(c, synth)
	pcm, err := in.Opening(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 1 s of speech plus pre-roll, and not the silence after the hangover.
	if d := time.Duration(len(pcm)) * time.Second / 16000; d < time.Second || d > 1600*time.Millisecond {
		t.Fatalf("utterance of %v, want about 1.3 s", d)
	}
	if len(synth.texts) != 1 || synth.texts[0] != prompts(call.LangEnglish).greeting {
		t.Fatalf("prompts %q", synth.texts)
	}
	if c.interrupted.Load() == 0 {
		t.Fatal("speech during the greeting must interrupt it (barge-in)")
	}

	// Keys answer a question; '#' ends them.
	c = newScriptedCall(rep('.', 5), "9516#", false)
	in = liveIngress(c, synth)
	ans, err := in.Answer(context.Background(), Prompt{})
	if err != nil || ans.DTMF != "9516#" {
		t.Fatalf("answer %+v %v", ans, err)
	}

	// Keys without '#' end with a pause.
	c = newScriptedCall("", "42", false)
	in = liveIngress(c, synth)
	if ans, err = in.Answer(context.Background(), Prompt{}); err != nil || ans.DTMF != "42" {
		t.Fatalf("answer %+v %v", ans, err)
	}

	// Silence: no answer, no error (the call counts it as no input).
	c = newScriptedCall(rep('.', 10), "", false)
	in = liveIngress(c, synth)
	if ans, err = in.Answer(context.Background(), Prompt{}); err != nil || len(ans.Audio) != 0 || ans.DTMF != "" {
		t.Fatalf("silence: %+v %v", ans, err)
	}

	// Hang-up during a question.
	c = newScriptedCall(rep('.', 3), "", true)
	in = liveIngress(c, synth)
	if ans, err = in.Answer(context.Background(), Prompt{}); err != nil || !ans.Hangup {
		t.Fatalf("hangup: %+v %v", ans, err)
	}
	c = newScriptedCall("", "", true)
	in = liveIngress(c, synth)
	if _, err := in.Opening(context.Background()); !errors.Is(err, webrtc.ErrHangup) {
		t.Fatalf("hangup at the greeting: %v", err)
	}
	waitGoroutines(t, before)
}

func TestPromptsNameTheQuestion(t *testing.T) {
	p := prompts(call.LangMandarin).challenge(call.MethodIMEI, 6, "")
	if p == "" || prompts(call.LangEnglish).challenge(call.MethodOrder, 0, "") == "" {
		t.Fatal("empty prompt")
	}
	if want := "6"; !strings.Contains(p, want) {
		t.Fatalf("%q does not say how many digits", p)
	}
}

// TestLiveIngressAdapt: after Adapt, prompts are in the caller's variety
// (other Chinese varieties are addressed in Mandarin) and slower.
func TestLiveIngressAdapt(t *testing.T) {
	for _, c := range []struct {
		in   Adaptation
		lang call.Language
		rate tts.Rate
	}{
		{Adaptation{Language: call.LangCantonese}, call.LangCantonese, 0},
		{Adaptation{Language: call.LangWu, Slower: true}, call.LangMandarin, tts.Slow},
		{Adaptation{Language: call.LangUndetermined, Slower: true}, call.LangEnglish, tts.Slow},
	} {
		synth := &toneSynth{}
		l := liveIngress(newScriptedCall("", "", false), synth)
		l.Adapt(c.in)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		l.say(ctx, prompts(l.Language).hold)
		cancel()
		if len(synth.langs) != 1 || synth.langs[0] != c.lang || synth.rates[0] != c.rate {
			t.Errorf("after %+v: spoke %v at %v, want %s at %v", c.in, synth.langs, synth.rates, c.lang, c.rate)
		}
		if c.lang.IsChinese() != strings.ContainsRune(synth.texts[0], '请') {
			t.Errorf("after %+v: said %q", c.in, synth.texts[0])
		}
	}
}

// TestBargeInLatency: with the default endpoint (an utterance needs
// 250 ms of speech), the prompt still stops after 90-110 ms of the
// caller's speech (counted in 20 ms frames of stream time, not timed).
func TestBargeInLatency(t *testing.T) {
	c := newScriptedCall(rep('.', 25)+rep('#', 50)+rep('.', 40), "", false)
	in := liveIngress(c, &toneSynth{})
	in.Endpoint = vad.DefaultEndpointConfig()
	if _, err := in.Opening(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	at := c.interruptAt
	c.mu.Unlock()
	if speech := time.Duration(at-25) * 20 * time.Millisecond; at < 0 || speech > 110*time.Millisecond || speech < 60*time.Millisecond {
		t.Fatalf("prompt interrupted after %v of speech (frame %d), want about 90 ms", speech, at)
	}
}

// TestHoldAnnouncesPlace: the hold announcement tells the caller their
// place in the queue, in their language.
func TestHoldAnnouncesPlace(t *testing.T) {
	for _, c := range []struct {
		lang call.Language
		pos  int
		want string
	}{
		{call.LangEnglish, 3, "You are number 3 in the queue."},
		{call.LangEnglish, 1, "You are next"},
		{call.LangMandarin, 3, "您前面还有2位客户"},
		{call.LangCantonese, 0, "马上为您接听"},
	} {
		synth := &toneSynth{}
		l := liveIngress(newScriptedCall("", "", false), synth)
		l.Language = c.lang
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		l.holdAnnounce(ctx, func(context.Context) (int, bool) { return c.pos, true }, time.Hour)
		cancel()
		if len(synth.texts) != 1 || !strings.Contains(synth.texts[0], c.want) || !strings.HasPrefix(synth.texts[0], prompts(c.lang).hold) {
			t.Errorf("%s at %d: said %q, want it to contain %q", c.lang, c.pos, synth.texts, c.want)
		}
	}
}
