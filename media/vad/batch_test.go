package vad

import (
	"errors"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"
)

// chunks cuts pcm into Silero chunks as float samples.
func chunks(pcm []int16) [][]float32 {
	var out [][]float32
	for off := 0; off+sileroChunk <= len(pcm); off += sileroChunk {
		c := make([]float32, sileroChunk)
		for i := range c {
			c[i] = float32(pcm[off+i]) / 32768
		}
		out = append(out, c)
	}
	return out
}

// TestBatcherMatchesSilero: streams scored together in batches get the
// scores each would get alone, chunk for chunk (the rows of a batch do not
// mix), and their own recurrent state.
func TestBatcherMatchesSilero(t *testing.T) {
	m := loadSilero(t)
	speech := pad(readClip(t, speechClips(t)[0]), time.Second, -50, 7)
	const streams = 12
	// Each stream starts at another place in the clip, so their states
	// differ.
	want := make([][]float32, streams)
	for s := range streams {
		det, err := m.NewDetector()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunks(speech[s*1600:]) {
			p, err := det.Score(c)
			if err != nil {
				t.Fatal(err)
			}
			want[s] = append(want[s], p)
		}
		det.Close()
	}
	b := m.NewBatcher(2, 8)
	defer b.Close()
	got := make([][]float32, streams)
	var wg sync.WaitGroup
	for s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			det := b.NewDetector()
			for _, c := range chunks(speech[s*1600:]) {
				p, err := det.Score(c)
				if err != nil {
					t.Error(err)
					return
				}
				got[s] = append(got[s], p)
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	worst := 0.0
	for s := range streams {
		if len(got[s]) != len(want[s]) {
			t.Fatalf("stream %d: %d scores, want %d", s, len(got[s]), len(want[s]))
		}
		for i := range want[s] {
			worst = max(worst, math.Abs(float64(got[s][i]-want[s][i])))
		}
	}
	if worst > 1e-4 {
		t.Fatalf("batched scores differ from single-stream ones by up to %g", worst)
	}
	runs, scored := b.Stats()
	if runs >= scored {
		t.Fatalf("%d runs for %d chunks: nothing was batched", runs, scored)
	}
	t.Logf("largest difference over %d streams: %g; mean batch %.1f", streams, worst, float64(scored)/float64(runs))
}

func TestBatcherClosed(t *testing.T) {
	b := loadSilero(t).NewBatcher(1, 4)
	d := b.NewDetector()
	if _, err := d.Score(make([]float32, sileroChunk)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Score(make([]float32, 3)); !errors.Is(err, ErrChunkSize) {
		t.Fatalf("short chunk: %v", err)
	}
	b.Close()
	b.Close()
	if _, err := d.Score(make([]float32, sileroChunk)); !errors.Is(err, ErrBatcherClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// BenchmarkBatcherFrame is the VAD's cost per 20 ms of audio when many
// streams are scored together (one goroutine per stream, as calls are).
func BenchmarkBatcherFrame(b *testing.B) {
	m := loadSilero(b)
	bt := m.NewBatcher(runtime.GOMAXPROCS(0), 64)
	defer bt.Close()
	chunk := make([]float32, sileroChunk)
	for i := range chunk {
		chunk[i] = float32(math.Sin(float64(i)/5)) * 0.1
	}
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		d := bt.NewDetector()
		for pb.Next() {
			if _, err := d.Score(chunk); err != nil {
				b.Error(err)
				return
			}
		}
	})
	perFrame := b.Elapsed().Seconds() / float64(b.N) * 20 / 32 * float64(runtime.GOMAXPROCS(0))
	b.ReportMetric(perFrame*1e6, "us/20ms-frame/core")
	b.ReportMetric(0.020/perFrame, "realtime-streams/core")
}
