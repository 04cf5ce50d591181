package webrtc

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// MaxOfferBytes bounds an SDP offer; browsers' audio offers are a few KB.
const MaxOfferBytes = 64 << 10

// Codec is the audio codec a call negotiated.
type Codec string

const (
	CodecOpus Codec = "opus"
	CodecPCMU Codec = "PCMU"
	// CodecPCMA (G.711 A-law) is taken on plain RTP legs (SIP trunks
	// outside North America and Japan); browsers are offered Opus or PCMU.
	CodecPCMA Codec = "PCMA"
	// CodecG722 (wideband, 16 kHz audio on an 8000 RTP clock) is taken
	// on plain RTP legs too: SIP phones and PBXes offer it as HD voice.
	CodecG722 Codec = "G722"
)

// offer is what we need to know of an SDP offer before handing it to pion:
// which codec to answer with, and what was offered for error messages.
type offer struct {
	codec   Codec
	offered []string // encoding/clock of every audio format, in offer order
	events  bool     // telephone-event offered
	opus    bool     // each codec we take, when offered
	pcmu    bool
}

// offers reports whether c was offered.
func (o offer) offers(c Codec) bool {
	return (c == CodecOpus && o.opus) || (c == CodecPCMU && o.pcmu)
}

// staticPayloads are the RFC 3551 static audio payload types an offer may
// list without an rtpmap line.
var staticPayloads = map[string]string{
	"0": "PCMU/8000", "3": "GSM/8000", "4": "G723/8000", "8": "PCMA/8000",
	"9": "G722/8000", "18": "G729/8000",
}

// parseOffer reads the audio sections of an offer. Opus is preferred to
// PCMU whatever the order: it is wideband (better recognition) and has FEC.
func parseOffer(raw []byte) (offer, error) {
	if len(raw) > MaxOfferBytes {
		return offer{}, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(raw), MaxOfferBytes)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return offer{}, fmt.Errorf("%w: empty body", ErrMalformedSDP)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(raw)); err != nil {
		return offer{}, fmt.Errorf("%w: %w", ErrMalformedSDP, err)
	}
	var o offer
	audio := false
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		audio = true
		rtpmap := map[string]string{}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, ok := strings.Cut(a.Value, " ")
			if !ok {
				return offer{}, fmt.Errorf("%w: rtpmap %q", ErrMalformedSDP, a.Value)
			}
			if _, err := strconv.ParseUint(pt, 10, 7); err != nil {
				return offer{}, fmt.Errorf("%w: rtpmap payload type %q", ErrMalformedSDP, pt)
			}
			rtpmap[pt] = enc
		}
		for _, pt := range m.MediaName.Formats {
			enc, ok := rtpmap[pt]
			if !ok {
				enc, ok = staticPayloads[pt]
			}
			if !ok {
				enc = "payload " + pt
			}
			// Channels ("opus/48000/2") do not matter to the choice.
			name, rest, _ := strings.Cut(enc, "/")
			clock, _, _ := strings.Cut(rest, "/")
			o.offered = append(o.offered, name+"/"+clock)
			switch {
			case strings.EqualFold(name, "opus") && clock == "48000":
				o.codec, o.opus = CodecOpus, true
			case strings.EqualFold(name, "PCMU") && clock == "8000":
				o.pcmu = true
				if o.codec == "" {
					o.codec = CodecPCMU
				}
			case strings.EqualFold(name, "telephone-event"):
				o.events = true
			}
		}
	}
	if !audio {
		return offer{}, fmt.Errorf("%w: %d media sections, none audio", ErrNoAudio, len(sd.MediaDescriptions))
	}
	if o.codec == "" {
		return offer{}, &UnsupportedCodecError{Offered: o.offered}
	}
	return o, nil
}
