package sphinx

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
)

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

func TestMissingModel(t *testing.T) {
	dir := t.TempDir()
	_, err := New(Config{ModelDir: dir}, nil)
	if !errors.Is(err, asr.ErrModelMissing) {
		t.Fatalf("New with empty model dir: %v, want ErrModelMissing", err)
	}
	msg := err.Error()
	for _, want := range []string{filepath.Join(dir, "en-us"), "pocketsphinx-en-us", "make setup"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}

	// A single missing override is named too.
	if _, err := os.Stat(DefaultModelDir); err != nil {
		t.Skip("model not installed")
	}
	cfg := DefaultConfig()
	cfg.LM = filepath.Join(dir, "nope.lm.bin")
	if _, err := New(cfg, nil); !errors.Is(err, asr.ErrModelMissing) || !strings.Contains(err.Error(), cfg.LM) {
		t.Errorf("missing LM override: %v", err)
	}
}

func TestRecognizerBasics(t *testing.T) {
	r := newTestRecognizer(t)
	if r.Name() != "sphinx" || r.SampleRate() != 16000 {
		t.Errorf("Name %q SampleRate %d", r.Name(), r.SampleRate())
	}
	var _ asr.Recognizer = r
	ctx := context.Background()
	if _, err := r.NewStream(ctx, asr.StreamConfig{Mode: asr.Mode(9)}); !errors.Is(err, asr.ErrUnsupportedMode) {
		t.Errorf("bad mode: %v", err)
	}
	if _, err := r.NewStream(ctx, asr.StreamConfig{Language: "yue"}); !errors.Is(err, asr.ErrUnsupportedLanguage) {
		t.Errorf("Cantonese: %v", err)
	}
	for _, l := range []string{"", "und", "en", "en-GB"} {
		st, err := r.NewStream(ctx, asr.StreamConfig{Language: call.Language(l)})
		if err != nil {
			t.Errorf("language %q: %v", l, err)
			continue
		}
		st.Close()
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.NewStream(canceled, asr.StreamConfig{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled ctx: %v", err)
	}
}

// TestPoolWarmAndReuse measures decoder creation and checks that streams
// reuse pooled decoders.
func TestPoolWarmAndReuse(t *testing.T) {
	r := newTestRecognizer(t)
	ctx := context.Background()
	for _, m := range []asr.Mode{asr.ModeFree, asr.ModeDigits, asr.ModeYesNo} {
		before := r.created.Load()
		if err := r.Warm(ctx, m); err != nil {
			t.Fatal(err)
		}
		if r.created.Load() != before+1 {
			t.Fatalf("Warm(%v) created %d decoders", m, r.created.Load()-before)
		}
		t.Logf("decoder creation, %v mode: %v", m, time.Duration(r.lastCreateDur.Load()))
	}
	if err := r.Warm(ctx); err != nil { // all modes already warm: no-op
		t.Fatal(err)
	}
	created := r.created.Load()
	for i := 0; i < 3; i++ {
		for _, m := range []asr.Mode{asr.ModeFree, asr.ModeDigits, asr.ModeYesNo} {
			start := time.Now()
			st, err := r.NewStream(ctx, asr.StreamConfig{Mode: m})
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("warm NewStream(%v) took %v", m, d)
			}
			st.Close()
		}
	}
	if got := r.created.Load(); got != created {
		t.Errorf("warm streams created %d new decoders", got-created)
	}

	// Two streams at once need two decoders; both go back to the pool.
	a, _ := r.NewStream(ctx, asr.StreamConfig{})
	b, _ := r.NewStream(ctx, asr.StreamConfig{})
	a.Close()
	b.Close()
	r.mu.Lock()
	idle := len(r.idle[asr.ModeFree])
	r.mu.Unlock()
	if idle != 2 {
		t.Errorf("%d idle free decoders, want 2", idle)
	}
}

func TestMaxIdle(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxIdle = 1
	r, err := New(cfg, nil)
	if err != nil {
		t.Skip(err)
	}
	defer r.Close()
	ctx := context.Background()
	a, _ := r.NewStream(ctx, asr.StreamConfig{Mode: asr.ModeYesNo})
	b, _ := r.NewStream(ctx, asr.StreamConfig{Mode: asr.ModeYesNo})
	a.Close()
	b.Close()
	if n := len(r.idle[asr.ModeYesNo]); n != 1 {
		t.Errorf("%d idle decoders, want MaxIdle 1", n)
	}
}

func TestStreamCloseAndErrors(t *testing.T) {
	r := newTestRecognizer(t)
	ctx := context.Background()
	st, err := r.NewStream(ctx, asr.StreamConfig{Mode: asr.ModeDigits})
	if err != nil {
		t.Fatal(err)
	}
	frame := media.Frame{Samples: make([]int16, 320), Rate: SampleRate}
	if err := st.Write(ctx, media.Frame{}); err != nil {
		t.Errorf("empty frame: %v", err)
	}
	if err := st.Write(ctx, media.Frame{Samples: make([]int16, 160), Rate: 8000}); !errors.Is(err, media.ErrRateMismatch) ||
		!strings.Contains(err.Error(), "8000") {
		t.Errorf("8 kHz frame: %v, want ErrRateMismatch naming the rate", err)
	}
	if err := st.Write(ctx, frame); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(ctx); err != nil { // silence: no final
		t.Fatal(err)
	}
	if err := st.Flush(ctx); err != nil { // nothing to flush
		t.Fatal(err)
	}
	if err := st.Write(ctx, frame); err != nil { // unflushed audio, dropped by Close
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for res := range st.Results() { // closed, with no final
		if res.Final {
			t.Errorf("final %q from silence or unflushed audio", res.Text)
		}
	}
	if err := st.Write(ctx, frame); !errors.Is(err, asr.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := st.Write(ctx, media.Frame{}); !errors.Is(err, asr.ErrClosed) {
		t.Errorf("empty Write after Close: %v", err)
	}
	if err := st.Flush(ctx); !errors.Is(err, asr.ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
}

// TestFinalWaitsForConsumer checks that Flush blocks on the final until
// it is taken, until its ctx is done, or until the stream is closed.
func TestFinalWaitsForConsumer(t *testing.T) {
	samples := loadClip(t, filepath.Join(testData, "cards", "004.wav")) // "five five"
	r := newTestRecognizer(t)
	ctx := context.Background()
	write := func(st asr.Stream) {
		for i := 0; i < len(samples); i += 320 {
			if err := st.Write(ctx, media.Frame{Samples: samples[i:min(i+320, len(samples))], Rate: SampleRate}); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill := func(st asr.Stream) {
		// Fill the channel with partials no one reads, so the final
		// cannot be buffered.
		s := st.(*stream)
		for len(s.results) < cap(s.results) {
			s.results <- asr.Result{}
		}
	}

	// ctx done while waiting.
	st, _ := r.NewStream(ctx, asr.StreamConfig{Mode: asr.ModeDigits})
	write(st)
	fill(st)
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := st.Flush(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with no consumer: %v, want deadline exceeded", err)
	}
	st.Close()

	// Close while waiting.
	st, _ = r.NewStream(ctx, asr.StreamConfig{Mode: asr.ModeDigits})
	write(st)
	fill(st)
	errc := make(chan error)
	go func() { errc <- st.Flush(ctx) }()
	time.Sleep(50 * time.Millisecond)
	st.Close()
	if err := <-errc; !errors.Is(err, asr.ErrClosed) {
		t.Errorf("Flush interrupted by Close: %v", err)
	}

	// A consumer that reads late still gets the final.
	st, _ = r.NewStream(ctx, asr.StreamConfig{Mode: asr.ModeDigits})
	write(st)
	fill(st)
	go func() { errc <- st.Flush(ctx) }()
	time.Sleep(50 * time.Millisecond)
	var final string
	for res := range st.Results() {
		if res.Final {
			final = res.Text
			st.Close()
		}
	}
	if err := <-errc; err != nil {
		t.Errorf("Flush: %v", err)
	}
	if final != "55" {
		t.Errorf("final %q, want 55", final)
	}
}

// TestStreamEndsWithContext checks that a stream closes itself when its
// context is done and gives its decoder back.
func TestStreamEndsWithContext(t *testing.T) {
	r := newTestRecognizer(t)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := r.NewStream(ctx, asr.StreamConfig{Mode: asr.ModeYesNo})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(context.Background(), media.Frame{Samples: make([]int16, 320), Rate: SampleRate}); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-st.Results():
		if ok {
			t.Error("unexpected result")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Results not closed after ctx was canceled")
	}
	if err := st.Write(context.Background(), media.Frame{Samples: make([]int16, 320), Rate: SampleRate}); !errors.Is(err, asr.ErrClosed) {
		t.Errorf("Write after ctx done: %v", err)
	}
	r.mu.Lock()
	idle := len(r.idle[asr.ModeYesNo])
	r.mu.Unlock()
	if idle != 1 {
		t.Errorf("%d idle yes/no decoders after ctx cancel, want 1", idle)
	}
}

func TestRecognizerClose(t *testing.T) {
	r, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	open, err := r.NewStream(ctx, asr.StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	idle, _ := r.NewStream(ctx, asr.StreamConfig{Mode: asr.ModeDigits})
	idle.Close()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := r.NewStream(ctx, asr.StreamConfig{}); !errors.Is(err, asr.ErrClosed) {
		t.Errorf("NewStream after Close: %v", err)
	}
	if err := r.Warm(ctx); !errors.Is(err, asr.ErrClosed) {
		t.Errorf("Warm after Close: %v", err)
	}
	// A stream left open keeps its decoder until it closes; then the
	// decoder is freed, not pooled.
	if err := open.Write(ctx, media.Frame{Samples: make([]int16, 320), Rate: SampleRate}); err != nil {
		t.Errorf("Write on a stream outliving its recognizer: %v", err)
	}
	open.Close()
	if n := len(r.idle[asr.ModeFree]) + len(r.idle[asr.ModeDigits]); n != 0 {
		t.Errorf("%d decoders pooled after Close", n)
	}
}

// TestConcurrentStreams decodes on several streams at once.
func TestConcurrentStreams(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testData, "cards", "*.wav"))
	if len(files) == 0 {
		t.Skip("pocketsphinx-testdata not installed")
	}
	r := newTestRecognizer(t)
	var wg sync.WaitGroup
	results := make([]string, len(files))
	for i, f := range files {
		samples := loadClip(t, f)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = transcribe(t, r, asr.ModeFree, samples, 0).text()
		}()
	}
	wg.Wait()
	for i, got := range results {
		if got == "" {
			t.Errorf("%s: no transcript", files[i])
		}
	}
}

// TestNoGoroutineLeak runs streams to completion, abandons some through
// their context and closes the recognizer, then checks that no goroutine
// outlives them.
func TestNoGoroutineLeak(t *testing.T) {
	if _, err := os.Stat(DefaultModelDir); err != nil {
		t.Skip("model not installed")
	}
	before := runtime.NumGoroutine()
	r, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	frame := media.Frame{Samples: make([]int16, 320), Rate: SampleRate}
	for i := 0; i < 6; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		st, err := r.NewStream(ctx, asr.StreamConfig{Mode: asr.Mode(i % 3)})
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 20; j++ {
			if err := st.Write(ctx, frame); err != nil {
				t.Fatal(err)
			}
		}
		if i%2 == 0 {
			_ = st.Flush(ctx)
			st.Close()
		} else {
			cancel() // abandoned: closes itself
			for range st.Results() {
			}
		}
		cancel()
	}
	r.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestNormalize(t *testing.T) {
	for _, c := range []struct {
		mode asr.Mode
		hyp  string
		want string
	}{
		{asr.ModeDigits, "<s> four oh(2) <sil> nine zero(2) [NOISE] </s>", "4090"},
		{asr.ModeDigits, "<sil>", ""},
		{asr.ModeYesNo, "yeah", "yes"},
		{asr.ModeYesNo, "no thank you", "no"},
		{asr.ModeYesNo, "that's right", "yes"},
		{asr.ModeYesNo, "gbg_m gbg_ey (NULL) gbg_b", ""},
		{asr.ModeFree, "<s> and(2) mister john <sil> ++BREATH++ dashwood </s>", "and mister john dashwood"},
	} {
		if got := normalizeHyp(c.mode, c.hyp); got != c.want {
			t.Errorf("%v %q: got %q want %q", c.mode, c.hyp, got, c.want)
		}
	}
}

// TestMaxUtterance checks that an utterance never flushed is ended by
// Write once it reaches MaxUtterance.
func TestMaxUtterance(t *testing.T) {
	samples := loadClip(t, filepath.Join(testData, "librivox", "sense_and_sensibility_01_austen_64kb-0870.wav"))
	cfg := DefaultConfig()
	cfg.MaxUtterance = 2 * time.Second
	r, err := New(cfg, nil)
	if err != nil {
		t.Skip(err)
	}
	defer r.Close()
	ctx := context.Background()
	st, err := r.NewStream(ctx, asr.StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var finals []asr.Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		for res := range st.Results() {
			if res.Final {
				finals = append(finals, res)
			}
		}
	}()
	for i := 0; i < len(samples); i += 320 {
		f := media.Frame{Samples: samples[i:min(i+320, len(samples))], Rate: SampleRate, Offset: time.Duration(i) * time.Second / SampleRate}
		if err := st.Write(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	st.Close() // the last, unflushed second is dropped
	<-done
	if len(finals) != 3 {
		t.Fatalf("%d finals from 7.1 s at MaxUtterance 2 s, want 3", len(finals))
	}
	for i, f := range finals {
		lo, hi := time.Duration(i)*2*time.Second, time.Duration(i+1)*2*time.Second
		if f.Start < lo || f.End > hi {
			t.Errorf("final %d %q at %v-%v, want within %v-%v", i, f.Text, f.Start, f.End, lo, hi)
		}
	}
}
