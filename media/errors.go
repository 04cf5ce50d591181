package media

import (
	"errors"
	"fmt"
)

// Sentinel errors of the WAV reader and writer, the resampler and the
// framers. Functions wrap them with %w and a message that names the
// offending value, so callers test with errors.Is and people read the
// message; an HTTP layer maps ErrNotWAV, ErrUnsupported*, ErrMalformed,
// ErrTruncated, ErrNoSamples and ErrTooLarge to "bad upload" statuses.
var (
	// ErrNotWAV means the input does not start with a RIFF/WAVE header.
	ErrNotWAV = errors.New("media: wav: not a RIFF/WAVE file")
	// ErrNoFormat means no fmt chunk precedes the audio data.
	ErrNoFormat = errors.New("media: wav: missing fmt chunk")
	// ErrMalformed means a WAV header field is inconsistent or too short.
	ErrMalformed = errors.New("media: wav: malformed header")
	// ErrUnsupportedEncoding means the WAV holds a codec other than PCM,
	// IEEE float, mu-law or A-law (for example MP3 or ADPCM).
	ErrUnsupportedEncoding = errors.New("media: wav: unsupported encoding")
	// ErrUnsupportedChannels means the audio is neither mono nor stereo.
	ErrUnsupportedChannels = errors.New("media: wav: unsupported channel count")
	// ErrUnsupportedBits means the sample size does not fit the encoding.
	ErrUnsupportedBits = errors.New("media: wav: unsupported bits per sample")
	// ErrUnsupportedRate means a sample rate outside MinSampleRate..MaxSampleRate.
	ErrUnsupportedRate = errors.New("media: unsupported sample rate")
	// ErrTruncated means the input ended before a chunk's declared size. The
	// concrete error is a *TruncatedError giving both sizes.
	ErrTruncated = errors.New("media: wav: truncated")
	// ErrNoSamples means the WAV holds no complete sample frame.
	ErrNoSamples = errors.New("media: wav: no samples")
	// ErrTooLarge means the audio data exceeds MaxWAVBytes.
	ErrTooLarge = errors.New("media: wav: too large")
	// ErrInvalidAudio means an Audio value is internally inconsistent, for
	// example its Data is not a whole number of sample frames.
	ErrInvalidAudio = errors.New("media: invalid audio")
)

// TruncatedError reports a chunk that ends before its declared size. It
// matches ErrTruncated with errors.Is.
type TruncatedError struct {
	Chunk    string // chunk ID, such as "data" or "LIST"
	Expected int64  // bytes the chunk header declares
	Present  int64  // bytes actually present before end of input
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("media: wav: truncated %q chunk: header declares %d bytes, only %d present",
		e.Chunk, e.Expected, e.Present)
}

// Unwrap makes errors.Is(err, ErrTruncated) true.
func (e *TruncatedError) Unwrap() error { return ErrTruncated }
