package vad

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media"
)

func loadSilero(t testing.TB) *SileroModel {
	t.Helper()
	m, err := LoadSilero(testenv.Model(t, "onnxruntime", "libonnxruntime.so"), testenv.Model(t, "silero-vad", "silero_vad_v5.onnx"), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func readClip(t testing.TB, path string) []int16 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := media.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := a.PCM16(SampleRate)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// pad surrounds speech with `pad` of noise at noiseDB dBFS (white noise),
// and adds the same noise under the speech.
func pad(speech []int16, padDur time.Duration, noiseDB float64, seed uint64) []int16 {
	n := int(padDur.Seconds() * SampleRate)
	out := make([]int16, n+len(speech)+n)
	copy(out[n:], speech)
	amp := math.Pow(10, noiseDB/20) * 32768 * math.Sqrt(3) // uniform noise with that RMS
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range out {
		v := float64(out[i]) + (r.Float64()*2-1)*amp
		out[i] = int16(max(-32768, min(32767, v)))
	}
	return out
}

type span struct{ start, end time.Duration }

func segments(t *testing.T, det Detector, pcm []int16) []span {
	t.Helper()
	seg, err := NewSegmenter(det, DefaultEndpointConfig())
	if err != nil {
		t.Fatal(err)
	}
	fr, _ := media.NewFramer(SampleRate)
	frames := fr.Push(pcm)
	var evs []Event
	for _, f := range frames {
		e, err := seg.Process(f)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e...)
	}
	evs = append(evs, seg.Finish(time.Duration(len(pcm))*time.Second/SampleRate)...)
	var out []span
	for _, e := range evs {
		switch e.Kind {
		case SpeechStart:
			out = append(out, span{start: e.At})
		case SpeechEnd:
			out[len(out)-1].end = e.At
		}
	}
	return out
}

// speechClips are real recordings with little leading or trailing silence.
func speechClips(t *testing.T) []string {
	dir := testenv.NeedLibrivox(t)
	clips, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	sort.Strings(clips)
	if len(clips) < 5 {
		t.Fatalf("want 5 librivox clips, found %d", len(clips))
	}
	return clips
}

// checkCoverage asserts that the segments lie inside the speech (with a
// tolerance for word onsets and the tail of the last word) and cover most
// of it: pauses inside the clip may be cut out, the padding may not be
// called speech.
func checkCoverage(t *testing.T, name string, segs []span, speechStart, speechEnd time.Duration) {
	t.Helper()
	const slack = 300 * time.Millisecond
	if len(segs) == 0 {
		t.Errorf("%s: no speech found", name)
		return
	}
	var covered time.Duration
	for _, s := range segs {
		if s.start < speechStart-slack || s.end > speechEnd+slack {
			t.Errorf("%s: segment %v-%v reaches into the padding (speech is %v-%v)", name, s.start, s.end, speechStart, speechEnd)
		}
		lo, hi := max(s.start, speechStart), min(s.end, speechEnd)
		if hi > lo {
			covered += hi - lo
		}
	}
	frac := covered.Seconds() / (speechEnd - speechStart).Seconds()
	t.Logf("%s: %d segments cover %.0f%% of the speech", name, len(segs), 100*frac)
	if frac < 0.8 {
		t.Errorf("%s: segments cover only %.0f%% of the speech", name, 100*frac)
	}
}

func TestSileroOnRealSpeechPaddedWithNoise(t *testing.T) {
	m := loadSilero(t)
	for _, noiseDB := range []float64{-60, -40} {
		for i, clip := range speechClips(t) {
			speech := readClip(t, clip)
			padDur := 2 * time.Second
			pcm := pad(speech, padDur, noiseDB, uint64(i))
			det, err := m.NewDetector()
			if err != nil {
				t.Fatal(err)
			}
			segs := segments(t, det, pcm)
			det.Close()
			end := padDur + time.Duration(len(speech))*time.Second/SampleRate
			checkCoverage(t, filepath.Base(clip)+fmt.Sprintf(" noise %.0f dBFS", noiseDB), segs, padDur, end)
		}
	}
}

func TestSileroIgnoresNoiseAlone(t *testing.T) {
	m := loadSilero(t)
	det, err := m.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close()
	pcm := pad(nil, 5*time.Second, -30, 7) // loud white noise, no speech
	if segs := segments(t, det, pcm); len(segs) != 0 {
		t.Fatalf("noise alone produced segments: %v", segs)
	}
}

func TestEnergyOnRealSpeechInQuietNoise(t *testing.T) {
	for i, clip := range speechClips(t) {
		speech := readClip(t, clip)
		padDur := 2 * time.Second
		pcm := pad(speech, padDur, -60, uint64(i))
		segs := segments(t, NewEnergy(EnergyConfig{}), pcm)
		end := padDur + time.Duration(len(speech))*time.Second/SampleRate
		checkCoverage(t, filepath.Base(clip), segs, padDur, end)
	}
}

func TestSileroDetectorContract(t *testing.T) {
	m := loadSilero(t)
	det, err := m.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := det.Score(make([]float32, 100)); err == nil {
		t.Fatal("wrong chunk size must fail")
	}
	p1, _ := det.Score(make([]float32, 512))
	det.Reset()
	p2, _ := det.Score(make([]float32, 512))
	if p1 != p2 {
		t.Fatalf("Reset must restore the initial state: %v vs %v", p1, p2)
	}
	det.Close()
	det.Close()
	if _, err := det.Score(make([]float32, 512)); err != ErrClosed {
		t.Fatalf("after Close: %v", err)
	}
}

func TestLoadSileroMissingModel(t *testing.T) {
	rt := testenv.Model(t, "onnxruntime", "libonnxruntime.so")
	_, err := LoadSilero(rt, filepath.Join(t.TempDir(), "nope.onnx"), 1)
	if err == nil {
		t.Fatal("want an error")
	}
}

// BenchmarkSileroFrame measures the VAD's cost per 20 ms of audio: Silero
// scores 32 ms chunks, so the figure is the chunk cost scaled to 20 ms.
func BenchmarkSileroFrame(b *testing.B) {
	m := loadSilero(b)
	det, err := m.NewDetector()
	if err != nil {
		b.Fatal(err)
	}
	defer det.Close()
	chunk := make([]float32, 512)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range chunk {
		chunk[i] = float32(r.Float64()*0.2 - 0.1)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := det.Score(chunk); err != nil {
			b.Fatal(err)
		}
	}
	perChunk := b.Elapsed().Seconds() / float64(b.N)
	perFrame := perChunk * 20.0 / 32.0
	b.ReportMetric(perFrame*1e6, "us/20ms-frame")
	b.ReportMetric(0.020/perFrame, "realtime-streams/core")
}

func BenchmarkEnergyFrame(b *testing.B) {
	det := NewEnergy(EnergyConfig{})
	chunk := make([]float32, 320)
	for b.Loop() {
		det.Score(chunk)
	}
	perFrame := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(0.020/perFrame, "realtime-streams/core")
}
