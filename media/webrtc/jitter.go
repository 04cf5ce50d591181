package webrtc

// reorderRing is the number of slots of the reorder buffer; it bounds how
// far ahead of the next expected packet one may arrive and still be held.
const reorderRing = 64

// packet is one RTP packet held by the reorder buffer. Its payload is a
// copy owned by the slot, reused for later packets.
type packet struct {
	seq     uint16
	ts      uint32
	pt      uint8
	payload []byte
}

// reorder puts RTP packets back in sequence order. A missing packet is
// waited for until depth later packets have arrived (or the owner flushes
// on a timer); then it is declared lost so that the decoder can conceal it
// with the following packet at hand for FEC. Packets older than the next
// expected one arrive too late to play and are dropped.
//
// Depth trades delay for loss: each packet of depth adds one packet time
// (20 ms) of latency only while there is a gap to wait for.
type reorder struct {
	depth   int
	started bool
	next    uint16 // sequence number to emit next
	held    int
	slots   [reorderRing]struct {
		full bool
		p    packet
	}

	Late, Duplicate, Lost, Resyncs uint64
}

// sink receives the reorder buffer's output in sequence order: a packet,
// or a loss with the packet following it when that one is already held.
type sink interface {
	emit(p *packet)
	lost(next *packet)
}

func newReorder(depth int) *reorder {
	return &reorder{depth: min(max(depth, 0), reorderRing/2)}
}

// push adds a packet; payload is copied.
func (r *reorder) push(seq uint16, ts uint32, pt uint8, payload []byte, out sink) {
	if !r.started {
		r.started, r.next = true, seq
	}
	diff := int16(seq - r.next)
	switch {
	case diff < 0 && diff > -reorderRing:
		r.Late++
		return
	case diff < 0 || int(diff) >= reorderRing-1:
		// A jump too far either way: the sender restarted its sequence
		// or lost more than a second. Play what is held and follow it.
		r.flush(out)
		r.Resyncs++
		r.next = seq
		diff = 0
	}
	s := &r.slots[seq%reorderRing]
	if s.full {
		r.Duplicate++
		return
	}
	s.full = true
	s.p.seq, s.p.ts, s.p.pt = seq, ts, pt
	s.p.payload = append(s.p.payload[:0], payload...)
	r.held++
	r.drain(out, r.depth)
}

// restart empties the buffer without emitting, keeping the counters: the
// next packet starts the sequence again.
func (r *reorder) restart() {
	for i := range r.slots {
		r.slots[i].full = false
	}
	r.held, r.started = 0, false
}

// flush emits everything held, declaring the gaps lost: the stream paused
// longer than the reorder delay.
func (r *reorder) flush(out sink) { r.drain(out, 0) }

// drain emits packets in order while the next one is held, and declares the
// next one lost while more than keep packets wait behind it.
func (r *reorder) drain(out sink, keep int) {
	for r.held > 0 {
		s := &r.slots[r.next%reorderRing]
		if s.full {
			s.full = false
			r.held--
			out.emit(&s.p)
			r.next++
			continue
		}
		if r.held <= keep {
			return
		}
		r.Lost++
		var follow *packet
		if n := &r.slots[(r.next+1)%reorderRing]; n.full && n.p.seq == r.next+1 {
			follow = &n.p
		}
		out.lost(follow)
		r.next++
	}
}
