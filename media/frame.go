// Package media carries call audio: frames, WAV files, G.711 codecs,
// resampling and a bounded frame queue. Voice activity detection lives in
// media/vad and WebRTC ingress in media/webrtc.
package media

import (
	"errors"
	"time"
)

// Standard rates. Recognition runs at 16 kHz; telephony arrives at 8 kHz;
// WebRTC (Opus) at 48 kHz.
const (
	Rate8k  = 8000
	Rate16k = 16000
	Rate48k = 48000

	// FrameDuration is the unit the pipeline moves audio in.
	FrameDuration = 20 * time.Millisecond
)

// Frame is a block of mono signed 16-bit PCM, normally 20 ms long.
// Offset is the time of its first sample since the start of the stream, so
// that every later stage can report timings in call time.
//
// A Frame's Samples are owned by whoever receives the frame; a sender must
// not modify them after sending.
type Frame struct {
	Samples []int16
	Rate    int
	Offset  time.Duration
}

// Duration is the length of the frame's audio.
func (f Frame) Duration() time.Duration {
	if f.Rate <= 0 {
		return 0
	}
	return time.Duration(len(f.Samples)) * time.Second / time.Duration(f.Rate)
}

// SamplesPerFrame returns how many samples a 20 ms frame holds at rate.
func SamplesPerFrame(rate int) int { return rate * int(FrameDuration/time.Millisecond) / 1000 }

// Writer is a sink of frames at one declared sample rate. Chains of writers
// (resampler -> fan-out -> VAD/ASR/recorder) form the audio path; a
// resampler is put in front of any writer whose rate differs from the source.
type Writer interface {
	// WriteFrame consumes f. f.Rate must equal SampleRate().
	WriteFrame(f Frame) error
	SampleRate() int
}

// Errors shared by the media package.
var (
	// ErrRateMismatch is returned when a frame's rate differs from the writer's.
	ErrRateMismatch = errors.New("media: frame sample rate does not match writer")
	// ErrClosed is returned when writing to or reading from a closed queue or writer.
	ErrClosed = errors.New("media: closed")
)
