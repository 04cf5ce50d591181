package webrtc

import (
	"encoding/binary"
	"fmt"
)

// TelephoneEvent is one RFC 4733 telephone-event payload block.
type TelephoneEvent struct {
	Event    uint8  // 0-9, 10 '*', 11 '#', 12-15 'A'-'D', 16 flash
	End      bool   // the E bit: last packets of the event
	Volume   uint8  // power level, -dBm0 (0..63)
	Duration uint16 // in RTP clock ticks since the event's timestamp
}

// ParseTelephoneEvent reads the first 4-byte block of a telephone-event
// payload (further blocks are RFC 2198 redundancy we do not need).
func ParseTelephoneEvent(p []byte) (TelephoneEvent, error) {
	if len(p) < 4 {
		return TelephoneEvent{}, fmt.Errorf("%w: %d bytes, need 4", ErrMalformedEvent, len(p))
	}
	return TelephoneEvent{
		Event:    p[0],
		End:      p[1]&0x80 != 0,
		Volume:   p[1] & 0x3f,
		Duration: binary.BigEndian.Uint16(p[2:4]),
	}, nil
}

// Digit is the keypad character of the event, or 0 when it is not a DTMF
// key (flash and the other RFC 4733 tones are ignored).
func (e TelephoneEvent) Digit() rune {
	switch {
	case e.Event <= 9:
		return rune('0' + e.Event)
	case e.Event == 10:
		return '*'
	case e.Event == 11:
		return '#'
	case e.Event <= 15:
		return rune('A' + e.Event - 12)
	}
	return 0
}

// dtmfDetector turns a stream of telephone-event packets into key presses.
// An event is sent as many packets sharing one RTP timestamp, the last
// three (retransmitted for robustness) with the E bit set, so the key is
// reported once per timestamp: at the first end packet, or, if every end
// packet was lost, when a different event or audio shows that it ended.
type dtmfDetector struct {
	pending    bool
	pendingTS  uint32
	pendingKey rune
	reported   bool
	reportedTS uint32
	Duplicates uint64 // end packets of an event already reported
	NotDigits  uint64 // events that are not keys
	Malformed  uint64
}

// packet handles one telephone-event payload with RTP timestamp ts and
// calls emit for each key it completes (at most two: one whose end packets
// were lost, and this one).
func (d *dtmfDetector) packet(ts uint32, payload []byte, emit func(rune)) {
	ev, err := ParseTelephoneEvent(payload)
	if err != nil {
		d.Malformed++
		return
	}
	if d.reported && ts == d.reportedTS {
		d.Duplicates++
		return
	}
	if d.pending && ts != d.pendingTS {
		emit(d.finish()) // its end packets were lost
	}
	key := ev.Digit()
	if key == 0 {
		d.NotDigits++
		return
	}
	d.pending, d.pendingTS, d.pendingKey = true, ts, key
	if ev.End {
		emit(d.finish())
	}
}

// audio reports a pending key whose end packets never came, once audio
// resumes after it.
func (d *dtmfDetector) audio() rune {
	if d.pending {
		return d.finish()
	}
	return 0
}

func (d *dtmfDetector) finish() rune {
	d.pending = false
	d.reported, d.reportedTS = true, d.pendingTS
	return d.pendingKey
}
