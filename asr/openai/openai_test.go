package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/internal/leakcheck"

	openaiapi "github.com/sashabaranov/go-openai"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
)

func TestMain(m *testing.M) { leakcheck.Main(m, "callbrief/asr/openai", "go-openai", "net/http.") }

// newRecognizer makes a recognizer on fs with fast backoff; edit adjusts
// the config.
func newRecognizer(t *testing.T, fs *fakeServer, edit func(*Config), opts ...Option) *Recognizer {
	t.Helper()
	cfg := Config{BaseURL: fs.baseURL(), APIKey: testKey, Model: "whisper-1", Timeout: 5 * time.Second, Retries: 2}
	if edit != nil {
		edit(&cfg)
	}
	opts = append([]Option{WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)
	r, err := New(cfg, nil, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func newStreamT(t *testing.T, r *Recognizer, cfg asr.StreamConfig) asr.Stream {
	t.Helper()
	st, err := r.NewStream(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// takeFinal returns the result Flush emitted, failing if there is none.
func takeFinal(t *testing.T, st asr.Stream) call.Segment {
	t.Helper()
	select {
	case res, ok := <-st.Results():
		if !ok {
			t.Fatal("Results closed, want a final")
		}
		if !res.Final {
			t.Fatalf("got a partial %+v, want a final", res.Segment)
		}
		return res.Segment
	default:
		t.Fatal("no result after Flush")
	}
	return call.Segment{}
}

func noResult(t *testing.T, st asr.Stream) {
	t.Helper()
	select {
	case res, ok := <-st.Results():
		if ok {
			t.Fatalf("unexpected result %+v", res.Segment)
		}
	default:
	}
}

const verboseReply = `{
  "task": "transcribe", "language": "english", "duration": 1.5,
  "text": "  Hello world.  ",
  "segments": [
    {"id": 0, "start": 0.10, "end": 0.70, "text": " Hello", "avg_logprob": -0.2},
    {"id": 1, "start": 0.70, "end": 1.30, "text": " world.", "avg_logprob": -0.4}
  ],
  "words": [
    {"word": " Hello", "start": 0.12, "end": 0.52},
    {"word": "world.", "start": 0.74, "end": 1.28}
  ]
}`

func TestFlushSuccessWordsAndSegments(t *testing.T) {
	fs := newFakeServer(t)
	fs.wantLang = "en"
	fs.wantSamples = 75 * 320
	fs.respond = jsonReply(200, verboseReply)
	r := newRecognizer(t, fs, func(c *Config) { c.Language = call.LangEnglish })
	st := newStreamT(t, r, asr.StreamConfig{})

	base := 3 * time.Second
	writeAudio(t, st, 0, base, 75) // 1.5 s
	if got := fs.requests(); got != 0 {
		t.Fatalf("%d requests before Flush", got)
	}
	noResult(t, st) // no partials
	if err := st.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	seg := takeFinal(t, st)
	ms := time.Millisecond
	if seg.Text != "Hello world." {
		t.Errorf("Text = %q", seg.Text)
	}
	if seg.Start != base+100*ms || seg.End != base+1300*ms {
		t.Errorf("Start, End = %v, %v; want %v, %v", seg.Start, seg.End, base+100*ms, base+1300*ms)
	}
	wantWords := []call.Word{
		{Text: "Hello", Start: base + 120*ms, End: base + 520*ms},
		{Text: "world.", Start: base + 740*ms, End: base + 1280*ms},
	}
	if fmt.Sprint(seg.Words) != fmt.Sprint(wantWords) {
		t.Errorf("Words = %v\nwant %v", seg.Words, wantWords)
	}
	if want := math.Exp(-0.3); math.Abs(seg.Confidence-want) > 1e-9 {
		t.Errorf("Confidence = %v, want %v", seg.Confidence, want)
	}
	if seg.Language != call.LangEnglish || !seg.Final || seg.Engine != "openai:whisper-1" {
		t.Errorf("Language, Final, Engine = %q, %v, %q", seg.Language, seg.Final, seg.Engine)
	}
	if got := fs.requests(); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}

	// The buffer was emptied: a second utterance uploads only its own audio
	// and is timed from its own first frame.
	fs.set(func(fs *fakeServer) {
		fs.wantSamples = 10 * 320
		fs.respond = jsonReply(200, `{"text":"again","language":"en"}`)
	})
	writeAudio(t, st, 0, 10*time.Second, 10)
	if err := st.Flush(t.Context()); err != nil {
		t.Fatalf("second Flush: %v", err)
	}
	seg = takeFinal(t, st)
	if seg.Text != "again" || seg.Start != 10*time.Second || seg.End != 10*time.Second+200*ms || seg.Confidence != 0 {
		t.Errorf("second segment = %+v; want utterance bounds 10s..10.2s, confidence 0", seg)
	}
}

func TestChineseHintAndModes(t *testing.T) {
	tests := []struct {
		name     string
		lang     call.Language
		mode     asr.Mode
		reply    string
		wantText string
		wantLang call.Language
	}{
		{"mandarin digits", call.LangMandarin, asr.ModeDigits, `{"text":"我的号码是四八二一。","language":"chinese"}`, "4821", call.LangMandarin},
		{"cantonese yes/no", call.LangCantonese, asr.ModeYesNo, `{"text":"唔係啊","language":"cantonese"}`, "no", call.LangCantonese},
		{"wu free", call.LangWu, asr.ModeFree, `{"text":"侬好","language":"zh"}`, "侬好", call.LangWu},
		{"yes/no heard neither", call.LangEnglish, asr.ModeYesNo, `{"text":"maybe later","language":"english"}`, "", call.LangEnglish},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			fs.wantLang, _ = languageHint(tc.lang)
			fs.wantSamples = 5 * 320
			fs.respond = jsonReply(200, tc.reply)
			r := newRecognizer(t, fs, nil)
			st := newStreamT(t, r, asr.StreamConfig{Language: tc.lang, Mode: tc.mode})
			writeAudio(t, st, 0, time.Second, 5)
			if err := st.Flush(t.Context()); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			seg := takeFinal(t, st)
			if seg.Text != tc.wantText || seg.Language != tc.wantLang {
				t.Errorf("Text, Language = %q, %q; want %q, %q", seg.Text, seg.Language, tc.wantText, tc.wantLang)
			}
			if seg.Start != time.Second || seg.End != time.Second+100*time.Millisecond {
				t.Errorf("Start, End = %v, %v; want the utterance bounds", seg.Start, seg.End)
			}
		})
	}
	if got, _ := languageHint(call.LangCantonese); got != "zh" {
		t.Errorf("hint for yue = %q, want zh", got)
	}
}

func TestRetries(t *testing.T) {
	ok := jsonReply(200, `{"text":"fine","language":"en"}`)
	apiErr := func(status int, msg string) func(int, http.ResponseWriter, *http.Request) {
		return jsonReply(status, fmt.Sprintf(`{"error":{"message":%q,"type":"test_error"}}`, msg))
	}
	plain := func(status int, body string) func(int, http.ResponseWriter, *http.Request) {
		return func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
	}
	tests := []struct {
		name       string
		replies    []func(int, http.ResponseWriter, *http.Request)
		wantReqs   int
		wantStatus int      // 0: success
		wantIn     []string // substrings of the error
	}{
		{"500 500 ok", []func(int, http.ResponseWriter, *http.Request){plain(500, "boom"), plain(500, "boom"), ok}, 3, 0, nil},
		{"429 ok", []func(int, http.ResponseWriter, *http.Request){apiErr(429, "slow down"), ok}, 2, 0, nil},
		{"408 ok", []func(int, http.ResponseWriter, *http.Request){plain(408, ""), ok}, 2, 0, nil},
		{"409 ok", []func(int, http.ResponseWriter, *http.Request){apiErr(409, "busy"), ok}, 2, 0, nil},
		{"503 ok", []func(int, http.ResponseWriter, *http.Request){apiErr(503, "overloaded"), ok}, 2, 0, nil},
		{"500 x3 gives up", []func(int, http.ResponseWriter, *http.Request){plain(500, "upstream exploded")}, 3, 500, []string{"HTTP 500", "upstream exploded", "3 attempt"}},
		{"400 not retried", []func(int, http.ResponseWriter, *http.Request){apiErr(400, "language 'xx' is not supported")}, 1, 400, []string{"HTTP 400", "language 'xx' is not supported", "1 attempt"}},
		{"401 not retried", []func(int, http.ResponseWriter, *http.Request){apiErr(401, "bad key")}, 1, 401, []string{"HTTP 401", "bad key"}},
		{"403 not retried", []func(int, http.ResponseWriter, *http.Request){plain(403, "forbidden here")}, 1, 403, []string{"HTTP 403", "forbidden here"}},
		{"404 not retried", []func(int, http.ResponseWriter, *http.Request){plain(404, "no such route")}, 1, 404, []string{"HTTP 404", "no such route"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			fs.wantSamples = 3 * 320
			fs.respond = sequence(tc.replies...)
			r := newRecognizer(t, fs, nil)
			st := newStreamT(t, r, asr.StreamConfig{})
			writeAudio(t, st, 0, 0, 3)
			err := st.Flush(t.Context())
			if got := fs.requests(); got != tc.wantReqs {
				t.Errorf("%d requests, want %d", got, tc.wantReqs)
			}
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("Flush: %v", err)
				}
				if seg := takeFinal(t, st); seg.Text != "fine" {
					t.Errorf("Text = %q", seg.Text)
				}
				return
			}
			if !errors.Is(err, ErrTranscription) {
				t.Fatalf("Flush error %v does not wrap ErrTranscription", err)
			}
			var e *Error
			if !errors.As(err, &e) || e.StatusCode != tc.wantStatus || e.Attempts != tc.wantReqs {
				t.Errorf("error %#v, want *Error with status %d after %d attempts", e, tc.wantStatus, tc.wantReqs)
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			noResult(t, st)
			t.Logf("error: %v", err)
		})
	}
	t.Run("go-openai error types reachable", func(t *testing.T) {
		fs := newFakeServer(t)
		fs.wantSamples = 320
		fs.respond = jsonReply(400, `{"error":{"message":"nope","type":"invalid_request_error"}}`)
		st := newStreamT(t, newRecognizer(t, fs, nil), asr.StreamConfig{})
		writeAudio(t, st, 0, 0, 1)
		var apiErr *openaiapi.APIError
		if err := st.Flush(t.Context()); !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 400 {
			t.Errorf("Flush error %v: want an *openai.APIError with status 400", err)
		}
	})
}

// sleepy replies after d, or when the client gives up.
func sleepy(d time.Duration) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
			jsonReply(200, `{"text":"too late"}`)(0, w, r)
		case <-r.Context().Done():
		}
	}
}

func TestTimeoutPerAttempt(t *testing.T) {
	fs := newFakeServer(t)
	fs.wantSamples = 320
	fs.respond = sleepy(10 * time.Second)
	r := newRecognizer(t, fs, func(c *Config) { c.Timeout = 100 * time.Millisecond; c.Retries = 1 })
	st := newStreamT(t, r, asr.StreamConfig{})
	writeAudio(t, st, 0, 0, 1)
	began := time.Now()
	err := st.Flush(t.Context())
	elapsed := time.Since(began)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTranscription) {
		t.Fatalf("Flush error %v: want ErrTranscription wrapping context.DeadlineExceeded", err)
	}
	if got := fs.requests(); got != 2 {
		t.Errorf("%d requests, want 2 (a timed-out attempt is retried)", got)
	}
	if elapsed > 2*time.Second {
		t.Errorf("Flush took %v with a 100ms per-attempt timeout", elapsed)
	}
	t.Logf("after %v: %v", elapsed.Round(time.Millisecond), err)
}

func TestCancelDuringBackoff(t *testing.T) {
	fs := newFakeServer(t)
	fs.wantSamples = 320
	fs.respond = jsonReply(503, `{"error":{"message":"overloaded"}}`)
	r := newRecognizer(t, fs, func(c *Config) { c.Retries = 5 }, WithBackoff(10*time.Second, 10*time.Second))
	st := newStreamT(t, r, asr.StreamConfig{})
	writeAudio(t, st, 0, 0, 1)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		<-fs.hits
		time.Sleep(50 * time.Millisecond) // the first reply is in; we are in backoff
		cancel()
	}()
	began := time.Now()
	err := st.Flush(ctx)
	elapsed := time.Since(began)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrTranscription) {
		t.Fatalf("Flush error %v: want ErrTranscription wrapping context.Canceled", err)
	}
	if elapsed > time.Second {
		t.Errorf("Flush returned %v after start; the backoff was ~5-10s", elapsed)
	}
	if got := fs.requests(); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
	if !strings.Contains(err.Error(), "overloaded") {
		t.Errorf("error %q does not mention the last failure", err)
	}
}

func TestDeadlineBeforeBackoffEnds(t *testing.T) {
	fs := newFakeServer(t)
	fs.wantSamples = 320
	fs.respond = jsonReply(500, `{"error":{"message":"flaky"}}`)
	r := newRecognizer(t, fs, nil, WithBackoff(10*time.Second, 10*time.Second))
	st := newStreamT(t, r, asr.StreamConfig{})
	writeAudio(t, st, 0, 0, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	began := time.Now()
	err := st.Flush(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > time.Second {
		t.Errorf("Flush = %v after %v; want an immediate deadline error rather than a sleep past ctx", err, time.Since(began))
	}
}

func TestEmptyAudioMakesNoRequest(t *testing.T) {
	fs := newFakeServer(t)
	r := newRecognizer(t, fs, nil)
	st := newStreamT(t, r, asr.StreamConfig{})
	if err := st.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	// Frames with no samples do not start an utterance either.
	if err := st.Write(t.Context(), media.Frame{Rate: media.Rate16k}); err != nil {
		t.Fatalf("Write empty frame: %v", err)
	}
	if err := st.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := fs.requests(); got != 0 {
		t.Errorf("%d requests, want 0", got)
	}
	noResult(t, st)
}

func TestEmptyTextNoFinal(t *testing.T) {
	for _, body := range []string{`{"text":"   ","language":"english","segments":[]}`, `{"text":""}`} {
		fs := newFakeServer(t)
		fs.wantSamples = 320
		fs.respond = jsonReply(200, body)
		st := newStreamT(t, newRecognizer(t, fs, nil), asr.StreamConfig{})
		writeAudio(t, st, 0, 0, 1)
		if err := st.Flush(t.Context()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		noResult(t, st)
	}
}

func TestMalformedJSON(t *testing.T) {
	fs := newFakeServer(t)
	fs.wantSamples = 320
	fs.respond = jsonReply(200, `{"text": nope`)
	st := newStreamT(t, newRecognizer(t, fs, nil), asr.StreamConfig{})
	writeAudio(t, st, 0, 0, 1)
	err := st.Flush(t.Context())
	if !errors.Is(err, ErrTranscription) || !strings.Contains(err.Error(), "malformed response body") {
		t.Fatalf("Flush error %v: want ErrTranscription saying the body is malformed", err)
	}
	if got := fs.requests(); got != 1 {
		t.Errorf("%d requests, want 1 (a malformed body is not retried)", got)
	}
	t.Logf("error: %v", err)
}

func TestUtteranceCap(t *testing.T) {
	fs := newFakeServer(t)
	fs.wantSamples = maxSamples
	fs.respond = jsonReply(200, `{"text":"long"}`)
	st := newStreamT(t, newRecognizer(t, fs, nil), asr.StreamConfig{})
	frames := int(MaxUtterance / media.FrameDuration)
	next := writeAudio(t, st, 0, 0, frames)
	extra := media.Frame{Samples: make([]int16, 320), Rate: media.Rate16k, Offset: MaxUtterance}
	if err := st.Write(t.Context(), extra); !errors.Is(err, ErrUtteranceTooLong) {
		t.Fatalf("Write past %v = %v, want ErrUtteranceTooLong", MaxUtterance, err)
	}
	if err := st.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if seg := takeFinal(t, st); seg.End != MaxUtterance {
		t.Errorf("End = %v, want %v", seg.End, MaxUtterance)
	}
	// After the Flush the stream takes audio again.
	fs.set(func(fs *fakeServer) { fs.wantSamples = 320 })
	writeAudio(t, st, next, MaxUtterance, 1)
}

func TestWriteRejectsOtherRates(t *testing.T) {
	fs := newFakeServer(t)
	st := newStreamT(t, newRecognizer(t, fs, nil), asr.StreamConfig{})
	err := st.Write(t.Context(), media.Frame{Samples: make([]int16, 160), Rate: media.Rate8k})
	if !errors.Is(err, media.ErrRateMismatch) {
		t.Errorf("Write 8 kHz = %v, want media.ErrRateMismatch", err)
	}
}

func TestCloseTwiceAndWriteAfterClose(t *testing.T) {
	fs := newFakeServer(t)
	r := newRecognizer(t, fs, nil)
	st := newStreamT(t, r, asr.StreamConfig{})
	writeAudio(t, st, 0, 0, 2) // unflushed audio is discarded by Close
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, ok := <-st.Results(); ok {
		t.Error("Results not closed after Close")
	}
	f := media.Frame{Samples: make([]int16, 320), Rate: media.Rate16k}
	if err := st.Write(t.Context(), f); !errors.Is(err, asr.ErrClosed) {
		t.Errorf("Write after Close = %v, want asr.ErrClosed", err)
	}
	if err := st.Flush(t.Context()); !errors.Is(err, asr.ErrClosed) {
		t.Errorf("Flush after Close = %v, want asr.ErrClosed", err)
	}
	if got := fs.requests(); got != 0 {
		t.Errorf("%d requests, want 0", got)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("recognizer Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second recognizer Close: %v", err)
	}
	if _, err := r.NewStream(t.Context(), asr.StreamConfig{}); !errors.Is(err, asr.ErrClosed) {
		t.Errorf("NewStream after Close = %v, want asr.ErrClosed", err)
	}
}

func TestCloseDuringFlush(t *testing.T) {
	fs := newFakeServer(t)
	fs.wantSamples = 320
	fs.respond = sleepy(10 * time.Second)
	st := newStreamT(t, newRecognizer(t, fs, nil), asr.StreamConfig{})
	writeAudio(t, st, 0, 0, 1)
	go func() {
		<-fs.hits
		_ = st.Close()
	}()
	began := time.Now()
	err := st.Flush(t.Context())
	if err == nil || time.Since(began) > 2*time.Second {
		t.Errorf("Flush = %v after %v; want a prompt error when the stream is closed", err, time.Since(began))
	}
	if _, ok := <-st.Results(); ok {
		t.Error("Results not closed")
	}
}

func TestStreamEndsWithContext(t *testing.T) {
	fs := newFakeServer(t)
	r := newRecognizer(t, fs, nil)
	ctx, cancel := context.WithCancel(t.Context())
	st, err := r.NewStream(ctx, asr.StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-st.Results():
		if ok {
			t.Fatal("unexpected result")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Results not closed after the stream's context ended")
	}
	f := media.Frame{Samples: make([]int16, 320), Rate: media.Rate16k}
	if err := st.Write(t.Context(), f); !errors.Is(err, asr.ErrClosed) {
		t.Errorf("Write = %v, want asr.ErrClosed", err)
	}
	_ = st.Close()
}

func TestNewStreamRejects(t *testing.T) {
	fs := newFakeServer(t)
	r := newRecognizer(t, fs, nil)
	if _, err := r.NewStream(t.Context(), asr.StreamConfig{Mode: asr.Mode(42)}); !errors.Is(err, asr.ErrUnsupportedMode) {
		t.Errorf("mode 42: %v, want ErrUnsupportedMode", err)
	}
	if _, err := r.NewStream(t.Context(), asr.StreamConfig{Language: "xyz"}); !errors.Is(err, asr.ErrUnsupportedLanguage) {
		t.Errorf("language xyz: %v, want ErrUnsupportedLanguage", err)
	}
	if r.Name() != "openai:whisper-1" || r.SampleRate() != 16000 {
		t.Errorf("Name, SampleRate = %q, %d", r.Name(), r.SampleRate())
	}
}

// TestNoGoroutineLeak runs streams through success, retries, timeouts and
// cancellation and checks the goroutine count returns to where it started
// once the recognizer and server are closed. TestMain additionally checks
// that nothing of this package, go-openai or net/http outlives the tests.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		fs := newFakeServer(t)
		fs.wantSamples = 320
		defer fs.srv.Close()
		r, err := New(Config{BaseURL: fs.baseURL(), APIKey: testKey, Model: "whisper-1", Timeout: 50 * time.Millisecond, Retries: 1},
			nil, WithBackoff(time.Millisecond, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		replies := []func(int, http.ResponseWriter, *http.Request){
			jsonReply(200, verboseReply),
			sequence(jsonReply(500, `{"error":{"message":"x"}}`), jsonReply(200, `{"text":"ok"}`)),
			sleepy(time.Second),
			jsonReply(400, `{"error":{"message":"bad"}}`),
		}
		for i, reply := range replies {
			fs.set(func(fs *fakeServer) { fs.reqs = 0; fs.respond = reply })
			ctx, cancel := context.WithCancel(t.Context())
			st, err := r.NewStream(ctx, asr.StreamConfig{Mode: asr.Mode(i % 3)})
			if err != nil {
				t.Fatal(err)
			}
			writeAudio(t, st, 0, 0, 1)
			_ = st.Flush(ctx)
			if i%2 == 0 {
				_ = st.Close()
			}
			cancel() // the other half end by their context
			for range st.Results() {
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines before, %d after", before, after)
	}
}

// With no hint, the language is what the server detected, with the
// probability it reported when it reports one.
func TestDetectedLanguageAndProbability(t *testing.T) {
	fs := newFakeServer(t)
	fs.wantSamples = 10 * 320
	r := newRecognizer(t, fs, nil)
	st := newStreamT(t, r, asr.StreamConfig{})
	for _, tc := range []struct {
		reply    string
		wantLang call.Language
		wantP    float64
	}{
		{`{"text":"我的手机坏了","language":"chinese","language_probability":0.87}`, call.LangChinese, 0.87},
		{`{"text":"my phone broke","language":"english","language_probability":0.99}`, call.LangEnglish, 0.99},
		{`{"text":"my phone broke","language":"english"}`, call.LangEnglish, 0},                          // not reported
		{`{"text":"my phone broke","language":"english","language_probability":7}`, call.LangEnglish, 0}, // nonsense
		{`{"text":"??","language":"klingonese","language_probability":0.5}`, call.LangUndetermined, 0},
	} {
		fs.set(func(fs *fakeServer) { fs.respond = jsonReply(200, tc.reply) })
		writeAudio(t, st, 0, 0, 10)
		if err := st.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		seg := takeFinal(t, st)
		if seg.Language != tc.wantLang || seg.LanguageConfidence != tc.wantP {
			t.Errorf("reply %s: language %q p=%v, want %q p=%v", tc.reply, seg.Language, seg.LanguageConfidence, tc.wantLang, tc.wantP)
		}
	}
}
