package openai

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/media"
)

// fakeServer stands in for the remote OpenAI-compatible endpoint. No
// OpenAI-compatible server can run on this machine (no model, no network
// beyond the Go module proxy); this fake checks the multipart request the
// recognizer sends (path, auth, fields, the WAV file) and replies with
// whatever the test scripts.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	expect // tests set it directly before the first request, with set after
	reqs   int
	hits   chan int // receives n as each request arrives (non-blocking)
}

// expect is what the fake checks and how it replies.
type expect struct {
	t                 *testing.T
	wantModel         string
	wantFormat        string // response_format
	wantLang          string // "" means no language field
	wantGranularities []string
	wantSamples       int

	// respond writes the reply to the n-th request (1-based).
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

const testKey = "test-key"

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	t.Log("no OpenAI-compatible server can run on this machine; this fake (httptest.Server) checks the multipart request")
	fs := &fakeServer{
		t: t,
		expect: expect{
			t:                 t,
			wantModel:         "whisper-1",
			wantFormat:        "verbose_json",
			wantGranularities: []string{"word", "segment"},
			respond:           func(int, http.ResponseWriter, *http.Request) {},
		},
		hits: make(chan int, 64),
	}
	fs.srv = httptest.NewServer(http.HandlerFunc(fs.handle))
	t.Cleanup(fs.srv.Close)
	return fs
}

// baseURL is what Config.BaseURL gets: the server root plus /v1.
func (fs *fakeServer) baseURL() string { return fs.srv.URL + "/v1" }

// set changes the expectations or replies between requests.
func (fs *fakeServer) set(edit func(*fakeServer)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	edit(fs)
}

func (fs *fakeServer) requests() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.reqs
}

func (fs *fakeServer) handle(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	fs.reqs++
	n := fs.reqs
	exp := fs.expect // a snapshot for this request
	fs.mu.Unlock()
	exp.check(r)
	select {
	case fs.hits <- n:
	default:
	}
	exp.respond(n, w, r)
}

// check verifies one request; failures are reported with Errorf (safe from
// the server's goroutine).
func (fs *expect) check(r *http.Request) {
	t := fs.t
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		t.Errorf("request %s %s, want POST /v1/audio/transcriptions", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("Authorization = %q, want %q", got, "Bearer "+testKey)
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		t.Errorf("parsing multipart form: %v", err)
		return
	}
	f := r.MultipartForm
	field := func(name string) []string { return f.Value[name] }
	if got := field("model"); !slices.Equal(got, []string{fs.wantModel}) {
		t.Errorf("model = %q, want %q", got, fs.wantModel)
	}
	if got := field("response_format"); !slices.Equal(got, []string{fs.wantFormat}) {
		t.Errorf("response_format = %q, want %q", got, fs.wantFormat)
	}
	var wantLang []string
	if fs.wantLang != "" {
		wantLang = []string{fs.wantLang}
	}
	if got := field("language"); !slices.Equal(got, wantLang) {
		t.Errorf("language = %q, want %q", got, wantLang)
	}
	if got := field("timestamp_granularities[]"); !slices.Equal(got, fs.wantGranularities) {
		t.Errorf("timestamp_granularities[] = %q, want %q", got, fs.wantGranularities)
	}
	files := f.File["file"]
	if len(files) != 1 {
		t.Errorf("got %d file parts, want 1", len(files))
		return
	}
	fh, err := files[0].Open()
	if err != nil {
		t.Errorf("opening file part: %v", err)
		return
	}
	defer fh.Close()
	data, err := io.ReadAll(fh)
	if err != nil {
		t.Errorf("reading file part: %v", err)
		return
	}
	samples, err := parseWAV(data)
	if err != nil {
		t.Errorf("uploaded file %q: %v", files[0].Filename, err)
		return
	}
	if len(samples) != fs.wantSamples {
		t.Errorf("uploaded WAV has %d samples, want %d", len(samples), fs.wantSamples)
	}
	for i, s := range samples {
		if s != sampleAt(i) {
			t.Errorf("sample %d = %d, want %d", i, s, sampleAt(i))
			break
		}
	}
}

// parseWAV checks data is a RIFF/WAVE, PCM, 16 kHz, mono, 16-bit file and
// returns its samples. It is written independently of encodeWAV.
func parseWAV(data []byte) ([]int16, error) {
	le := binary.LittleEndian
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, fmt.Errorf("not RIFF/WAVE")
	}
	if got := le.Uint32(data[4:]); int(got) != len(data)-8 {
		return nil, fmt.Errorf("RIFF size %d, file has %d bytes after it", got, len(data)-8)
	}
	var haveFmt bool
	for p := 12; p+8 <= len(data); {
		id, size := string(data[p:p+4]), int(le.Uint32(data[p+4:]))
		body := data[p+8:]
		if size > len(body) {
			return nil, fmt.Errorf("chunk %q size %d exceeds file", id, size)
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, fmt.Errorf("fmt chunk too short")
			}
			format, ch, rate := le.Uint16(body[0:]), le.Uint16(body[2:]), le.Uint32(body[4:])
			byteRate, align, bits := le.Uint32(body[8:]), le.Uint16(body[12:]), le.Uint16(body[14:])
			if format != 1 || ch != 1 || rate != 16000 || bits != 16 || byteRate != 32000 || align != 2 {
				return nil, fmt.Errorf("fmt: format %d, %d channel(s), %d Hz, %d bits, byte rate %d, align %d; want PCM mono 16000 Hz 16-bit",
					format, ch, rate, bits, byteRate, align)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("data before fmt")
			}
			if size%2 != 0 {
				return nil, fmt.Errorf("odd data size %d", size)
			}
			out := make([]int16, size/2)
			if err := binary.Read(bytes.NewReader(body), le, out); err != nil {
				return nil, err
			}
			return out, nil
		}
		p += 8 + size + size%2
	}
	return nil, fmt.Errorf("no data chunk")
}

// sampleAt is the test signal: distinct, including negative values.
func sampleAt(i int) int16 { return int16(i*7919%65536 - 32768) }

// writeAudio writes n 20 ms frames starting at offset, continuing the test
// signal from sample index first. It returns the index after the last.
func writeAudio(t *testing.T, st asr.Stream, first int, offset time.Duration, n int) int {
	t.Helper()
	per := media.SamplesPerFrame(media.Rate16k)
	buf := make([]int16, per)
	for k := 0; k < n; k++ {
		for j := range buf {
			buf[j] = sampleAt(first + j)
		}
		f := media.Frame{Samples: buf, Rate: media.Rate16k, Offset: offset + time.Duration(k)*media.FrameDuration}
		if err := st.Write(t.Context(), f); err != nil {
			t.Fatalf("Write frame %d: %v", k, err)
		}
		for j := range buf { // the stream must have copied the samples
			buf[j] = 0x5555
		}
		first += per
	}
	return first
}

func jsonReply(status int, body string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// sequence replies with the i-th reply to the i-th request, repeating the last.
func sequence(replies ...func(int, http.ResponseWriter, *http.Request)) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, r *http.Request) {
		replies[min(n, len(replies))-1](n, w, r)
	}
}
