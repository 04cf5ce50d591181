package webrtc

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors. HTTPStatus is the one place that maps them to status
// codes; messages wrap them with the offending value.
var (
	// ErrMalformedSDP means the offer is not parseable SDP, or the WebRTC
	// stack rejected it (no ICE credentials, no DTLS fingerprint...).
	ErrMalformedSDP = errors.New("webrtc: malformed SDP offer")
	// ErrNoAudio means the offer has no audio media section.
	ErrNoAudio = errors.New("webrtc: offer has no audio")
	// ErrUnsupportedCodec means no offered audio codec is one we decode. The
	// concrete error is an *UnsupportedCodecError listing what was offered.
	ErrUnsupportedCodec = errors.New("webrtc: no supported audio codec offered")
	// ErrContentType means the request is not application/sdp.
	ErrContentType = errors.New("webrtc: content type must be application/sdp")
	// ErrTooLarge means the offer exceeds MaxOfferBytes.
	ErrTooLarge = errors.New("webrtc: offer too large")
	// ErrNotFound means no call has that id (never existed or ended).
	ErrNotFound = errors.New("webrtc: no such call")
	// ErrBusy means the server is at its call limit or draining.
	ErrBusy = errors.New("webrtc: not accepting calls")
	// ErrICETimeout ends a call whose peer did not complete ICE and DTLS in
	// time (unreachable, blocked by a firewall, or never sent media).
	ErrICETimeout = errors.New("webrtc: peer did not connect in time")
	// ErrPeerGone ends a call whose connection failed or was closed by the
	// peer.
	ErrPeerGone = errors.New("webrtc: peer connection failed or closed")
	// ErrHangup ends a call hung up with DELETE.
	ErrHangup = errors.New("webrtc: hung up")
	// ErrClosed ends a call closed by the server (Close, shutdown) and is
	// returned by methods of an ended call.
	ErrClosed = errors.New("webrtc: call closed")
	// ErrMalformedEvent means a telephone-event payload is too short.
	ErrMalformedEvent = errors.New("webrtc: malformed telephone-event payload")
	// ErrMalformedRTP means a packet is not RTP.
	ErrMalformedRTP = errors.New("webrtc: malformed RTP packet")
)

// UnsupportedCodecError names what an offer proposed, so that the 4xx body
// tells the caller's developer exactly why the call was refused.
type UnsupportedCodecError struct {
	Offered []string // "encoding/clock" of every audio format offered
}

func (e *UnsupportedCodecError) Error() string {
	offered := "nothing"
	if len(e.Offered) > 0 {
		offered = strings.Join(e.Offered, ", ")
	}
	return fmt.Sprintf("%v: offered %s; supported: opus/48000, PCMU/8000", ErrUnsupportedCodec, offered)
}

// Unwrap makes errors.Is(err, ErrUnsupportedCodec) true.
func (e *UnsupportedCodecError) Unwrap() error { return ErrUnsupportedCodec }

// HTTPStatus maps an error of this package to the status a WHIP endpoint
// answers with.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrContentType), errors.Is(err, ErrUnsupportedCodec):
		// 415 for both: the offer's media format is what we cannot take.
		return http.StatusUnsupportedMediaType
	case errors.Is(err, ErrMalformedSDP), errors.Is(err, ErrNoAudio):
		return http.StatusBadRequest
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
