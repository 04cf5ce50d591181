package sphinx

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/media"
)

const testData = "/usr/share/pocketsphinx/test/data"

// readWAV reads a mono 16-bit PCM WAV file: just enough RIFF to find the
// fmt and data chunks. (The media package will own the real reader.)
func readWAV(path string) (samples []int16, rate int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("%s: not a RIFF/WAVE file", path)
	}
	var channels, bits int
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := b[p+8 : min(len(b), p+8+size)]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, 0, fmt.Errorf("%s: short fmt chunk", path)
			}
			if f := binary.LittleEndian.Uint16(body[0:2]); f != 1 && f != 0xFFFE {
				return nil, 0, fmt.Errorf("%s: format %d is not PCM", path, f)
			}
			channels = int(binary.LittleEndian.Uint16(body[2:4]))
			rate = int(binary.LittleEndian.Uint32(body[4:8]))
			bits = int(binary.LittleEndian.Uint16(body[14:16]))
		case "data":
			if channels != 1 || bits != 16 {
				return nil, 0, fmt.Errorf("%s: %d channels, %d bits; want mono 16-bit", path, channels, bits)
			}
			samples = make([]int16, len(body)/2)
			for i := range samples {
				samples[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return samples, rate, nil
		}
		p += 8 + size + size&1
	}
	return nil, 0, fmt.Errorf("%s: no data chunk", path)
}

// readRaw reads headerless 16 kHz little-endian 16-bit audio.
func readRaw(t testing.TB, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s
}

// loadClip reads a 16 kHz test WAV, skipping the test when the Debian
// package pocketsphinx-testdata is not installed.
func loadClip(t testing.TB, path string) []int16 {
	t.Helper()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		t.Skipf("%s missing: install the Debian package pocketsphinx-testdata", path)
	}
	s, rate, err := readWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if rate != SampleRate {
		t.Fatalf("%s: %d Hz, want %d", path, rate, SampleRate)
	}
	return s
}

// newTestRecognizer opens a Recognizer on the installed model, skipping
// the test when the model is not installed.
func newTestRecognizer(t testing.TB) *Recognizer {
	t.Helper()
	r, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Skipf("sphinx model unavailable: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// decoded is what one utterance produced.
type decoded struct {
	final    *asr.Result
	partials []asr.Result
	// partialAfterFinal is set when a partial arrived after the final.
	partialAfterFinal bool
}

// transcribe runs samples through a stream of mode as one utterance in
// 20 ms frames whose offsets start at base, then flushes and closes.
func transcribe(t testing.TB, r *Recognizer, m asr.Mode, samples []int16, base time.Duration) decoded {
	t.Helper()
	ctx := context.Background()
	st, err := r.NewStream(ctx, asr.StreamConfig{Mode: m, Language: "en-US"})
	if err != nil {
		t.Fatal(err)
	}
	var out decoded
	done := make(chan struct{})
	go func() {
		defer close(done)
		for res := range st.Results() {
			switch {
			case res.Final && out.final != nil:
				t.Errorf("second final %q", res.Text)
			case res.Final:
				res := res
				out.final = &res
			case out.final != nil:
				out.partialAfterFinal = true
			default:
				out.partials = append(out.partials, res)
			}
		}
	}()
	n := media.SamplesPerFrame(SampleRate)
	for i := 0; i < len(samples); i += n {
		f := media.Frame{
			Samples: samples[i:min(i+n, len(samples))],
			Rate:    SampleRate,
			Offset:  base + time.Duration(i)*time.Second/SampleRate,
		}
		if err := st.Write(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	return out
}

func (d decoded) text() string {
	if d.final == nil {
		return ""
	}
	return d.final.Text
}

// editDistance is the Levenshtein distance between token sequences.
func editDistance(ref, hyp []string) int {
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			sub := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(hyp)]
}

// wordErrors counts word errors of hyp against ref. "mr" and "mister" are
// one word (the LM spells it "mr", the transcripts "mister").
func wordErrors(ref, hyp string) (errs, words int) {
	norm := func(s string) []string {
		f := strings.Fields(strings.ToLower(s))
		for i, w := range f {
			if w == "mr" {
				f[i] = "mister"
			}
		}
		return f
	}
	r := norm(ref)
	return editDistance(r, norm(hyp)), len(r)
}

// readTranscripts parses a pocketsphinx transcription file:
// "<s> words </s> (id)" per line.
func readTranscripts(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		i := strings.LastIndexByte(line, '(')
		if i < 0 {
			continue
		}
		id := strings.Trim(line[i:], "() \t")
		text := strings.NewReplacer("<s>", " ", "</s>", " ").Replace(line[:i])
		out[id] = strings.Join(strings.Fields(text), " ")
	}
	return out
}

// synthesizer speaks text into 16 kHz mono audio with espeak-ng and sox
// (-R: sox dithers with a fixed seed, so every run hears the same audio).
type synthesizer struct {
	dir string
	n   int
}

func newSynthesizer(t *testing.T) *synthesizer {
	t.Helper()
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install espeak-ng sox): synthetic speech tests skipped", tool)
		}
	}
	return &synthesizer{dir: t.TempDir()}
}

func (s *synthesizer) say(t *testing.T, voice, text string) []int16 {
	t.Helper()
	s.n++
	raw := filepath.Join(s.dir, fmt.Sprintf("%d-22k.wav", s.n))
	out := filepath.Join(s.dir, fmt.Sprintf("%d.wav", s.n))
	if b, err := exec.Command("espeak-ng", "-v", voice, "-s", "150", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng %q: %v\n%s", text, err, b)
	}
	if b, err := exec.Command("sox", "-R", raw, "-r", "16000", "-c", "1", "-b", "16", out).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, b)
	}
	samples, rate, err := readWAV(out)
	if err != nil {
		t.Fatal(err)
	}
	if rate != SampleRate {
		t.Fatalf("sox gave %d Hz", rate)
	}
	// Pad with 300 ms of digital silence either side, as a VAD-cut
	// utterance would carry some silence.
	pad := make([]int16, SampleRate*3/10)
	return append(append(pad, samples...), pad...)
}
