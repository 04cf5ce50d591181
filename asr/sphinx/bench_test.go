package sphinx

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
)

// BenchmarkRealTimeFactor decodes one LibriVox clip (7.1 s) per iteration
// on a warm recognizer and reports the real-time factor: processing time
// over audio time (below 1 is faster than real time). "rtf" is wall
// clock; "cpu-rtf" is the process's CPU time, which other load on the
// machine does not inflate.
func BenchmarkRealTimeFactor(b *testing.B) {
	samples := loadClip(b, filepath.Join(testData, "librivox", "sense_and_sensibility_01_austen_64kb-0870.wav"))
	audio := time.Duration(len(samples)) * time.Second / SampleRate
	r := newTestRecognizer(b)
	if err := r.Warm(b.Context(), asr.ModeFree); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if d := transcribe(b, r, asr.ModeFree, samples, 0); d.final == nil {
			b.Fatal("no final")
		}
	}
	elapsed := time.Since(start)
	total := audio.Seconds() * float64(b.N)
	b.ReportMetric(elapsed.Seconds()/total, "rtf")
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/total, "cpu-rtf")
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecoderCreate measures creating one decoder per mode: the cost
// a cold pool pays on NewStream.
func BenchmarkDecoderCreate(b *testing.B) {
	r := newTestRecognizer(b)
	for _, m := range []asr.Mode{asr.ModeFree, asr.ModeDigits, asr.ModeYesNo} {
		b.Run(m.String(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				d, err := r.create(m)
				if err != nil {
					b.Fatal(err)
				}
				d.free()
			}
		})
	}
}
