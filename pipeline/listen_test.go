package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/vad"
)

// scripted is a Detector whose scores follow a pattern of 20 ms chunks, so
// the listener's plumbing is tested apart from any model.
type scripted struct {
	pattern string
	i       int
}

func (s *scripted) Name() string   { return "scripted" }
func (s *scripted) ChunkSize() int { return 320 }
func (s *scripted) Reset()         { s.i = 0 }
func (s *scripted) Close() error   { return nil }
func (s *scripted) Score(c []float32) (float32, error) {
	p := float32(0.05)
	if s.i < len(s.pattern) && s.pattern[s.i] == '#' {
		p = 0.95
	}
	s.i++
	return p, nil
}

// recorder is a Recognizer that records which frames each utterance got
// and emits a final naming their time span.
type recorder struct {
	mu    sync.Mutex
	utts  [][]time.Duration
	cur   []time.Duration
	flush int
}

func (r *recorder) Name() string    { return "recorder" }
func (r *recorder) SampleRate() int { return 16000 }
func (r *recorder) Close() error    { return nil }
func (r *recorder) NewStream(ctx context.Context, cfg asr.StreamConfig) (asr.Stream, error) {
	return &recStream{r: r, out: make(chan asr.Result, 4)}, nil
}

type recStream struct {
	r      *recorder
	out    chan asr.Result
	closed bool
}

func (s *recStream) Write(ctx context.Context, f media.Frame) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.cur = append(s.r.cur, f.Offset)
	return nil
}

func (s *recStream) Flush(ctx context.Context) error {
	s.r.mu.Lock()
	cur := s.r.cur
	s.r.utts = append(s.r.utts, cur)
	s.r.cur = nil
	s.r.flush++
	s.r.mu.Unlock()
	if len(cur) == 0 {
		return nil
	}
	seg := call.Segment{Text: fmt.Sprintf("%d frames", len(cur)), Start: cur[0], End: cur[len(cur)-1] + 20*time.Millisecond, Final: true}
	select {
	case s.out <- asr.Result{Segment: seg}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *recStream) Results() <-chan asr.Result { return s.out }
func (s *recStream) Close() error {
	if !s.closed {
		s.closed = true
		close(s.out)
	}
	return nil
}

func pattern(speech ...string) string {
	var p string
	for _, s := range speech {
		p += s
	}
	return p
}

func rep(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func TestListenerFeedsSpeechWithPreRollAndFlushesEachUtterance(t *testing.T) {
	before := runtime.NumGoroutine()
	// 1 s silence, 1 s speech, 1 s silence, 0.6 s speech, 1 s silence.
	p := pattern(rep('.', 50), rep('#', 50), rep('.', 50), rep('#', 30), rep('.', 50))
	rec := &recorder{}
	cfg := ListenConfig{Endpoint: vad.EndpointConfig{Threshold: 0.5, NegThreshold: 0.35, MinSpeech: 200 * time.Millisecond, Hangover: 400 * time.Millisecond, MaxUtterance: 10 * time.Second},
		PreRoll: 200 * time.Millisecond}
	samples := make([]int16, len(p)*320)
	tr, st, err := Transcribe(context.Background(), samples, &scripted{pattern: p}, rec, cfg, FileOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Segments) != 2 || len(st.Utterances) != 2 {
		t.Fatalf("segments %+v utterances %+v", tr.Segments, st.Utterances)
	}
	// The first utterance starts at 1.0 s; with 200 ms pre-roll the
	// recognizer must get frames from 0.8 s on, in order, without gaps or
	// repeats, and nothing from the silence after the hangover.
	for i, want := range []struct{ first, last time.Duration }{{800 * time.Millisecond, 2400 * time.Millisecond}, {2800 * time.Millisecond, 3980 * time.Millisecond}} {
		offs := rec.utts[i]
		if offs[0] != want.first {
			t.Errorf("utterance %d: first frame at %v, want %v", i, offs[0], want.first)
		}
		for j := 1; j < len(offs); j++ {
			if offs[j]-offs[j-1] != 20*time.Millisecond {
				t.Fatalf("utterance %d: frames not contiguous at %v -> %v", i, offs[j-1], offs[j])
			}
		}
		if offs[len(offs)-1] > want.last {
			t.Errorf("utterance %d: fed until %v, past the end of speech plus hangover %v", i, offs[len(offs)-1], want.last)
		}
		u := st.Utterances[i]
		if u.EndpointDelay != 400*time.Millisecond {
			t.Errorf("utterance %d: endpoint delay %v, want the hangover", i, u.EndpointDelay)
		}
	}
	if st.Utterances[0].Start != time.Second || st.Utterances[0].End != 2*time.Second {
		t.Errorf("utterance 0 = %+v", st.Utterances[0])
	}
	waitGoroutines(t, before)
}

func TestListenerCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	p := rep('#', 500)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Transcribe(ctx, make([]int16, len(p)*320), &scripted{pattern: p}, &recorder{}, ListenConfig{Endpoint: vad.DefaultEndpointConfig()}, FileOptions{RealTime: true}, nil)
	if err == nil {
		t.Fatal("a cancelled context must stop the run")
	}
	waitGoroutines(t, before)
}

func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("goroutines leaked: %d before, %d after", before, runtime.NumGoroutine())
}
