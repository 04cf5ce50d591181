package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
)

// speechWithPauses is d of loud noise at 16 kHz with 300 ms of silence at
// each pause.
func speechWithPauses(d time.Duration, pauses ...time.Duration) []int16 {
	n := int(d * media.Rate16k / time.Second)
	out := make([]int16, n)
	x := uint32(1)
	for i := range out {
		x = x*1664525 + 1013904223
		out[i] = int16(x>>16) / 2
	}
	for _, p := range pauses {
		a := int(p * media.Rate16k / time.Second)
		for i := a; i < min(n, a+int(300*time.Millisecond*media.Rate16k/time.Second)); i++ {
			out[i] = int16(i%5 - 2) // near silence, not digital zero
		}
	}
	return out
}

func TestQuietCuts(t *testing.T) {
	const rate = media.Rate16k
	at := func(i int) time.Duration { return time.Duration(i) * time.Second / rate }
	for _, c := range []struct {
		name   string
		audio  []int16
		k      int
		within [][2]time.Duration // each cut falls in one of these
	}{
		{"one pause off centre", speechWithPauses(12*time.Second, 5200*time.Millisecond), 2,
			[][2]time.Duration{{5200 * time.Millisecond, 5500 * time.Millisecond}}},
		{"two pauses", speechWithPauses(13500*time.Millisecond, 4300*time.Millisecond, 8900*time.Millisecond), 3,
			[][2]time.Duration{{4300 * time.Millisecond, 4600 * time.Millisecond}, {8900 * time.Millisecond, 9200 * time.Millisecond}}},
		// No pause where a cut may go (a piece under minPiece, or far
		// from an even split): not cut at all, rather than inside a word.
		{"pause too early", speechWithPauses(10*time.Second, 2*time.Second), 2, nil},
		{"no room to move", speechWithPauses(12*time.Second, 3500*time.Millisecond, 8300*time.Millisecond), 3, nil},
		{"no pause", speechWithPauses(12 * time.Second), 2, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cuts := quietCuts(c.audio, c.k)
			if c.within == nil {
				if cuts != nil {
					t.Fatalf("cut at %v; want no cut", cuts)
				}
				return
			}
			if len(cuts) != c.k-1 {
				t.Fatalf("%d cuts, want %d", len(cuts), c.k-1)
			}
			prev := 0
			for i, cut := range cuts {
				if at(cut) < c.within[i][0] || at(cut) > c.within[i][1] {
					t.Errorf("cut %d at %v, want within %v", i, at(cut), c.within[i])
				}
				if at(cut-prev) < minPiece {
					t.Errorf("piece %d is %v, shorter than %v", i, at(cut-prev), minPiece)
				}
				prev = cut
			}
			if at(len(c.audio)-prev) < minPiece {
				t.Errorf("last piece is %v, shorter than %v", at(len(c.audio)-prev), minPiece)
			}
			if again := quietCuts(c.audio, c.k); fmt.Sprint(again) != fmt.Sprint(cuts) {
				t.Errorf("cut at %v, then at %v: the same audio must be cut the same way", cuts, again)
			}
		})
	}
}

func TestPieceCount(t *testing.T) {
	s := func(d time.Duration) int { return int(d * media.Rate16k / time.Second) }
	for _, c := range []struct {
		n       int
		above   time.Duration
		servers int
		want    int
	}{
		{s(15 * time.Second), 8 * time.Second, 1, 1},  // one server: nothing gained
		{s(15 * time.Second), 0, 2, 1},                // off
		{s(8 * time.Second), 8 * time.Second, 2, 1},   // not longer than the limit
		{s(9 * time.Second), 8 * time.Second, 2, 2},   // two servers, two pieces
		{s(9 * time.Second), 8 * time.Second, 4, 2},   // no piece under 4 s
		{s(20 * time.Second), 8 * time.Second, 4, 4},  // as many as the servers
		{s(20 * time.Second), 8 * time.Second, 8, 5},  // 4 s each at least
		{s(60 * time.Second), 20 * time.Second, 3, 3}, // a set limit
	} {
		if got := pieceCount(c.n, c.above, c.servers); got != c.want {
			t.Errorf("%v above %v on %d servers: %d pieces, want %d", time.Duration(c.n)*time.Second/media.Rate16k, c.above, c.servers, got, c.want)
		}
	}
}

// splitFake is a server that answers with the number of samples it was
// sent, after every server of the group has a request in hand (so the
// test fails unless the pieces are in flight together), or 500 when that
// does not happen within a few seconds.
type splitFake struct {
	srv     *httptest.Server
	mu      sync.Mutex
	samples []int
}

func newSplitFakes(t *testing.T, n int, statuses ...int) []*splitFake {
	t.Log("no OpenAI-compatible server can run on this machine; these fakes (httptest.Server) answer with the length of the WAV they were sent")
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	out := make([]*splitFake, n)
	for i := range out {
		status := http.StatusOK
		if i < len(statuses) {
			status = statuses[i]
		}
		f := &splitFake{}
		var once sync.Once
		f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			file, _, err := r.FormFile("file")
			if err != nil {
				t.Errorf("no file part: %v", err)
				return
			}
			data, _ := io.ReadAll(file)
			samples, err := parseWAV(data)
			if err != nil {
				t.Errorf("upload: %v", err)
				return
			}
			f.mu.Lock()
			f.samples = append(f.samples, len(samples))
			f.mu.Unlock()
			once.Do(arrived.Done)
			select {
			case <-all:
			case <-time.After(5 * time.Second):
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"text":"%d","language":"chinese"}`, len(samples))
		}))
		t.Cleanup(f.srv.Close)
		out[i] = f
	}
	return out
}

func (f *splitFake) got() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.samples...)
}

// flushAudio writes samples to a new stream from offset, flushes it and
// returns its finals.
func flushAudio(t *testing.T, r *Recognizer, mode asr.Mode, offset time.Duration, samples []int16) ([]call.Segment, error) {
	t.Helper()
	st := newStreamT(t, r, asr.StreamConfig{Mode: mode})
	per := media.SamplesPerFrame(media.Rate16k)
	for i := 0; i < len(samples); i += per {
		f := media.Frame{Samples: samples[i:min(i+per, len(samples))], Rate: media.Rate16k, Offset: offset + time.Duration(i)*time.Second/media.Rate16k}
		if err := st.Write(t.Context(), f); err != nil {
			t.Fatal(err)
		}
	}
	var segs []call.Segment
	done := make(chan struct{})
	go func() {
		defer close(done)
		for res := range st.Results() {
			segs = append(segs, res.Segment)
		}
	}()
	err := st.Flush(t.Context())
	st.Close()
	<-done
	return segs, err
}

func splitRecognizer(t *testing.T, fakes []*splitFake) *Recognizer {
	var more []string
	for _, f := range fakes[1:] {
		more = append(more, f.srv.URL+"/v1")
	}
	r, err := New(Config{BaseURL: fakes[0].srv.URL + "/v1", BaseURLs: more, Model: "whisper-1", Timeout: 10 * time.Second,
		SplitAbove: DefaultSplitAbove}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestFlushSplitsOverServers: a 12 s turn on two servers goes out as two
// pieces at once, one to each, cut in its pause, and comes back as two
// finals in order with their own times.
func TestFlushSplitsOverServers(t *testing.T) {
	fakes := newSplitFakes(t, 2)
	audio := speechWithPauses(12*time.Second, 5200*time.Millisecond)
	offset := 3 * time.Second
	segs, err := flushAudio(t, splitRecognizer(t, fakes), asr.ModeFree, offset, audio)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 {
		t.Fatalf("%d finals, want 2: %+v", len(segs), segs)
	}
	a, b := fakes[0].got(), fakes[1].got()
	if len(a) != 1 || len(b) != 1 || a[0]+b[0] != len(audio) {
		t.Fatalf("servers got %v and %v samples; want one piece each, %d in all", a, b, len(audio))
	}
	first := 0
	if _, err := fmt.Sscan(segs[0].Text, &first); err != nil {
		t.Fatal(err)
	}
	cut := offset + time.Duration(first)*time.Second/media.Rate16k
	if cut < offset+5200*time.Millisecond || cut > offset+5500*time.Millisecond {
		t.Errorf("cut at %v, want in the pause at %v", cut, offset+5200*time.Millisecond)
	}
	if segs[0].Start != offset || segs[0].End != cut || segs[1].Start != cut || segs[1].End != offset+12*time.Second {
		t.Errorf("pieces %v-%v and %v-%v; want %v-%v-%v", segs[0].Start, segs[0].End, segs[1].Start, segs[1].End, offset, cut, offset+12*time.Second)
	}
	if fmt.Sprint(first+len(audio)-first) != fmt.Sprint(len(audio)) || segs[1].Text != fmt.Sprint(len(audio)-first) {
		t.Errorf("second final %q, want %d samples", segs[1].Text, len(audio)-first)
	}
	if segs[0].Language != call.LangChinese || segs[1].Language != call.LangChinese {
		t.Errorf("languages %q %q", segs[0].Language, segs[1].Language)
	}
}

// TestFlushWholeWhenNothingGained: one server, a digits answer, or a turn
// under the limit each go out as one request with all the audio.
func TestFlushWholeWhenNothingGained(t *testing.T) {
	for _, c := range []struct {
		name    string
		servers int
		mode    asr.Mode
		d       time.Duration
	}{
		{"one server", 1, asr.ModeFree, 12 * time.Second},
		{"digits", 2, asr.ModeDigits, 12 * time.Second},
		{"short turn", 2, asr.ModeFree, 7 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			fakes := newSplitFakes(t, 1)
			srvs := fakes
			if c.servers == 2 {
				// A second server that must not be needed: the group's
				// barrier counts only the first.
				idle := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					t.Errorf("the second server got a request")
					w.WriteHeader(http.StatusInternalServerError)
				}))
				t.Cleanup(idle.Close)
				srvs = append(srvs, &splitFake{srv: idle})
			}
			audio := speechWithPauses(c.d, c.d/2)
			r := splitRecognizer(t, srvs)
			if c.servers == 2 {
				// The fake is first in the pool: a single request goes to it.
				r.servers[1].inFlight.Add(1)
				defer r.servers[1].inFlight.Add(-1)
			}
			segs, err := flushAudio(t, r, c.mode, 0, audio)
			if err != nil {
				t.Fatal(err)
			}
			if got := fakes[0].got(); len(got) != 1 || got[0] != len(audio) || len(segs) != 1 {
				t.Fatalf("requests of %v samples, %d finals; want one of %d", got, len(segs), len(audio))
			}
		})
	}
}

// TestFlushSplitFails: a piece the server refuses fails the turn, and the
// other piece's final, though its server answered, is not delivered alone.
func TestFlushSplitFails(t *testing.T) {
	for _, bad := range []int{0, 1} {
		statuses := []int{http.StatusOK, http.StatusOK}
		statuses[bad] = http.StatusBadRequest
		fakes := newSplitFakes(t, 2, statuses...)
		segs, err := flushAudio(t, splitRecognizer(t, fakes), asr.ModeFree, 0, speechWithPauses(12*time.Second, 6*time.Second))
		var e *Error
		if !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest || len(segs) != 0 || !strings.Contains(err.Error(), "piece ") {
			t.Fatalf("server %d refusing: err %v, %d finals; want the 400, naming the piece, and no final", bad, err, len(segs))
		}
	}
}

// TestMaxInFlight: with a cap of one per server, a second request waits
// in the node while the first is answered, and a wait past its context
// fails naming why.
func TestMaxInFlight(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"text":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	r, err := New(Config{BaseURL: srv.URL + "/v1", Model: "whisper-1", Timeout: 10 * time.Second}, nil, WithMaxInFlight(1))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _, _ = r.transcribe(t.Context(), encodeWAV(make([]int16, 160), media.Rate16k), "") }()
	<-arrived
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, _, err = r.transcribe(ctx, encodeWAV(make([]int16, 160), media.Rate16k), "")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for a free server") {
		t.Fatalf("err %v; want the wait for a free server to end with its context", err)
	}
	select {
	case <-arrived:
		t.Fatal("a second request reached the server past the cap")
	default:
	}
}

// FuzzQuietCuts: for any caller's audio and piece count, the cuts are in
// order inside the audio, leave no piece under minPiece, and are the same
// the second time; or there are none.
func FuzzQuietCuts(f *testing.F) {
	f.Add([]byte{1, 2, 3}, uint8(2), uint16(9000))
	f.Add([]byte{0, 0, 0, 0}, uint8(3), uint16(14000))
	f.Fuzz(func(t *testing.T, pattern []byte, k uint8, ms uint16) {
		if len(pattern) == 0 {
			return
		}
		n := int(ms) * media.Rate16k / 1000
		audio := make([]int16, n)
		for i := range audio {
			b := pattern[(i/160)%len(pattern)]
			audio[i] = int16(int(b)*int(b)*(i%7-3)) + int16(b)
		}
		kk := int(k%8) + 1
		cuts := quietCuts(audio, kk)
		if cuts == nil {
			return
		}
		minLen := int(minPiece * media.Rate16k / time.Second)
		if len(cuts) != kk-1 {
			t.Fatalf("%d cuts for %d pieces", len(cuts), kk)
		}
		prev := 0
		for _, c := range append(cuts, n) {
			if c-prev < minLen {
				t.Fatalf("cuts %v in %d samples leave a piece of %d", cuts, n, c-prev)
			}
			prev = c
		}
		if again := quietCuts(audio, kk); fmt.Sprint(again) != fmt.Sprint(cuts) {
			t.Fatalf("cut at %v, then %v", cuts, again)
		}
	})
}
