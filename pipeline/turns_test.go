package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/vad"
)

// gatedRec is a Recognizer whose streams each hold one utterance and
// answer its Flush only once `together` flushes are in flight at the
// same time (or fail after a deadline), the first utterance answering
// last: a test of utterances recognised at once and delivered in order.
type gatedRec struct {
	together int
	failAt   time.Duration // an utterance starting here fails; 0: none

	mu       sync.Mutex
	inFlight int
	most     int
	arrived  int
	all      chan struct{}
	others   sync.WaitGroup // utterances after the first
	flushes  chan int       // receives how many are in flight as each arrives
}

func newGatedRec(together int) *gatedRec {
	g := &gatedRec{together: together, all: make(chan struct{}), flushes: make(chan int, 16)}
	g.others.Add(together - 1)
	return g
}

func (g *gatedRec) Name() string    { return "gated" }
func (g *gatedRec) SampleRate() int { return 16000 }
func (g *gatedRec) Close() error    { return nil }
func (g *gatedRec) NewStream(ctx context.Context, cfg asr.StreamConfig) (asr.Stream, error) {
	return &gatedStream{g: g, out: make(chan asr.Result, 1)}, nil
}

type gatedStream struct {
	g      *gatedRec
	out    chan asr.Result
	frames []media.Frame
	once   sync.Once
}

func (s *gatedStream) Write(ctx context.Context, f media.Frame) error {
	s.frames = append(s.frames, f)
	return nil
}

func (s *gatedStream) Flush(ctx context.Context) error {
	if len(s.frames) == 0 {
		return nil
	}
	frames := s.frames
	s.frames = nil
	g := s.g
	g.mu.Lock()
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	g.arrived++
	n := g.arrived
	if n == g.together {
		close(g.all)
	}
	select {
	case g.flushes <- g.inFlight:
	default:
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	start := frames[0].Offset
	if n <= g.together {
		if n > 1 {
			defer g.others.Done()
		}
		select {
		case <-g.all:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
			return fmt.Errorf("gated: utterance %d of %d waited 5 s for the others to be in flight", n, g.together)
		}
		if g.failAt != 0 && start >= g.failAt-500*time.Millisecond && start <= g.failAt {
			return errors.New("gated: this utterance fails")
		}
		if n == 1 {
			// The first answers last, or when the run is stopped.
			othersDone := make(chan struct{})
			go func() { g.others.Wait(); close(othersDone) }()
			select {
			case <-othersDone:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	seg := call.Segment{Text: fmt.Sprintf("from %v", start), Start: start, End: frames[len(frames)-1].Offset, Final: true}
	select {
	case s.out <- asr.Result{Segment: seg}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *gatedStream) Results() <-chan asr.Result  { return s.out }
func (s *gatedStream) IndependentUtterances() bool { return true }
func (s *gatedStream) Close() error {
	s.once.Do(func() { close(s.out) })
	return nil
}

// threeTurns is 1 s of silence then three utterances of 1 s with 1 s of
// silence after each.
var threeTurns = pattern(rep('.', 50), rep('#', 50), rep('.', 50), rep('#', 50), rep('.', 50), rep('#', 50), rep('.', 50))

var turnsCfg = ListenConfig{Endpoint: vad.EndpointConfig{Threshold: 0.5, NegThreshold: 0.35, MinSpeech: 200 * time.Millisecond,
	Hangover: 400 * time.Millisecond, MaxUtterance: 10 * time.Second}, PreRoll: 200 * time.Millisecond}

// TestTurnsAtOnce: a recording's three utterances are recognised at the
// same time and their finals come out in the order spoken, the same
// transcript as one after another.
func TestTurnsAtOnce(t *testing.T) {
	before := runtime.NumGoroutine()
	samples := make([]int16, len(threeTurns)*320)
	one, _, err := Transcribe(t.Context(), samples, &scripted{pattern: threeTurns}, newGatedRec(1), turnsCfg, FileOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := newGatedRec(3)
	three, _, err := Transcribe(t.Context(), samples, &scripted{pattern: threeTurns}, turnsAtOnce{Recognizer: g, n: 4}, turnsCfg, FileOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(three.Segments) != 3 || fmt.Sprint(three.Segments) != fmt.Sprint(one.Segments) {
		t.Fatalf("at once: %v\none after another: %v", three.Segments, one.Segments)
	}
	if g.most != 3 {
		t.Errorf("at most %d utterances in flight, want 3", g.most)
	}
	waitGoroutines(t, before)
}

// TestTurnsAtOnceBounded: with room for two, the third utterance waits.
func TestTurnsAtOnceBounded(t *testing.T) {
	g := newGatedRec(2)
	tr, _, err := Transcribe(t.Context(), make([]int16, len(threeTurns)*320), &scripted{pattern: threeTurns}, turnsAtOnce{Recognizer: g, n: 2}, turnsCfg, FileOptions{}, nil)
	if err != nil || len(tr.Segments) != 3 {
		t.Fatalf("%v %v", tr.Segments, err)
	}
	if g.most != 2 {
		t.Errorf("at most %d utterances in flight, want 2", g.most)
	}
}

// TestTurnsAtOnceFails: an utterance that fails fails the recording, as
// one after another, and nothing is left running.
func TestTurnsAtOnceFails(t *testing.T) {
	before := runtime.NumGoroutine()
	g := newGatedRec(3)
	g.failAt = 3 * time.Second // the second utterance (3.0 s, less the pre-roll)
	_, _, err := Transcribe(t.Context(), make([]int16, len(threeTurns)*320), &scripted{pattern: threeTurns}, turnsAtOnce{Recognizer: g, n: 4}, turnsCfg, FileOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "this utterance fails") {
		t.Fatalf("err %v, want the second utterance's failure", err)
	}
	waitGoroutines(t, before)
}

// TestTurnsAtOnceCancelled: the caller's context ends the run at once.
func TestTurnsAtOnceCancelled(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	g := newGatedRec(4) // a fourth never comes: the three wait
	done := make(chan error, 1)
	go func() {
		_, _, err := Transcribe(ctx, make([]int16, len(threeTurns)*320), &scripted{pattern: threeTurns}, turnsAtOnce{Recognizer: g, n: 4}, turnsCfg, FileOptions{}, nil)
		done <- err
	}()
	deadline := time.After(5 * time.Second)
	for n := 0; n < 3; {
		select {
		case n = <-g.flushes:
		case <-deadline:
			t.Fatalf("%d utterances in flight after 5 s, want 3", n)
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the run did not end within 5 s of its context")
	}
	waitGoroutines(t, before)
}

// plainRec is a Recognizer whose streams do not say their utterances are
// independent (as pocketsphinx's, which carry an estimate across them).
type plainRec struct{ gatedRec }

func (p *plainRec) NewStream(ctx context.Context, cfg asr.StreamConfig) (asr.Stream, error) {
	return &plainStream{}, nil
}

type plainStream struct{ asr.Stream }

// TestTurnsAtOnceOnlyIndependentFreeSpeech: digit answers, and streams of
// an engine that carries state between utterances, are used as they are.
func TestTurnsAtOnceOnlyIndependentFreeSpeech(t *testing.T) {
	g := newGatedRec(1)
	st, err := turnsAtOnce{Recognizer: g, n: 4}.NewStream(t.Context(), asr.StreamConfig{Mode: asr.ModeDigits})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*gatedStream); !ok {
		t.Errorf("a digits stream is %T, want the engine's own", st)
	}
	st, err = turnsAtOnce{Recognizer: &plainRec{}, n: 4}.NewStream(t.Context(), asr.StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*plainStream); !ok {
		t.Errorf("a stream that keeps state is %T, want the engine's own", st)
	}
	st, err = turnsAtOnce{Recognizer: g, n: 4}.NewStream(t.Context(), asr.StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*turnStream); !ok {
		t.Errorf("free speech on independent streams is %T, want utterances at once", st)
	}
	st.Close()
}

// TestTurnsAtOnceEndsWithContext: a stream whose context ends closes its
// results and leaves nothing running, with no Close.
func TestTurnsAtOnceEndsWithContext(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	st, err := turnsAtOnce{Recognizer: newGatedRec(1), n: 4}.NewStream(ctx, asr.StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-st.Results():
		if ok {
			t.Fatal("a result from a stream that was never written")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Results still open 5 s after the context ended")
	}
	waitGoroutines(t, before)
}
