package webrtc

import (
	"time"

	"github.com/callbrief/callbrief/media"
)

// RTPReceiver is the receive path of a WebRTC call offered to plain-RTP
// legs (SIP trunks): packets reordered within a window, losses concealed,
// timestamp gaps filled with silence so that frame Offsets stay call time,
// RFC 4733 telephone-events read as keys, and 16 kHz 20 ms frames out. One
// implementation of jitter and loss for every ingress.
//
// It is not safe for concurrent use: the leg's read loop owns it.
type RTPReceiver struct {
	d *depacketizer
}

// ReceiveStats are an RTPReceiver's counters.
type ReceiveStats struct {
	Packets, Bytes       uint64
	Malformed, UnknownPT uint64 // not RTP or a telephone-event too short; a payload type not negotiated
	DecodeErrors         uint64
	Concealed            uint64 // packets synthesised for losses and undecodable payloads
	Frames               uint64
	Lost, Late           uint64 // declared lost after the reorder window; arrived after their slot
	Duplicates           uint64
	SilenceFilled        time.Duration
	Jitter               time.Duration // RFC 3550 interarrival jitter
}

// NewRTPReceiver decodes codec (CodecPCMU, CodecPCMA, CodecG722 or CodecOpus) sent
// with payload type audioPT; eventPTs are the telephone-event payload
// types negotiated. reorderDepth packets may arrive ahead of a missing one
// before it is declared lost. onFrame and onKey are called from Handle and
// Flush.
func NewRTPReceiver(codec Codec, audioPT uint8, eventPTs []uint8, reorderDepth int,
	onFrame func(media.Frame), onKey func(rune)) (*RTPReceiver, error) {
	d, err := newDepacketizer(codec, audioPT, eventPTs, reorderDepth, onFrame, onKey)
	if err != nil {
		return nil, err
	}
	return &RTPReceiver{d: d}, nil
}

// Handle takes one raw packet received at arrival. A malformed packet or
// an unnegotiated payload type is counted and returned as an error
// (ErrMalformedRTP); the stream goes on.
func (r *RTPReceiver) Handle(raw []byte, arrival time.Time) error {
	return r.d.handle(raw, arrival)
}

// Waiting reports whether packets are held behind a missing one: the
// owner should call Flush if nothing more arrives within its reorder delay.
func (r *RTPReceiver) Waiting() bool { return r.d.ro.held > 0 }

// Flush plays out what is held, declaring the gaps lost.
func (r *RTPReceiver) Flush() { r.d.flush() }

// Stats returns the counters so far.
func (r *RTPReceiver) Stats() ReceiveStats {
	d := r.d
	s := ReceiveStats{Packets: d.stats.Packets, Bytes: d.stats.Bytes, Malformed: d.stats.Malformed + d.dtmf.Malformed,
		UnknownPT: d.stats.UnknownPT, DecodeErrors: d.stats.DecodeErrors, Concealed: d.stats.Concealed,
		Frames: d.stats.Frames, Lost: d.ro.Lost, Late: d.ro.Late, Duplicates: d.ro.Duplicate, SilenceFilled: d.stats.SilenceFilled}
	if d.clock > 0 {
		s.Jitter = time.Duration(d.stats.jitter * float64(time.Second) / float64(d.clock))
	}
	return s
}

// Close frees the decoder.
func (r *RTPReceiver) Close() { r.d.close() }
