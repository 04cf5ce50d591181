package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"

	"github.com/callbrief/callbrief/media/webrtc"
)

// maxSDP bounds an SDP body: an audio offer is well under 2 KB.
const maxSDP = 16 << 10

// Errors an offer is refused with; Server answers 488 for each.
var (
	ErrMalformedSDP = errors.New("sip: malformed SDP")
	ErrNoAudio      = errors.New("sip: SDP has no audio stream")
	ErrNoCodec      = errors.New("sip: no common audio codec")
)

// Media directions (RFC 3264).
const (
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

// offer is what an SDP offer asks for, reduced to what we answer.
type offer struct {
	addr     netip.AddrPort // where the caller says to send RTP
	codec    webrtc.Codec
	pt       uint8
	eventPT  int // telephone-event/8000 payload type, -1 when not offered
	dir      string
	offered  []string // encoding/clock of each audio format, for the refusal
	sessName string
}

// held reports whether the offer puts the call on hold: we are not to
// send (RFC 3264 section 8.4, and the older c=0.0.0.0 form).
func (o offer) held() bool {
	return o.dir == dirSendOnly || o.dir == dirInactive || (o.addr.Addr().IsValid() && o.addr.Addr().IsUnspecified())
}

var staticAudio = map[uint8]string{0: "PCMU/8000", 3: "GSM/8000", 4: "G723/8000", 8: "PCMA/8000", 9: "G722/8000", 18: "G729/8000"}

// parseOffer reads an SDP offer: the first audio stream with a port, the
// first codec of take (nil: all of Codecs) in the caller's order of
// preference (RFC 3264 section 6.1), and telephone-events.
func parseOffer(body []byte, take []webrtc.Codec) (offer, error) {
	if take == nil {
		take = Codecs
	}
	o := offer{eventPT: -1}
	if len(body) == 0 {
		return o, fmt.Errorf("%w: empty body", ErrMalformedSDP)
	}
	if len(body) > maxSDP {
		return o, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformedSDP, len(body), maxSDP)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return o, fmt.Errorf("%w: %w", ErrMalformedSDP, err)
	}
	sessDir := direction(sd.Attributes, dirSendRecv)
	var conn *sdp.ConnectionInformation = sd.ConnectionInformation
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		if md.MediaName.Port.Value == 0 {
			continue // a declined stream
		}
		if !strings.HasPrefix(strings.ToUpper(strings.Join(md.MediaName.Protos, "/")), "RTP/AVP") {
			return o, fmt.Errorf("%w: audio transport %q (only RTP/AVP is taken)", ErrNoCodec, strings.Join(md.MediaName.Protos, "/"))
		}
		c := conn
		if md.ConnectionInformation != nil {
			c = md.ConnectionInformation
		}
		if c == nil || c.Address == nil {
			return o, fmt.Errorf("%w: audio stream has no connection address", ErrMalformedSDP)
		}
		ip, err := netip.ParseAddr(c.Address.Address)
		if err != nil {
			return o, fmt.Errorf("%w: connection address %q is not an IP address", ErrMalformedSDP, c.Address.Address)
		}
		port := md.MediaName.Port.Value
		if port < 1 || port > 65535 {
			return o, fmt.Errorf("%w: audio port %d", ErrMalformedSDP, port)
		}
		o.addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))
		o.dir = direction(md.Attributes, sessDir)
		rtpmap := map[uint8]string{}
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, ok := strings.Cut(a.Value, " ")
			n, err := strconv.ParseUint(pt, 10, 8)
			if !ok || err != nil || n > 127 {
				return o, fmt.Errorf("%w: rtpmap %q", ErrMalformedSDP, a.Value)
			}
			rtpmap[uint8(n)] = strings.TrimSpace(enc)
		}
		chosen := false
		for _, f := range md.MediaName.Formats {
			n, err := strconv.ParseUint(f, 10, 8)
			if err != nil || n > 127 {
				return o, fmt.Errorf("%w: payload type %q", ErrMalformedSDP, f)
			}
			pt := uint8(n)
			enc, ok := rtpmap[pt]
			if !ok {
				enc = staticAudio[pt]
			}
			if enc == "" {
				enc = "pt" + f
			}
			o.offered = append(o.offered, enc)
			name, rest, _ := strings.Cut(enc, "/")
			clock, _, _ := strings.Cut(rest, "/")
			switch {
			case strings.EqualFold(name, "telephone-event") && clock == "8000":
				if o.eventPT < 0 {
					o.eventPT = int(pt)
				}
			case chosen:
			default:
				if c, ok := codecOf(name, clock); ok && slices.Contains(take, c) {
					o.codec, o.pt, chosen = c, pt, true
				}
			}
		}
		if !chosen {
			var taken []string
			for _, c := range take {
				taken = append(taken, codecs[c].rtpmap)
			}
			return o, fmt.Errorf("%w: offered %s; taken: %s", ErrNoCodec, strings.Join(o.offered, ", "), strings.Join(taken, ", "))
		}
		return o, nil
	}
	return o, ErrNoAudio
}

// codecOf names the codec of an rtpmap's encoding and clock. G722 is
// 8000 in SDP though its audio is 16 kHz (RFC 3551); Opus is always
// opus/48000/2 (RFC 7587), whatever the sender's rate and channels.
func codecOf(name, clock string) (webrtc.Codec, bool) {
	switch {
	case strings.EqualFold(name, "PCMU") && clock == "8000":
		return webrtc.CodecPCMU, true
	case strings.EqualFold(name, "PCMA") && clock == "8000":
		return webrtc.CodecPCMA, true
	case strings.EqualFold(name, "G722") && clock == "8000":
		return webrtc.CodecG722, true
	case strings.EqualFold(name, "opus") && clock == "48000":
		return webrtc.CodecOpus, true
	}
	return "", false
}

func direction(attrs []sdp.Attribute, def string) string {
	for _, a := range attrs {
		switch a.Key {
		case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
			return a.Key
		}
	}
	return def
}

// answerDir is our direction for an offer's: we receive what they send
// and send when they receive.
func answerDir(offered string) string {
	switch offered {
	case dirSendOnly:
		return dirRecvOnly
	case dirRecvOnly:
		return dirSendOnly
	case dirInactive:
		return dirInactive
	}
	return dirSendRecv
}

// answerSDP builds our answer: one audio stream at ip:port with the
// codec chosen and telephone-events when offered. version goes up with
// each answer in the dialog (RFC 3264 section 8).
func answerSDP(o offer, ip netip.Addr, port int, sessID, version uint64) []byte {
	ipv := "IP4"
	if ip.Is6() {
		ipv = "IP6"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=callbrief %d %d IN %s %s\r\ns=callbrief\r\nc=IN %s %s\r\nt=0 0\r\n", sessID, version, ipv, ip, ipv, ip)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %d", port, o.pt)
	if o.eventPT >= 0 {
		fmt.Fprintf(&b, " %d", o.eventPT)
	}
	fmt.Fprintf(&b, "\r\na=rtpmap:%d %s\r\n", o.pt, codecs[o.codec].rtpmap)
	if o.codec == webrtc.CodecOpus {
		// Mono is what we send and all we need (RFC 7587 section 6.1);
		// the caller's in-band FEC is welcome: the receiver rebuilds a lost
		// packet from the next.
		fmt.Fprintf(&b, "a=fmtp:%d stereo=0;sprop-stereo=0;useinbandfec=1\r\n", o.pt)
	}
	if o.eventPT >= 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", o.eventPT, o.eventPT)
	}
	fmt.Fprintf(&b, "a=ptime:%d\r\na=%s\r\n", 20*time.Millisecond/time.Millisecond, answerDir(o.dir))
	return []byte(b.String())
}
