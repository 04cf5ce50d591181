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
	t.Run("one pause, then the endpoint: the piece is the turn", func(t *testing.T) {
		base := &lengthTranscriber{}
		p := &PausedTranscriber{Base: base}
		p.Pause(ctx, turn[:32000])
		tr, err := p.Transcribe(ctx, turn[:40000], asr.ModeFree) // the hangover's silence after it
		if err != nil {
			t.Fatal(err)
		}
		if tr.Text() != "<32000>" || fmt.Sprint(base.got()) != "[32000]" {
			t.Fatalf("got %q from calls %v, want the piece alone", tr.Text(), base.got())
		}
	})
	t.Run("pause, speech, pause, speech: pieces in order, the rest recognised at the end", func(t *testing.T) {
		base := &lengthTranscriber{}
		p := &PausedTranscriber{Base: base}
		p.Pause(ctx, turn[:16000])
		p.Resume()
		p.Pause(ctx, turn[:32000])
		p.Resume()
		tr, err := p.Transcribe(ctx, turn, asr.ModeFree)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Text() != "<16000><16000><16000>" {
			t.Fatalf("got %q", tr.Text())
		}
		if s := tr.Segments[2]; s.Start != 2*time.Second || s.End != 3*time.Second {
			t.Fatalf("the last piece is at %v-%v, want on the turn's clock 2s-3s", s.Start, s.End)
		}
	})
	t.Run("a short stretch waits for the next pause", func(t *testing.T) {
		base := &lengthTranscriber{}
		p := &PausedTranscriber{Base: base}
		p.Pause(ctx, turn[:4000])
		if tr, _ := p.Transcribe(ctx, turn, asr.ModeFree); tr.Text() != "<48000>" {
			t.Fatalf("got %q, want the turn whole", tr.Text())
		}
	})
	t.Run("another turn, digits, or a failed piece: the turn whole", func(t *testing.T) {
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
		if tr, err := pf.Transcribe(ctx, turn[:20000], asr.ModeFree); err != nil || tr.Text() != "<20000>" {
			t.Fatalf("failed piece: %q, %v", tr.Text(), err)
		}
	})
	t.Run("the call ends: nothing outlives it", func(t *testing.T) {
		before := runtime.NumGoroutine()
		block := &blockingTranscriber{}
		p := &PausedTranscriber{Base: block}
		cctx, cancel := context.WithCancel(ctx)
		p.Pause(cctx, turn[:16000])
		cancel()
		if _, err := p.Transcribe(cctx, turn, asr.ModeFree); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want canceled", err)
		}
		p.Wait()
		waitGoroutines(t, before)
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
// of speech with short pauses between them is sent to the recognizer at
// each pause, so when the endpoint fires every stretch is already on its
// way and nothing after the last pause is left; the transcript has the
// three pieces in order, and recognising the turn whole gives the same
// audio once.
func TestLiveIngressDecodesAtPauses(t *testing.T) {
	before := runtime.NumGoroutine()
	// quiet, speech 0.8 s, pause 160 ms, speech 0.8 s, pause 160 ms, speech 0.8 s, quiet
	pattern := rep('.', 25) + rep('#', 40) + rep('.', 8) + rep('#', 40) + rep('.', 8) + rep('#', 40) + rep('.', 30)
	c := newScriptedCall(pattern, "", false)
	in := liveIngress(c, &toneSynth{})
	base := &lengthTranscriber{}
	dec := &recordingDecoder{PausedTranscriber: &PausedTranscriber{Base: base, MinPiece: 300 * time.Millisecond}}
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
	if len(tr.Segments) != 3 {
		t.Fatalf("transcript %q from %s, want three pieces", tr.Text(), evs)
	}
	sum := 0
	for _, n := range base.got() {
		sum += n
	}
	if sum > len(pcm) {
		t.Fatalf("recognised %d samples of a %d-sample turn: some audio twice", sum, len(pcm))
	}
	dec.Wait()
	waitGoroutines(t, before)
}
