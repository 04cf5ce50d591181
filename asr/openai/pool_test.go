package openai

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
)

// poolFake is a fake server expecting the three frames flushOne sends.
func poolFake(t *testing.T, respond func(int, http.ResponseWriter, *http.Request)) *fakeServer {
	fs := newFakeServer(t)
	fs.wantSamples, fs.respond = 3*320, respond
	return fs
}

// poolOf makes a recognizer over the fakes, in order.
func poolOf(t *testing.T, fss []*fakeServer, opts ...Option) *Recognizer {
	t.Helper()
	var more []string
	for _, fs := range fss[1:] {
		more = append(more, fs.baseURL())
	}
	return newRecognizer(t, fss[0], func(c *Config) { c.BaseURLs = more }, opts...)
}

func flushOne(t *testing.T, r *Recognizer) (string, error) {
	t.Helper()
	st := newStreamT(t, r, asr.StreamConfig{})
	writeAudio(t, st, 0, 0, 3)
	if err := st.Flush(t.Context()); err != nil {
		return "", err
	}
	return takeFinal(t, st).Text, nil
}

// TestPoolFailover: a server that fails is left for another at once, then
// passed over for its cool-off; the caller never sees the failure.
func TestPoolFailover(t *testing.T) {
	bad := poolFake(t, jsonReply(500, `{"error":{"message":"boom"}}`))
	good := poolFake(t, jsonReply(200, `{"text":"fine"}`))
	r := poolOf(t, []*fakeServer{bad, good})
	for i := range 3 {
		text, err := flushOne(t, r)
		if err != nil || text != "fine" {
			t.Fatalf("utterance %d: %q %v", i, text, err)
		}
	}
	// The first went to the first server, failed, and went to the second;
	// the next two went straight to the second (the first is cooling off).
	if bad.requests() != 1 || good.requests() != 3 {
		t.Fatalf("requests: failing server %d, good one %d; want 1 and 3", bad.requests(), good.requests())
	}
	st := r.Servers()
	if st[0].Healthy || st[0].Failed != 1 || !st[1].Healthy || st[1].Served != 3 {
		t.Fatalf("stats: %+v", st)
	}
}

// TestPoolAllFailing: with every server failing, the attempts run out as
// with one server, spread over them, and the error says so.
func TestPoolAllFailing(t *testing.T) {
	a := poolFake(t, jsonReply(500, `{"error":{"message":"a down"}}`))
	b := poolFake(t, jsonReply(503, `{"error":{"message":"b down"}}`))
	r := poolOf(t, []*fakeServer{a, b})
	_, err := flushOne(t, r)
	var e *Error
	if !errors.As(err, &e) || e.Attempts != 3 {
		t.Fatalf("err = %v", err)
	}
	if a.requests()+b.requests() != 3 || a.requests() == 0 || b.requests() == 0 {
		t.Fatalf("requests %d and %d", a.requests(), b.requests())
	}
}

// TestPoolLeastLoaded: while one server holds a slow request the next goes
// to the other; a server its health check reports down gets none.
func TestPoolLeastLoaded(t *testing.T) {
	release := make(chan struct{})
	slow := poolFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		jsonReply(200, `{"text":"slow"}`)(n, w, r)
	})
	fast := poolFake(t, jsonReply(200, `{"text":"fast"}`))
	r := poolOf(t, []*fakeServer{slow, fast})
	// The first utterance's stream is opened and written here; its Flush
	// (which waits on the slow server) runs on its own goroutine.
	st := newStreamT(t, r, asr.StreamConfig{})
	writeAudio(t, st, 0, 0, 3)
	var wg sync.WaitGroup
	wg.Add(1)
	var firstErr error
	go func() {
		defer wg.Done()
		firstErr = st.Flush(t.Context())
	}()
	// The first utterance is at the slow server (both idle: the first
	// server on a tie).
	select {
	case <-slow.hits:
	case <-time.After(10 * time.Second):
		t.Fatal("the first utterance never reached the first server")
	}
	for i := range 3 {
		if text, err := flushOne(t, r); err != nil || text != "fast" {
			t.Fatalf("utterance %d while the first server is busy: %q %v", i, text, err)
		}
	}
	close(release)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("the slow one: %v", firstErr)
	}
	if text := takeFinal(t, st).Text; text != "slow" {
		t.Fatalf("the slow one: %q", text)
	}

	// Health: the first server reported down gets nothing while the
	// second is up.
	down := map[string]bool{}
	var mu sync.Mutex
	a, b := poolFake(t, jsonReply(200, `{"text":"a"}`)), poolFake(t, jsonReply(200, `{"text":"b"}`))
	down[a.baseURL()] = true
	r = poolOf(t, []*fakeServer{a, b}, WithHealth(func(u string) bool { mu.Lock(); defer mu.Unlock(); return !down[u] }))
	for range 2 {
		if text, err := flushOne(t, r); err != nil || text != "b" {
			t.Fatalf("with the first server down: %q %v", text, err)
		}
	}
	if a.requests() != 0 {
		t.Fatalf("a server reported down got %d requests", a.requests())
	}
	mu.Lock()
	down[a.baseURL()] = false
	mu.Unlock()
	if text, err := flushOne(t, r); err != nil || text != "a" {
		t.Fatalf("back up, idle, first: %q %v", text, err)
	}
}

func TestPoolConfig(t *testing.T) {
	_, err := New(Config{BaseURL: "http://127.0.0.1:1/v1", BaseURLs: []string{"ftp://x"}, Model: "m", Timeout: time.Second}, nil)
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "BaseURLs[0]") {
		t.Fatalf("bad extra URL: %v", err)
	}
}
