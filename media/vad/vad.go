// Package vad decides where a caller is speaking: a Detector scores short
// chunks of 16 kHz audio for speech, and an Endpointer turns those scores
// into utterance start and end events with minimum-speech, hangover and
// maximum-length rules. Silero VAD v5 on ONNX Runtime is the detector of
// choice; Energy is the fallback when the runtime or model is missing.
package vad

import (
	"errors"
	"time"
)

// SampleRate is the only rate detectors accept; the audio path resamples
// to it before VAD.
const SampleRate = 16000

// Detector scores chunks of audio. It carries state from chunk to chunk, so
// one Detector serves one stream; it is not safe for concurrent use.
type Detector interface {
	// Name identifies the detector in logs and metrics.
	Name() string
	// ChunkSize is the number of 16 kHz samples Score expects.
	ChunkSize() int
	// Score returns the probability (0..1) that chunk is speech. len(chunk)
	// must equal ChunkSize(). Samples are in -1..1.
	Score(chunk []float32) (float32, error)
	// Reset forgets the state, as at the start of a new stream.
	Reset()
	// Close releases the detector's resources.
	Close() error
}

// Errors of this package.
var (
	// ErrChunkSize is returned when Score gets a chunk of the wrong length.
	ErrChunkSize = errors.New("vad: wrong chunk size")
	// ErrClosed is returned by Score after Close.
	ErrClosed = errors.New("vad: detector closed")
)

// chunkDuration is the duration of n samples at SampleRate.
func chunkDuration(n int) time.Duration {
	return time.Duration(n) * time.Second / SampleRate
}
