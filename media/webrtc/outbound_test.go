package webrtc

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// FuzzOutbound feeds the outgoing stream any mix of prompt packets and
// forwarded packets from several sources, in any order, and checks that
// the receiver sees one stream: a forwarded source keeps its own spacing
// of sequence numbers and timestamps, and every new talkspurt or source
// continues after the newest packet sent, never reusing a sequence number
// or going back in time.
func FuzzOutbound(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 1, 1, 2, 2, 0, 1, 1})
	f.Add([]byte{1, 0, 1, 0, 1, 255, 1, 1, 3, 0, 0, 2, 1, 2, 200})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var sent []rtp.Header
		o := &outbound{clock: 48000, lastDur: 960, write: func(p *rtp.Packet) error {
			sent = append(sent, p.Header)
			return nil
		}}
		type srcState struct {
			seq     uint16
			ts      uint32
			started bool
			dSeq    uint16 // out - in, once started
			dTS     uint32
		}
		srcs := map[uint32]*srcState{}
		var cur uint64 // 0: prompts
		var maxSeq uint16
		var maxTS uint32
		begun := false
		for i := 0; i+2 < len(ops); i += 3 {
			kind, a, b := ops[i]%3, ops[i+1], ops[i+2]
			if kind == 0 {
				if err := o.local([]byte{1}, 960); err != nil {
					t.Fatal(err)
				}
				h := sent[len(sent)-1]
				if begun && (h.SequenceNumber != maxSeq+1 || int32(h.Timestamp-maxTS) <= 0) {
					t.Fatalf("prompt packet %d/%d after newest %d/%d", h.SequenceNumber, h.Timestamp, maxSeq, maxTS)
				}
				cur, maxSeq, maxTS, begun = 0, h.SequenceNumber, h.Timestamp, true
				continue
			}
			ssrc := uint32(kind) // two forwarded sources
			st := srcs[ssrc]
			if st == nil {
				st = &srcState{seq: uint16(a) << 8, ts: uint32(b) << 16}
				srcs[ssrc] = st
			}
			// Next packet of this source: mostly in order, sometimes a
			// jump back (reordered) or ahead (lost packets).
			step := int16(int8(a)) / 32
			if step == 0 {
				step = 1
			}
			st.seq += uint16(step)
			st.ts += uint32(int32(step) * 960)
			p := &rtp.Packet{Header: rtp.Header{SSRC: ssrc, SequenceNumber: st.seq, Timestamp: st.ts}, Payload: []byte{b}}
			if err := o.forward(p); err != nil {
				t.Fatal(err)
			}
			h := sent[len(sent)-1]
			if cur != uint64(ssrc)+1 {
				// A switch: continues the stream.
				if begun && (h.SequenceNumber != maxSeq+1 || int32(h.Timestamp-maxTS) <= 0) {
					t.Fatalf("source %d starts at %d/%d after newest %d/%d", ssrc, h.SequenceNumber, h.Timestamp, maxSeq, maxTS)
				}
				st.dSeq, st.dTS, st.started = h.SequenceNumber-st.seq, h.Timestamp-st.ts, true
				cur = uint64(ssrc) + 1
			} else if h.SequenceNumber-st.seq != st.dSeq || h.Timestamp-st.ts != st.dTS {
				t.Fatalf("source %d: spacing not kept (%d/%d for %d/%d)", ssrc, h.SequenceNumber, h.Timestamp, st.seq, st.ts)
			}
			if !begun || int16(h.SequenceNumber-maxSeq) > 0 {
				maxSeq = h.SequenceNumber
			}
			if !begun || int32(h.Timestamp-maxTS) > 0 {
				maxTS = h.Timestamp
			}
			begun = true
		}
	})
}

// TestOutboundPause: a prompt after a pause starts later by the time
// that passed, marked as a new talkspurt.
func TestOutboundPause(t *testing.T) {
	var sent []rtp.Header
	o := &outbound{clock: 48000, lastDur: 960, write: func(p *rtp.Packet) error { sent = append(sent, p.Header); return nil }}
	_ = o.local([]byte{1}, 960)
	_ = o.local([]byte{1}, 960)
	time.Sleep(200 * time.Millisecond)
	_ = o.local([]byte{1}, 960)
	if d := sent[1].Timestamp - sent[0].Timestamp; d != 960 {
		t.Fatalf("consecutive packets %d ticks apart", d)
	}
	if d := sent[2].Timestamp - sent[1].Timestamp; d < 48000/5 || !sent[2].Marker {
		t.Fatalf("after 200 ms: %d ticks, marker %v", d, sent[2].Marker)
	}
}
