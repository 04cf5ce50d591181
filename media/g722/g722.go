// Package g722 wraps the ITU-T G.722 reference codec of spandsp (Debian
// libspandsp) through cgo: 16 kHz wideband speech at 64 kbit/s, the codec
// SIP phones and PBXes offer as "HD voice". One byte carries two 16 kHz
// samples (its RTP clock is 8000 by a historical error in RFC 1890, kept
// by RFC 3551: 20 ms is 160 bytes and 160 timestamp ticks, but 320
// samples).
//
// Both types hold C memory: call Close. Neither is safe for concurrent
// use; one stream, one coder (G.722 is adaptive, its state follows the
// stream).
package g722

/*
#cgo pkg-config: spandsp
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/g722.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Rate is the sample rate G.722 encodes and decodes: 16 kHz.
const Rate = 16000

// bitRate is the only mode offered on SIP (RFC 3551 G722 is 64 kbit/s).
const bitRate = 64000

// ErrClosed is returned after Close.
var ErrClosed = errors.New("g722: closed")

// Encoder encodes 16 kHz 16-bit PCM to 64 kbit/s G.722.
type Encoder struct {
	s *C.g722_encode_state_t
}

// NewEncoder returns an encoder in its initial state.
func NewEncoder() (*Encoder, error) {
	s := C.g722_encode_init(nil, bitRate, 0)
	if s == nil {
		return nil, errors.New("g722: encoder: spandsp could not allocate its state")
	}
	return &Encoder{s: s}, nil
}

// EncodedLen is the number of bytes samples 16 kHz samples encode to.
func EncodedLen(samples int) int { return (samples + 1) / 2 }

// Encode encodes pcm (16 kHz; an even count, as every whole frame is) into
// out and returns the bytes written: len(pcm)/2.
func (e *Encoder) Encode(pcm []int16, out []byte) (int, error) {
	if e.s == nil {
		return 0, ErrClosed
	}
	if len(pcm) == 0 {
		return 0, nil
	}
	if len(pcm)%2 != 0 {
		return 0, fmt.Errorf("g722: encode: %d samples, want an even count (two a byte)", len(pcm))
	}
	if len(out) < EncodedLen(len(pcm)) {
		return 0, fmt.Errorf("g722: encode: %d samples need %d bytes, have %d", len(pcm), EncodedLen(len(pcm)), len(out))
	}
	n := C.g722_encode(e.s, (*C.uint8_t)(unsafe.Pointer(&out[0])), (*C.int16_t)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)))
	return int(n), nil
}

// Close frees the encoder. It is idempotent.
func (e *Encoder) Close() error {
	if e.s != nil {
		C.g722_encode_free(e.s)
		e.s = nil
	}
	return nil
}

// Decoder decodes 64 kbit/s G.722 to 16 kHz 16-bit PCM.
type Decoder struct {
	s *C.g722_decode_state_t
}

// NewDecoder returns a decoder in its initial state.
func NewDecoder() (*Decoder, error) {
	s := C.g722_decode_init(nil, bitRate, 0)
	if s == nil {
		return nil, errors.New("g722: decoder: spandsp could not allocate its state")
	}
	return &Decoder{s: s}, nil
}

// DecodedLen is the number of 16 kHz samples n bytes decode to.
func DecodedLen(n int) int { return 2 * n }

// Decode decodes data into pcm and returns the samples written:
// 2*len(data). Every byte is a valid G.722 code word, so any data
// decodes (to noise, when it is not G.722).
func (d *Decoder) Decode(data []byte, pcm []int16) (int, error) {
	if d.s == nil {
		return 0, ErrClosed
	}
	if len(data) == 0 {
		return 0, nil
	}
	if len(pcm) < DecodedLen(len(data)) {
		return 0, fmt.Errorf("g722: decode: %d bytes need %d samples, have %d", len(data), DecodedLen(len(data)), len(pcm))
	}
	n := C.g722_decode(d.s, (*C.int16_t)(unsafe.Pointer(&pcm[0])), (*C.uint8_t)(unsafe.Pointer(&data[0])), C.int(len(data)))
	return int(n), nil
}

// Close frees the decoder. It is idempotent.
func (d *Decoder) Close() error {
	if d.s != nil {
		C.g722_decode_free(d.s)
		d.s = nil
	}
	return nil
}
