package sip

import (
	"fmt"
	"strings"

	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/g722"
	"github.com/callbrief/callbrief/media/opus"
	"github.com/callbrief/callbrief/media/webrtc"
)

// Codecs is every audio codec a SIP leg takes, in the order the answer to
// a caller who offers several would prefer were the caller silent on it
// (the caller's order decides; see parseOffer).
var Codecs = []webrtc.Codec{webrtc.CodecPCMU, webrtc.CodecPCMA, webrtc.CodecG722, webrtc.CodecOpus}

// codecInfo is what SDP and RTP say of a codec on a SIP leg.
type codecInfo struct {
	rtpmap string // encoding/clock[/channels] in our answer
	clock  int    // RTP clock rate
	rate   int    // the rate PCM is encoded from
}

var codecs = map[webrtc.Codec]codecInfo{
	webrtc.CodecPCMU: {"PCMU/8000", media.Rate8k, media.Rate8k},
	webrtc.CodecPCMA: {"PCMA/8000", media.Rate8k, media.Rate8k},
	// RFC 3551 section 4.5.2: G722's clock rate is 8000 "for historical
	// reasons", though it samples at 16 kHz.
	webrtc.CodecG722: {"G722/8000", media.Rate8k, g722.Rate},
	// RFC 7587: opus/48000/2 whatever is sent; we encode 16 kHz mono, which
	// the caller's decoder plays at its own rate.
	webrtc.CodecOpus: {"opus/48000/2", media.Rate48k, media.Rate16k},
}

// ParseCodec reads a codec's name as configured ("PCMU", "pcma", "g722",
// "opus").
func ParseCodec(s string) (webrtc.Codec, error) {
	for _, c := range Codecs {
		if strings.EqualFold(strings.TrimSpace(s), string(c)) {
			return c, nil
		}
	}
	return "", fmt.Errorf("codec %q is not one of PCMU, PCMA, G722, opus", s)
}

// encoder encodes 20 ms of prompt or bridged audio for the call's codec.
// G.722 and Opus keep state across packets (one encoder a call); G.711
// has none. Not safe for concurrent use: the call's spkMu guards it.
type encoder struct {
	codec webrtc.Codec
	info  codecInfo
	g722  *g722.Encoder
	opus  *opus.Encoder
	out   []byte
}

func newEncoder(c webrtc.Codec) (*encoder, error) {
	info, ok := codecs[c]
	if !ok {
		return nil, fmt.Errorf("sip: no encoder for %q", c)
	}
	e := &encoder{codec: c, info: info}
	var err error
	switch c {
	case webrtc.CodecG722:
		e.g722, err = g722.NewEncoder()
		e.out = make([]byte, g722.EncodedLen(e.samples()))
	case webrtc.CodecOpus:
		e.opus, err = opus.NewEncoder(media.Rate16k, 1, opus.AppVoIP)
		e.out = make([]byte, 1500)
	default:
		e.out = make([]byte, e.samples())
	}
	if err != nil {
		return nil, fmt.Errorf("sip: %s encoder: %w", c, err)
	}
	return e, nil
}

// samples is one 20 ms packet's samples at the encoder's input rate.
func (e *encoder) samples() int { return media.SamplesPerFrame(e.info.rate) }

// ticks is one 20 ms packet's RTP timestamp increment.
func (e *encoder) ticks() uint32 { return uint32(media.SamplesPerFrame(e.info.clock)) }

// encode encodes one packet's samples (samples() of them); the result is
// valid until the next call.
func (e *encoder) encode(frame []int16) ([]byte, error) {
	switch {
	case e.g722 != nil:
		n, err := e.g722.Encode(frame, e.out)
		return e.out[:n], err
	case e.opus != nil:
		n, err := e.opus.Encode(frame, e.out)
		return e.out[:n], err
	case e.codec == webrtc.CodecPCMA:
		return e.out[:media.EncodeALaw(e.out, frame)], nil
	case e.codec == webrtc.CodecPCMU:
		return e.out[:media.EncodeMuLaw(e.out, frame)], nil
	}
	return nil, fmt.Errorf("sip: %s encoder closed", e.codec)
}

func (e *encoder) close() {
	if e.g722 != nil {
		e.g722.Close()
	}
	if e.opus != nil {
		e.opus.Close()
	}
	e.codec = "" // encode fails from now on
	e.g722, e.opus = nil, nil
}
