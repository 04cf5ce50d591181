package media

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestFramer(t *testing.T) {
	f, err := NewFramer(Rate16k)
	if err != nil {
		t.Fatal(err)
	}
	if f.Rate() != Rate16k {
		t.Fatalf("Rate %d", f.Rate())
	}
	in := ramp16(16000 + 100) // 1 s and 100 samples
	var frames []Frame
	// Pieces of awkward sizes: smaller than, equal to and larger than a frame.
	for rest, i := in, 0; len(rest) > 0; i++ {
		n := min([]int{1, 319, 320, 321, 1000, 0, 7}[i%7], len(rest))
		frames = append(frames, f.Push(rest[:n])...)
		rest = rest[n:]
	}
	if len(frames) != 50 {
		t.Fatalf("%d frames from 1 s, want 50", len(frames))
	}
	last, ok := f.Flush()
	if !ok {
		t.Fatal("Flush found no partial frame")
	}
	frames = append(frames, last)
	var got []int16
	for i, fr := range frames {
		if len(fr.Samples) != 320 || fr.Rate != Rate16k || fr.Offset != time.Duration(i)*FrameDuration || fr.Duration() != FrameDuration {
			t.Fatalf("frame %d: %d samples at %d Hz, Offset %v", i, len(fr.Samples), fr.Rate, fr.Offset)
		}
		got = append(got, fr.Samples...)
	}
	for i, s := range in {
		if got[i] != s {
			t.Fatalf("sample %d = %d, want %d", i, got[i], s)
		}
	}
	for i, s := range got[len(in):] {
		if s != 0 {
			t.Fatalf("padding sample %d = %d, want 0", i, s)
		}
	}
	if _, ok := f.Flush(); ok {
		t.Fatal("second Flush returned a frame")
	}
	// Frames own their samples: growing one cannot overwrite the next.
	frames[0].Samples = append(frames[0].Samples, 12345)
	if frames[1].Samples[0] != in[320] {
		t.Fatal("appending to a frame overwrote the next frame")
	}
	// After a flush, time continues after the padded frame.
	next := f.Push(make([]int16, 320))
	if len(next) != 1 || next[0].Offset != 51*FrameDuration {
		t.Fatalf("frame after Flush: %+v", next)
	}
	f.Reset(time.Hour)
	f.Push([]int16{1, 2, 3})
	f.Reset(time.Hour)
	if fr := f.Push(make([]int16, 320)); len(fr) != 1 || fr[0].Offset != time.Hour || fr[0].Samples[0] != 0 {
		t.Fatalf("after Reset: %+v", fr)
	}
}

// Offsets come from sample counts, so rates whose 20 ms is not a whole
// number of samples still keep exact time.
func TestFramerOffsetsAtOddRates(t *testing.T) {
	f, err := NewFramer(11025) // 220.5 samples per 20 ms: frames of 220
	if err != nil {
		t.Fatal(err)
	}
	frames := f.Push(make([]int16, 11025))
	if len(frames) != 50 {
		t.Fatalf("%d frames", len(frames))
	}
	// 49 frames of 220 samples = 10780 samples = 977.777... ms.
	if want := time.Duration(10780) * time.Second / 11025; frames[49].Offset != want {
		t.Fatalf("frame 49 Offset %v, want %v", frames[49].Offset, want)
	}
	// No overflow after days of audio.
	if d := samplesDuration(16000*86400*30, 16000); d != 30*24*time.Hour {
		t.Fatalf("30 days of samples: %v", d)
	}
	for _, rate := range []int{0, -16000, 49} {
		if _, err := NewFramer(rate); !errors.Is(err, ErrUnsupportedRate) {
			t.Errorf("NewFramer(%d): %v, want ErrUnsupportedRate", rate, err)
		}
	}
}

func TestFanOut(t *testing.T) {
	a, b := &recorder{rate: Rate16k}, &recorder{rate: Rate16k}
	fan, err := NewFanOut(Rate16k, a, b)
	if err != nil {
		t.Fatal(err)
	}
	fr := Frame{Samples: []int16{1, 2, 3}, Rate: Rate16k, Offset: time.Second}
	if err := fan.WriteFrame(fr); err != nil {
		t.Fatal(err)
	}
	if len(a.frames) != 1 || len(b.frames) != 1 || a.frames[0].Offset != time.Second {
		t.Fatalf("frames: %v / %v", a.frames, b.frames)
	}
	a.frames[0].Samples[0] = 99 // one receiver changing its samples...
	if b.frames[0].Samples[0] != 1 {
		t.Fatal("...changed another receiver's samples")
	}

	// A failing destination does not starve the others.
	c := &recorder{rate: Rate16k}
	if err := fan.Add(c); err != nil {
		t.Fatal(err)
	}
	a.err = errDisk
	err = fan.WriteFrame(fr)
	if !errors.Is(err, errDisk) || len(b.frames) != 2 || len(c.frames) != 1 {
		t.Fatalf("err %v; b got %d frames, c %d", err, len(b.frames), len(c.frames))
	}
	wantErrContains(t, err, "destination 0")

	if err := fan.Flush(); err != nil || a.flushes != 1 || b.flushes != 1 || c.flushes != 1 {
		t.Fatalf("Flush: %v, flushes %d %d %d", err, a.flushes, b.flushes, c.flushes)
	}
	if err := fan.WriteFrame(Frame{Rate: Rate8k}); !errors.Is(err, ErrRateMismatch) {
		t.Errorf("8 kHz frame: %v, want ErrRateMismatch", err)
	}
	if err := fan.Add(&recorder{rate: Rate8k}); !errors.Is(err, ErrRateMismatch) {
		t.Errorf("Add at 8 kHz: %v, want ErrRateMismatch", err)
	}
	if err := fan.Add(nil); err == nil {
		t.Error("Add(nil) accepted")
	}
	if _, err := NewFanOut(Rate16k, &recorder{rate: Rate48k}); !errors.Is(err, ErrRateMismatch) {
		t.Errorf("NewFanOut with a 48 kHz writer: %v", err)
	}
	if _, err := NewFanOut(0); !errors.Is(err, ErrUnsupportedRate) {
		t.Errorf("NewFanOut(0): %v", err)
	}
	if fan.SampleRate() != Rate16k {
		t.Errorf("SampleRate %d", fan.SampleRate())
	}
}

// A chain as the pipeline builds it: 48 kHz WebRTC audio resampled, then
// fanned out to ASR and a recorder, flushed once at the end.
func TestWriterChainFlush(t *testing.T) {
	asr, rec := &recorder{rate: Rate16k}, &recorder{rate: Rate16k}
	fan, err := NewFanOut(Rate16k, asr, rec)
	if err != nil {
		t.Fatal(err)
	}
	head, err := NewResampleWriter(fan, Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	if err := head.WriteFrame(Frame{Samples: make([]int16, 960), Rate: Rate48k}); err != nil {
		t.Fatal(err)
	}
	if err := head.(Flusher).Flush(); err != nil {
		t.Fatal(err)
	}
	if len(asr.frames) != 1 || len(rec.frames) != 1 || asr.flushes != 1 || rec.flushes != 1 {
		t.Fatalf("asr %d frames %d flushes, recorder %d frames %d flushes",
			len(asr.frames), asr.flushes, len(rec.frames), rec.flushes)
	}
}

func TestSampleConversions(t *testing.T) {
	all := make([]int16, 0, 1<<16)
	for v := math.MinInt16; v <= math.MaxInt16; v++ {
		all = append(all, int16(v))
	}
	f := Int16ToFloat32(nil, all)
	back := Float32ToInt16(nil, f)
	for i, s := range all {
		if back[i] != s || f[i] < -1 || f[i] >= 1 {
			t.Fatalf("%d -> %v -> %d", s, f[i], back[i])
		}
	}
	got := Float32ToInt16([]int16{7}, []float32{1.5, -2, float32(math.NaN()), float32(math.Inf(-1)), 0.5 / 32768, -0.5 / 32768, 0.49 / 32768})
	want := []int16{7, 32767, -32768, 0, -32768, 1, -1, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Float32ToInt16 = %v, want %v", got, want)
		}
	}
	if fs := Int16ToFloat32([]float32{9}, []int16{-32768, 16384}); len(fs) != 3 || fs[0] != 9 || fs[1] != -1 || fs[2] != 0.5 {
		t.Fatalf("Int16ToFloat32 appending: %v", fs)
	}
}
