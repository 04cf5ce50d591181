package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
)

// lengthTranscriber "recognises" audio as the number of samples it got,
// and records every call.
type lengthTranscriber struct {
	mu    sync.Mutex
	calls []int
	fail  bool
}

func (l *lengthTranscriber) Transcribe(ctx context.Context, s []int16, mode asr.Mode) (call.Transcript, error) {
	l.mu.Lock()
	l.calls = append(l.calls, len(s))
	fail := l.fail
	l.mu.Unlock()
	if fail {
		return call.Transcript{}, errors.New("speech server restarting")
	}
	if err := ctx.Err(); err != nil {
		return call.Transcript{}, err
	}
	d := time.Duration(len(s)) * time.Second / 16000
	return call.Transcript{Segments: []call.Segment{{Text: fmt.Sprintf("<%d>", len(s)), Start: 0, End: d, Language: call.LangChinese, Final: true}}}, nil
}

func (l *lengthTranscriber) got() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.calls...)
}

func audio(n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(i%251 - 125)
	}
	return s
}

func TestPausedTranscriber(t *testing.T) {
	ctx := context.Background()
	turn := audio(48000) // 3 s
	t.Run("a pause that was the end: the guess is the turn, recognised once", func(t *testing.T) {
		base := &lengthTranscriber{}
		p := &PausedTranscriber{Base: base, Tail: 300 * time.Millisecond}
		p.Pause(ctx, turn[:32000])
		tr, err := p.Transcribe(ctx, turn[:32000+4800], asr.ModeFree) // the hangover's rest after it
		if err != nil {
			t.Fatal(err)
		}
		if tr.Text() != "<32000>" || fmt.Sprint(base.got()) != "[32000]" {
			t.Fatalf("got %q from calls %v, want the guess alone", tr.Text(), base.got())
		}
	})
	t.Run("the caller spoke again: the turn whole, never cut at the pause", func(t *testing.T) {
		base := &lengthTranscriber{}
		p := &PausedTranscriber{Base: base}
		p.Pause(ctx, turn[:16000])
		p.Resume()
		p.Pause(ctx, turn[:40000])
		p.Resume()
		tr, err := p.Transcribe(ctx, turn, asr.ModeFree)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Text() != "<48000>" {
			t.Fatalf("got %q", tr.Text())
		}
		p.Wait()
	})
	t.Run("no word of the caller speaking again, but more audio than the tail: the turn whole", func(t *testing.T) {
		base := &lengthTranscriber{}
		p := &PausedTranscriber{Base: base, Tail: 300 * time.Millisecond}
		p.Pause(ctx, turn[:16000])
		if tr, _ := p.Transcribe(ctx, turn, asr.ModeFree); tr.Text() != "<48000>" {
			t.Fatalf("got %q", tr.Text())
		}
		p.Wait()
	})
	t.Run("too little speech for a guess", func(t *testing.T) {
		base := &lengthTranscriber{}
		p := &PausedTranscriber{Base: base}
		p.Pause(ctx, turn[:4000])
		if tr, _ := p.Transcribe(ctx, turn[:4800], asr.ModeFree); tr.Text() != "<4800>" || len(base.got()) != 1 {
			t.Fatalf("got %q from %v", tr.Text(), base.got())
		}
	})
	t.Run("another turn, digits, or a failed guess: the turn whole", func(t *testing.T) {
		base := &lengthTranscriber{}
		p := &PausedTranscriber{Base: base}
		p.Pause(ctx, turn[:16000])
		other := audio(20000)
		other[5] = 9999
		if tr, _ := p.Transcribe(ctx, other, asr.ModeFree); tr.Text() != "<20000>" {
			t.Fatalf("another turn: %q", tr.Text())
		}
		p.Pause(ctx, turn[:16000])
		if tr, _ := p.Transcribe(ctx, turn[:20000], asr.ModeDigits); tr.Text() != "<20000>" {
			t.Fatalf("digits: %q", tr.Text())
		}
		p.Wait()
		failing := &lengthTranscriber{fail: true}
		pf := &PausedTranscriber{Base: failing}
		pf.Pause(ctx, turn[:16000])
		pf.Wait()
		failing.mu.Lock()
		failing.fail = false
		failing.mu.Unlock()
		if tr, err := pf.Transcribe(ctx, turn[:16000], asr.ModeFree); err != nil || tr.Text() != "<16000>" {
			t.Fatalf("failed guess: %q, %v", tr.Text(), err)
		}
	})
	t.Run("the call ends: nothing outlives it", func(t *testing.T) {
		before := runtime.NumGoroutine()
		block := &blockingTranscriber{}
		p := &PausedTranscriber{Base: block}
		cctx, cancel := context.WithCancel(ctx)
		p.Pause(cctx, turn[:16000])
		cancel()
		if _, err := p.Transcribe(cctx, turn[:16000], asr.ModeFree); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want canceled", err)
		}
		p.Wait()
		waitGoroutines(t, before)
	})
	t.Run("speech again cancels the guess in flight", func(t *testing.T) {
		block := &blockingTranscriber{}
		p := &PausedTranscriber{Base: block}
		p.Pause(ctx, turn[:16000])
		p.Resume()
		p.Wait() // returns only because Resume cancelled it
	})
}

// blockingTranscriber answers only when its context ends.
type blockingTranscriber struct{}

func (blockingTranscriber) Transcribe(ctx context.Context, _ []int16, _ asr.Mode) (call.Transcript, error) {
	<-ctx.Done()
	return call.Transcript{}, ctx.Err()
}

// recordingDecoder is a PausedTranscriber that also records what the
// ingress told it.
type recordingDecoder struct {
	*PausedTranscriber
	mu     sync.Mutex
	events []string
}

func (r *recordingDecoder) Pause(ctx context.Context, utt []int16) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf("pause@%d", len(utt)))
	r.mu.Unlock()
	r.PausedTranscriber.Pause(ctx, utt)
}

func (r *recordingDecoder) Resume() {
	r.mu.Lock()
	r.events = append(r.events, "resume")
	r.mu.Unlock()
	r.PausedTranscriber.Resume()
}

// TestLiveIngressDecodesAtPauses: a live opening turn of three stretches
// of speech with short pauses between them is guessed at each pause, each
// guess dropped when the caller speaks again, and the last one (the end of
// the turn) is the transcript, covering all its speech.
func TestLiveIngressDecodesAtPauses(t *testing.T) {
	before := runtime.NumGoroutine()
	// quiet, speech 0.8 s, pause 160 ms, speech 0.8 s, pause 160 ms, speech 0.8 s, quiet
	pattern := rep('.', 25) + rep('#', 40) + rep('.', 8) + rep('#', 40) + rep('.', 8) + rep('#', 40) + rep('.', 30)
	c := newScriptedCall(pattern, "", false)
	in := liveIngress(c, &toneSynth{})
	base := &lengthTranscriber{}
	dec := &recordingDecoder{PausedTranscriber: &PausedTranscriber{Base: base, Tail: 100 * time.Millisecond}}
	in.Decoder, in.PauseAfter = dec, 100*time.Millisecond
	pcm, err := in.Opening(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dec.mu.Lock()
	evs := fmt.Sprint(dec.events)
	dec.mu.Unlock()
	if n := len(dec.events); n != 5 {
		t.Fatalf("decoder told %s, want pause, resume, pause, resume, pause", evs)
	}
	tr, err := dec.Transcribe(context.Background(), pcm, asr.ModeFree)
	if err != nil {
		t.Fatal(err)
	}
	// The last pause was the end: its guess is the whole turn.
	if len(tr.Segments) != 1 {
		t.Fatalf("transcript %q from %s", tr.Text(), evs)
	}
	var last int
	if _, err := fmt.Sscanf(tr.Text(), "<%d>", &last); err != nil || len(pcm)-last > int(0.45*16000) {
		t.Fatalf("the guess covered %d of the turn's %d samples: speech left out", last, len(pcm))
	}
	dec.Wait()
	waitGoroutines(t, before)
}

// TestPausedTranscriberOnGuess: the hook gets the guess's transcript (the
// served stack starts the turn's embedding there), never a cancelled one.
func TestPausedTranscriberOnGuess(t *testing.T) {
	ctx := context.Background()
	turn := audio(48000)
	got := make(chan string, 4)
	p := &PausedTranscriber{Base: &lengthTranscriber{}, OnGuess: func(tr call.Transcript) { got <- tr.Text() }}
	p.Pause(ctx, turn[:32000])
	p.Wait()
	select {
	case s := <-got:
		if s != "<32000>" {
			t.Fatalf("OnGuess got %q, want the guess's transcript", s)
		}
	default:
		t.Fatal("OnGuess was not called for a recognised guess")
	}
	b := &PausedTranscriber{Base: blockingTranscriber{}, OnGuess: func(tr call.Transcript) { got <- tr.Text() }}
	b.Pause(ctx, turn[:32000])
	b.Resume() // the caller spoke again: the guess is cancelled
	b.Wait()
	select {
	case s := <-got:
		t.Fatalf("OnGuess called for a cancelled guess (%q)", s)
	default:
	}
}
