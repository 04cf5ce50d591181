// Package opus wraps the reference Opus codec (libopus) through cgo: a
// Decoder that decodes straight to the pipeline's 16 kHz (libopus resamples
// internally far more cheaply than a separate 48 -> 16 kHz filter) with
// packet-loss concealment and in-band FEC recovery, and an Encoder for the
// prompts sent back to the caller.
//
// Both types hold C memory: call Close. Neither is safe for concurrent use;
// one stream, one decoder.
package opus

/*
#cgo pkg-config: opus
#include <opus.h>
#include <stdlib.h>

static int cb_dec_ctl_get_last_duration(OpusDecoder *d, opus_int32 *v) {
	return opus_decoder_ctl(d, OPUS_GET_LAST_PACKET_DURATION(v));
}
static int cb_enc_set_bitrate(OpusEncoder *e, opus_int32 v) {
	return opus_encoder_ctl(e, OPUS_SET_BITRATE(v));
}
static int cb_enc_set_inband_fec(OpusEncoder *e, opus_int32 v) {
	return opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(v));
}
static int cb_enc_set_packet_loss(OpusEncoder *e, opus_int32 v) {
	return opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(v));
}
static int cb_enc_set_complexity(OpusEncoder *e, opus_int32 v) {
	return opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(v));
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Sentinel errors. libopus's own error text is kept in the wrapped message.
var (
	// ErrInvalidPacket means libopus could not decode the packet (corrupt or
	// not Opus at all); the caller should conceal the frame instead.
	ErrInvalidPacket = errors.New("opus: invalid packet")
	// ErrBufferTooSmall means the PCM or packet buffer cannot hold the result.
	ErrBufferTooSmall = errors.New("opus: buffer too small")
	// ErrBadArgument covers unsupported rates, channel counts and frame sizes.
	ErrBadArgument = errors.New("opus: bad argument")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("opus: closed")
)

// MaxFrameSamples is the most samples per channel one Opus packet decodes to
// at rate: 120 ms (RFC 6716 section 3.2.5).
func MaxFrameSamples(rate int) int { return rate * 120 / 1000 }

func codecErr(op string, code C.int) error {
	msg := C.GoString(C.opus_strerror(code))
	switch code {
	case C.OPUS_INVALID_PACKET, C.OPUS_INTERNAL_ERROR:
		return fmt.Errorf("%w: %s: %s", ErrInvalidPacket, op, msg)
	case C.OPUS_BUFFER_TOO_SMALL:
		return fmt.Errorf("%w: %s: %s", ErrBufferTooSmall, op, msg)
	default:
		return fmt.Errorf("%w: %s: %s", ErrBadArgument, op, msg)
	}
}

func checkRate(rate int) error {
	switch rate {
	case 8000, 12000, 16000, 24000, 48000:
		return nil
	}
	return fmt.Errorf("%w: rate %d Hz (Opus runs at 8, 12, 16, 24 or 48 kHz)", ErrBadArgument, rate)
}

// Decoder decodes Opus packets to mono or stereo 16-bit PCM at its rate.
type Decoder struct {
	d        *C.OpusDecoder
	rate     int
	channels int
}

// NewDecoder returns a decoder producing rate Hz audio with channels
// channels. Whatever the sender encoded (48 kHz stereo from a browser),
// libopus delivers it at this rate and channel count.
func NewDecoder(rate, channels int) (*Decoder, error) {
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("%w: %d channels", ErrBadArgument, channels)
	}
	var code C.int
	d := C.opus_decoder_create(C.opus_int32(rate), C.int(channels), &code)
	if code != C.OPUS_OK {
		return nil, codecErr("create decoder", code)
	}
	return &Decoder{d: d, rate: rate, channels: channels}, nil
}

// Rate is the output sample rate.
func (d *Decoder) Rate() int { return d.rate }

// Decode decodes one packet into pcm (interleaved) and returns the number
// of samples per channel written. pcm must hold the packet's duration; a
// buffer of MaxFrameSamples(rate)*channels always does.
func (d *Decoder) Decode(packet []byte, pcm []int16) (int, error) {
	if len(packet) == 0 {
		return 0, fmt.Errorf("%w: empty packet", ErrInvalidPacket)
	}
	return d.decode(packet, pcm, len(pcm)/d.channels, false)
}

// DecodeFEC recovers the packet lost just before packet from the forward
// error correction data packet carries (when the sender enabled in-band
// FEC), writing exactly samples samples per channel: the lost packet's
// duration. Without FEC data libopus conceals instead, so the call always
// yields audio of the right length.
func (d *Decoder) DecodeFEC(packet []byte, pcm []int16, samples int) (int, error) {
	if samples*d.channels > len(pcm) {
		return 0, fmt.Errorf("%w: %d samples into %d", ErrBufferTooSmall, samples*d.channels, len(pcm))
	}
	if len(packet) == 0 {
		return d.Conceal(pcm, samples)
	}
	return d.decode(packet, pcm, samples, true)
}

// Conceal synthesises samples samples per channel of packet-loss
// concealment, continuing the decoder's last signal; samples must be a
// multiple of 2.5 ms.
func (d *Decoder) Conceal(pcm []int16, samples int) (int, error) {
	if samples*d.channels > len(pcm) {
		return 0, fmt.Errorf("%w: %d samples into %d", ErrBufferTooSmall, samples*d.channels, len(pcm))
	}
	return d.decode(nil, pcm, samples, false)
}

func (d *Decoder) decode(packet []byte, pcm []int16, frameSize int, fec bool) (int, error) {
	if d.d == nil {
		return 0, ErrClosed
	}
	if frameSize <= 0 {
		return 0, fmt.Errorf("%w: no room in PCM buffer", ErrBufferTooSmall)
	}
	var data *C.uchar
	if len(packet) > 0 {
		data = (*C.uchar)(unsafe.Pointer(&packet[0]))
	}
	f := C.int(0)
	if fec {
		f = 1
	}
	n := C.opus_decode(d.d, data, C.opus_int32(len(packet)),
		(*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(frameSize), f)
	if n < 0 {
		return 0, codecErr("decode", n)
	}
	return int(n), nil
}

// LastDuration is the duration, in samples per channel at the decoder's
// rate, of the last packet decoded or concealed.
func (d *Decoder) LastDuration() int {
	if d.d == nil {
		return 0
	}
	var v C.opus_int32
	C.cb_dec_ctl_get_last_duration(d.d, &v)
	return int(v)
}

// Close frees the decoder. It is idempotent.
func (d *Decoder) Close() error {
	if d.d != nil {
		C.opus_decoder_destroy(d.d)
		d.d = nil
	}
	return nil
}

// PacketSamples is the number of samples per channel packet decodes to at
// rate, read from its TOC byte without decoding.
func PacketSamples(packet []byte, rate int) (int, error) {
	if len(packet) == 0 {
		return 0, fmt.Errorf("%w: empty packet", ErrInvalidPacket)
	}
	n := C.opus_packet_get_nb_samples((*C.uchar)(unsafe.Pointer(&packet[0])), C.opus_int32(len(packet)), C.opus_int32(rate))
	if n < 0 {
		return 0, codecErr("packet duration", n)
	}
	return int(n), nil
}

// Application selects the encoder's tuning.
type Application int

const (
	// AppVoIP favours speech intelligibility: prompts and calls.
	AppVoIP Application = C.OPUS_APPLICATION_VOIP
	// AppAudio favours fidelity for music and mixed content.
	AppAudio Application = C.OPUS_APPLICATION_AUDIO
)

// Encoder encodes 16-bit PCM at its rate to Opus packets.
type Encoder struct {
	e        *C.OpusEncoder
	rate     int
	channels int
}

// NewEncoder returns an encoder taking rate Hz input with channels channels.
// The RTP clock of Opus is 48 kHz whatever the input rate, so 16 kHz
// prompts need no resampling before encoding.
func NewEncoder(rate, channels int, app Application) (*Encoder, error) {
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("%w: %d channels", ErrBadArgument, channels)
	}
	var code C.int
	e := C.opus_encoder_create(C.opus_int32(rate), C.int(channels), C.int(app), &code)
	if code != C.OPUS_OK {
		return nil, codecErr("create encoder", code)
	}
	return &Encoder{e: e, rate: rate, channels: channels}, nil
}

// Rate is the input sample rate.
func (e *Encoder) Rate() int { return e.rate }

// SetBitrate sets the target bitrate in bits per second.
func (e *Encoder) SetBitrate(bps int) error {
	return e.ctl("bitrate", C.cb_enc_set_bitrate(e.e, C.opus_int32(bps)))
}

// SetInbandFEC turns on forward error correction for expectedLossPercent
// packet loss, letting the receiver rebuild a lost packet from the next.
func (e *Encoder) SetInbandFEC(on bool, expectedLossPercent int) error {
	v := C.opus_int32(0)
	if on {
		v = 1
	}
	if err := e.ctl("inband fec", C.cb_enc_set_inband_fec(e.e, v)); err != nil {
		return err
	}
	return e.ctl("packet loss", C.cb_enc_set_packet_loss(e.e, C.opus_int32(expectedLossPercent)))
}

// SetComplexity sets the encoder's CPU/quality trade-off, 0..10.
func (e *Encoder) SetComplexity(c int) error {
	return e.ctl("complexity", C.cb_enc_set_complexity(e.e, C.opus_int32(c)))
}

func (e *Encoder) ctl(what string, code C.int) error {
	if e.e == nil {
		return ErrClosed
	}
	if code != C.OPUS_OK {
		return codecErr("set "+what, code)
	}
	return nil
}

// Encode encodes one frame of pcm (interleaved; 2.5, 5, 10, 20, 40 or 60 ms
// long) into out and returns the packet length. A 4000-byte out is always
// enough.
func (e *Encoder) Encode(pcm []int16, out []byte) (int, error) {
	if e.e == nil {
		return 0, ErrClosed
	}
	if len(pcm) == 0 || len(out) == 0 {
		return 0, fmt.Errorf("%w: empty buffer", ErrBadArgument)
	}
	n := C.opus_encode(e.e, (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)/e.channels),
		(*C.uchar)(unsafe.Pointer(&out[0])), C.opus_int32(len(out)))
	if n < 0 {
		return 0, codecErr("encode", n)
	}
	return int(n), nil
}

// Close frees the encoder. It is idempotent.
func (e *Encoder) Close() error {
	if e.e != nil {
		C.opus_encoder_destroy(e.e)
		e.e = nil
	}
	return nil
}
