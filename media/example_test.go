package media_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/callbrief/callbrief/media"
)

// Decode a WAV (here one written in memory) and get what the recogniser
// takes: mono 16-bit samples at 16 kHz.
func ExampleReadWAV() {
	var file bytes.Buffer
	phone := &media.Audio{
		Format: media.Format{Encoding: media.MuLaw, SampleRate: media.Rate8k, Channels: 1},
		Data:   make([]float32, media.Rate8k/2), // half a second of silence
	}
	if err := media.WriteWAV(&file, phone, 8); err != nil {
		log.Fatal(err)
	}

	a, err := media.ReadWAV(&file)
	if err != nil {
		log.Fatal(err)
	}
	pcm, err := a.PCM16(media.Rate16k)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Format.Encoding, a.Format.SampleRate, a.Duration(), len(pcm))
	// Output: mu-law 8000 500ms 8000
}

// Errors name what is wrong and match a sentinel.
func ExampleReadWAV_errors() {
	_, err := media.DecodeWAV([]byte("ID3\x04 an MP3 file"))
	fmt.Println(errors.Is(err, media.ErrNotWAV))
	fmt.Println(err)
	// Output:
	// true
	// media: wav: not a RIFF/WAVE file: starts with "ID3\x04", want "RIFF"
}

// Resample telephone audio to 16 kHz one 20 ms frame at a time; Flush at
// the end of the stream delivers the filter's lookahead.
func ExampleResampler() {
	r, err := media.NewResampler(media.Rate8k, media.Rate16k)
	if err != nil {
		log.Fatal(err)
	}
	frame := make([]int16, media.SamplesPerFrame(media.Rate8k))
	var out []int16
	for range 50 { // one second
		out = r.ProcessInt16(out, frame)
	}
	fmt.Println("before flush:", len(out))
	out = r.FlushInt16(out)
	fmt.Println("after flush:", len(out))
	// Output:
	// before flush: 15898
	// after flush: 16000
}

// The audio path as a chain of writers: 48 kHz WebRTC audio resampled to
// 16 kHz and fanned out to recognition and recording.
func ExampleNewResampleWriter() {
	asr := &printer{name: "asr", rate: media.Rate16k}
	recording := &printer{name: "recording", rate: media.Rate16k, quiet: true}
	fan, err := media.NewFanOut(media.Rate16k, asr, recording)
	if err != nil {
		log.Fatal(err)
	}
	in, err := media.NewResampleWriter(fan, media.Rate48k)
	if err != nil {
		log.Fatal(err)
	}
	for i := range 3 {
		f := media.Frame{Samples: make([]int16, 960), Rate: media.Rate48k, Offset: time.Duration(i) * media.FrameDuration}
		if err := in.WriteFrame(f); err != nil {
			log.Fatal(err)
		}
	}
	if err := in.(media.Flusher).Flush(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// asr: 320 samples at 16000 Hz, offset 0s
	// asr: 320 samples at 16000 Hz, offset 20ms
	// asr: 320 samples at 16000 Hz, offset 40ms
}

type printer struct {
	name  string
	rate  int
	quiet bool
}

func (p *printer) WriteFrame(f media.Frame) error {
	if !p.quiet {
		fmt.Printf("%s: %d samples at %d Hz, offset %v\n", p.name, len(f.Samples), f.Rate, f.Offset)
	}
	return nil
}

func (p *printer) SampleRate() int { return p.rate }

// A consumer that falls behind loses the oldest audio, never the newest,
// and the loss is counted.
func ExampleFrameQueue() {
	q := media.NewFrameQueue(2)
	for i := range 3 {
		q.Push(media.Frame{Rate: media.Rate16k, Offset: time.Duration(i) * media.FrameDuration})
	}
	q.Close()
	for {
		f, err := q.Pop(context.Background())
		if errors.Is(err, media.ErrClosed) {
			break
		}
		fmt.Println("frame at", f.Offset)
	}
	fmt.Println("dropped:", q.Dropped())
	// Output:
	// frame at 20ms
	// frame at 40ms
	// dropped: 1
}

// Cut arbitrary pieces of audio into 20 ms frames.
func ExampleFramer() {
	fr, err := media.NewFramer(media.Rate16k)
	if err != nil {
		log.Fatal(err)
	}
	frames := fr.Push(make([]int16, 700)) // two frames and 60 samples
	last, ok := fr.Flush()                // the 60, padded with silence
	fmt.Println(len(frames), frames[1].Offset, ok, last.Offset, len(last.Samples))
	// Output: 2 20ms true 40ms 320
}

func ExampleMuLawEncode() {
	code := media.MuLawEncode(1000)
	fmt.Printf("0x%02X %d\n", code, media.MuLawDecode(code))
	// Output: 0xCE 988
}
