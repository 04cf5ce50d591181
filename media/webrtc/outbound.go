package webrtc

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// outbound is a call's one outgoing audio stream. Prompts encoded here
// and, during a bridge, the other leg's packets forwarded as they came
// share it, so it keeps one sequence-number and timestamp space: the
// receiver's jitter buffer sees one stream with pauses (talkspurts marked),
// never a jump backwards or a reset it would have to guess at.
type outbound struct {
	write func(*rtp.Packet) error // the track's WriteRTP
	clock int                     // RTP clock rate: 48000 for Opus, 8000 for PCMU

	mu      sync.Mutex
	pkt     rtp.Packet
	started bool
	seq     uint16    // next sequence number
	lastTS  uint32    // timestamp of the last packet sent
	lastDur uint32    // its duration in clock ticks
	lastAt  time.Time // when it was sent
	source  uint64    // what sent it: 0 prompts, SSRC+1 a forwarded stream
	seqOff  uint16    // forwarded seq + seqOff = ours
	tsOff   uint32    // forwarded ts + tsOff = ours
	sent    uint64
	fwd     uint64
}

func newOutbound(track *webrtc.TrackLocalStaticRTP, clock int) *outbound {
	return &outbound{write: track.WriteRTP, clock: clock, lastDur: uint32(clock / 50)}
}

// resume returns the timestamp a new talkspurt (or a new source) starts
// at: right after the last packet, or later by the wall time that passed
// when the stream paused. mu is held.
func (o *outbound) resume(now time.Time) uint32 {
	if !o.started {
		var b [6]byte
		_, _ = rand.Read(b[:])
		o.started = true
		o.seq = binary.BigEndian.Uint16(b[:2])
		return binary.BigEndian.Uint32(b[2:])
	}
	next := o.lastTS + o.lastDur
	elapsed := uint32(now.Sub(o.lastAt).Seconds() * float64(o.clock))
	if elapsed > 2*o.lastDur {
		next = o.lastTS + elapsed
	}
	return next
}

// local sends one encoded packet of ours lasting ticks clock ticks.
func (o *outbound) local(payload []byte, ticks uint32) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	ts := o.resume(now)
	o.pkt = rtp.Packet{Header: rtp.Header{Version: 2, Marker: o.source != 0 || now.Sub(o.lastAt) > 40*time.Millisecond,
		SequenceNumber: o.seq, Timestamp: ts}, Payload: payload}
	o.seq++
	o.lastTS, o.lastDur, o.lastAt, o.source = ts, ticks, now, 0
	o.sent++
	if err := o.write(&o.pkt); err != nil {
		return fmt.Errorf("webrtc: send: %w", err)
	}
	return nil
}

// forward sends a packet of another stream with its payload untouched,
// its sequence number and timestamp moved into ours (pion sets our SSRC
// and the payload type this peer negotiated). Reordering and gaps in the
// forwarded stream pass through for the receiver to handle, as they would
// have end to end.
func (o *outbound) forward(p *rtp.Packet) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	src := uint64(p.SSRC) + 1
	marker := p.Marker
	switched := src != o.source
	if switched {
		ts := o.resume(now)
		o.seqOff = o.seq - p.SequenceNumber
		o.tsOff = ts - p.Timestamp
		o.source, marker = src, true
	}
	seq, ts := p.SequenceNumber+o.seqOff, p.Timestamp+o.tsOff
	if int16(seq-o.seq) >= 0 { // newest so far
		if !switched && ts != o.lastTS {
			o.lastDur = ts - o.lastTS
			if int32(o.lastDur) <= 0 || o.lastDur > uint32(o.clock) {
				o.lastDur = uint32(o.clock / 50)
			}
		}
		o.seq, o.lastTS, o.lastAt = seq+1, ts, now
	}
	o.sent++
	o.fwd++
	o.pkt = rtp.Packet{Header: rtp.Header{Version: 2, Marker: marker, SequenceNumber: seq, Timestamp: ts}, Payload: p.Payload}
	if err := o.write(&o.pkt); err != nil {
		return fmt.Errorf("webrtc: forward: %w", err)
	}
	return nil
}

// counts returns packets sent in all and forwarded.
func (o *outbound) counts() (sent, forwarded uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sent, o.fwd
}
