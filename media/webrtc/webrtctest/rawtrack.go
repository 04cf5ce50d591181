package webrtctest

import (
	"fmt"
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// RawTrack is an audio TrackLocal that writes RTP packets as given, so
// one SSRC carries audio and telephone-events with their own payload
// types, as browsers send them (pion's static tracks rewrite the payload
// type).
type RawTrack struct {
	mime  string
	bound chan struct{}
	once  sync.Once

	mu  sync.Mutex
	ctx webrtc.TrackLocalContext
}

// NewRawTrack makes a track that binds to the codec mime.
func NewRawTrack(mime string) *RawTrack {
	return &RawTrack{mime: mime, bound: make(chan struct{})}
}

// Bound is closed once the track is bound to a negotiated codec.
func (r *RawTrack) Bound() <-chan struct{} { return r.bound }

// MimeType is the codec the track binds to.
func (r *RawTrack) MimeType() string { return r.mime }

// Bind implements webrtc.TrackLocal.
func (r *RawTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, r.mime) {
			r.ctx = ctx
			r.once.Do(func() { close(r.bound) })
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("webrtctest: no %s negotiated", r.mime)
}

// Unbind implements webrtc.TrackLocal.
func (r *RawTrack) Unbind(webrtc.TrackLocalContext) error { return nil }

// ID implements webrtc.TrackLocal.
func (r *RawTrack) ID() string { return "mic" }

// RID implements webrtc.TrackLocal.
func (r *RawTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (r *RawTrack) StreamID() string { return "webrtctest" }

// Kind implements webrtc.TrackLocal.
func (r *RawTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }

// PayloadType is the negotiated payload type of mime at clock (0: any
// clock), when the bound codecs list it.
func (r *RawTrack) PayloadType(mime string, clock uint32) (uint8, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, mime) && (clock == 0 || c.ClockRate == clock) {
			return uint8(c.PayloadType), true
		}
	}
	return 0, false
}

// WriteRTP sends one packet with the track's SSRC.
func (r *RawTrack) WriteRTP(h *rtp.Header, payload []byte) error {
	r.mu.Lock()
	ctx := r.ctx
	r.mu.Unlock()
	h.SSRC = uint32(ctx.SSRC())
	if _, err := ctx.WriteStream().WriteRTP(h, payload); err != nil {
		return fmt.Errorf("webrtctest: write: %w", err)
	}
	return nil
}
