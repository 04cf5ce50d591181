package webrtc

import (
	"fmt"
	"math"
	"time"

	"github.com/pion/rtp"

	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/g722"
	"github.com/callbrief/callbrief/media/opus"
)

// maxSilenceFill is the longest timestamp gap (discontinuous transmission,
// a DTMF tone replacing audio, a muted microphone) filled with silence to
// keep frame Offsets in call time. A longer jump is a sender restart, not
// elapsed time, and is not filled.
const maxSilenceFill = 5 * time.Second

// audioDecoder decodes one codec's payloads to 16 kHz.
type audioDecoder interface {
	// decode appends the payload's audio to dst.
	decode(dst []int16, payload []byte) ([]int16, error)
	// conceal appends samples samples standing in for a lost packet; next
	// is the payload after it when already received (Opus rebuilds the
	// lost packet from its FEC data), else nil.
	conceal(dst []int16, samples int, next []byte) []int16
	close()
}

type opusDecoder struct {
	d   *opus.Decoder
	buf []int16
}

func newOpusDecoder() (*opusDecoder, error) {
	d, err := opus.NewDecoder(media.Rate16k, 1)
	if err != nil {
		return nil, err
	}
	return &opusDecoder{d: d, buf: make([]int16, opus.MaxFrameSamples(media.Rate16k))}, nil
}

func (o *opusDecoder) decode(dst []int16, payload []byte) ([]int16, error) {
	n, err := o.d.Decode(payload, o.buf)
	if err != nil {
		return dst, err
	}
	return append(dst, o.buf[:n]...), nil
}

func (o *opusDecoder) conceal(dst []int16, samples int, next []byte) []int16 {
	// libopus conceals in multiples of 2.5 ms (40 samples at 16 kHz).
	samples = min(max(samples/40*40, 40), len(o.buf))
	var n int
	var err error
	if next != nil {
		n, err = o.d.DecodeFEC(next, o.buf, samples)
	} else {
		n, err = o.d.Conceal(o.buf, samples)
	}
	if err != nil || n != samples {
		// A corrupt following packet: fall back to silence of the right
		// length so that call time stays exact.
		clear(o.buf[:samples])
	}
	return append(dst, o.buf[:samples]...)
}

func (o *opusDecoder) close() { o.d.Close() }

// g722Decoder decodes G.722, already at 16 kHz.
type g722Decoder struct {
	d   *g722.Decoder
	buf []int16
}

func (g *g722Decoder) decode(dst []int16, payload []byte) ([]int16, error) {
	if len(payload) == 0 {
		return dst, fmt.Errorf("%w: empty G.722 payload", ErrMalformedRTP)
	}
	g.buf = growInt16(g.buf, g722.DecodedLen(len(payload)))
	n, err := g.d.Decode(payload, g.buf)
	if err != nil {
		return dst, err
	}
	return append(dst, g.buf[:n]...), nil
}

func (g *g722Decoder) conceal(dst []int16, samples int, _ []byte) []int16 {
	// The reference decoder has no concealment; silence keeps call time.
	// Its adaptive state stays where the last packet left it.
	return append(dst, make([]int16, samples)...)
}

func (g *g722Decoder) close() { g.d.Close() }

// pcmuDecoder expands G.711 (mu-law, or A-law when alaw) and resamples
// 8 -> 16 kHz.
type pcmuDecoder struct {
	rs   *media.Resampler
	buf  []int16
	alaw bool
}

func newPCMUDecoder() (*pcmuDecoder, error) {
	rs, err := media.NewResampler(media.Rate8k, media.Rate16k)
	if err != nil {
		return nil, err
	}
	return &pcmuDecoder{rs: rs}, nil
}

func (p *pcmuDecoder) decode(dst []int16, payload []byte) ([]int16, error) {
	if len(payload) == 0 {
		return dst, fmt.Errorf("%w: empty G.711 payload", ErrMalformedRTP)
	}
	p.buf = growInt16(p.buf, len(payload))
	if p.alaw {
		media.DecodeALaw(p.buf, payload)
	} else {
		media.DecodeMuLaw(p.buf, payload)
	}
	return p.rs.ProcessInt16(dst, p.buf), nil
}

func (p *pcmuDecoder) conceal(dst []int16, samples int, _ []byte) []int16 {
	// G.711 has no concealment of its own; silence through the resampler
	// keeps its filter state continuous.
	p.buf = growInt16(p.buf, samples/2)
	clear(p.buf)
	return p.rs.ProcessInt16(dst, p.buf)
}

func (p *pcmuDecoder) close() {}

func growInt16(s []int16, n int) []int16 {
	if cap(s) < n {
		return make([]int16, n)
	}
	return s[:n]
}

// rxStats are the receive counters of one call.
type rxStats struct {
	Packets, Bytes, Malformed, UnknownPT, DecodeErrors, Concealed uint64
	Frames                                                        uint64
	SilenceFilled                                                 time.Duration
	jitter                                                        float64 // RFC 3550 estimate, clock ticks
}

// depacketizer is the receive path of one call: RTP packets in, reordered,
// decoded (concealing losses), cut into 20 ms 16 kHz frames and DTMF keys
// out. It is not safe for concurrent use; the call's read loop owns it.
type depacketizer struct {
	audioPT  uint8
	eventPTs map[uint8]bool
	clock    int // audio RTP clock rate
	dec      audioDecoder
	ro       *reorder
	framer   *media.Framer
	dtmf     dtmfDetector
	onFrame  func(media.Frame)
	onKey    func(rune)

	pkt         rtp.Packet
	pcm         []int16
	haveTS      bool
	nextTS      uint32 // expected timestamp of the next audio packet
	lastSamples int    // 16 kHz samples in the last audio packet
	haveTransit bool
	lastTransit float64
	stats       rxStats
}

func newDepacketizer(codec Codec, audioPT uint8, eventPTs []uint8, reorderDepth int,
	onFrame func(media.Frame), onKey func(rune)) (*depacketizer, error) {
	d := &depacketizer{audioPT: audioPT, eventPTs: map[uint8]bool{}, ro: newReorder(reorderDepth),
		onFrame: onFrame, onKey: onKey, lastSamples: media.SamplesPerFrame(media.Rate16k)}
	for _, pt := range eventPTs {
		d.eventPTs[pt] = true
	}
	var err error
	switch codec {
	case CodecOpus:
		d.clock = media.Rate48k
		d.dec, err = newOpusDecoder()
	case CodecG722:
		// RFC 3551: G722's RTP clock is 8000 though it carries 16 kHz
		// audio, so a 20 ms packet of 320 samples advances 160 ticks.
		d.clock = media.Rate8k
		var g *g722.Decoder
		if g, err = g722.NewDecoder(); err == nil {
			d.dec = &g722Decoder{d: g}
		}
	case CodecPCMU, CodecPCMA:
		d.clock = media.Rate8k
		var g *pcmuDecoder
		if g, err = newPCMUDecoder(); err == nil {
			g.alaw = codec == CodecPCMA
			d.dec = g
		}
	default:
		err = fmt.Errorf("%w: %q", ErrUnsupportedCodec, codec)
	}
	if err != nil {
		return nil, err
	}
	if d.framer, err = media.NewFramer(media.Rate16k); err != nil {
		d.dec.close()
		return nil, err
	}
	return d, nil
}

// accept parses one raw RTP packet received at arrival into d.pkt, counts
// it and keeps the jitter estimate. Malformed packets and unknown payload
// types are counted and refused: a hostile or buggy peer must not end the
// call or disturb the audio already flowing.
func (d *depacketizer) accept(raw []byte, arrival time.Time) error {
	if err := d.pkt.Unmarshal(raw); err != nil {
		d.stats.Malformed++
		return fmt.Errorf("%w: %w", ErrMalformedRTP, err)
	}
	h := &d.pkt.Header
	if h.PayloadType != d.audioPT && !d.eventPTs[h.PayloadType] {
		d.stats.UnknownPT++
		return fmt.Errorf("%w: payload type %d not negotiated", ErrMalformedRTP, h.PayloadType)
	}
	d.stats.Packets++
	d.stats.Bytes += uint64(len(raw))
	if h.PayloadType == d.audioPT {
		d.updateJitter(h.Timestamp, arrival)
	}
	return nil
}

// handle takes one raw RTP packet into the reorder buffer and on to the
// decoder.
func (d *depacketizer) handle(raw []byte, arrival time.Time) error {
	if err := d.accept(raw, arrival); err != nil {
		return err
	}
	h := &d.pkt.Header
	d.ro.push(h.SequenceNumber, h.Timestamp, h.PayloadType, d.pkt.Payload, d)
	return nil
}

// forward takes one raw packet during a bridge: counted and timed as
// handle does, then an audio packet goes to fn as it is. Telephone-events
// are not passed on as tones (the other leg may not have negotiated them,
// and a browser does not show received ones): they are read as keys,
// which the bridge reports (BridgeOnKey).
func (d *depacketizer) forward(raw []byte, arrival time.Time, fn func(*rtp.Packet)) error {
	if err := d.accept(raw, arrival); err != nil {
		return err
	}
	switch pt := d.pkt.PayloadType; {
	case d.eventPTs[pt]:
		d.dtmf.packet(d.pkt.Timestamp, d.pkt.Payload, d.key)
	case pt == d.audioPT:
		if k := d.dtmf.audio(); k != 0 {
			d.key(k)
		}
		fn(&d.pkt)
	}
	return nil
}

// restart forgets the stream's position: decoding resumes after a time
// the packets were forwarded instead, with no gap to conceal or fill.
func (d *depacketizer) restart() {
	d.ro.restart()
	d.haveTS = false
}

// updateJitter keeps the RFC 3550 (section 6.4.1) interarrival jitter.
func (d *depacketizer) updateJitter(ts uint32, arrival time.Time) {
	transit := float64(arrival.UnixNano())*float64(d.clock)/1e9 - float64(ts)
	if d.haveTransit {
		dd := math.Abs(transit - d.lastTransit)
		// A timestamp wrap or sender restart makes one absurd sample;
		// ignore it rather than poison the average for seconds.
		if dd < float64(d.clock) {
			d.stats.jitter += (dd - d.stats.jitter) / 16
		}
	}
	d.haveTransit, d.lastTransit = true, transit
}

// flush plays out what the reorder buffer holds: the stream paused for
// longer than the reorder delay.
func (d *depacketizer) flush() { d.ro.flush(d) }

// emit implements sink.
func (d *depacketizer) emit(p *packet) {
	if d.eventPTs[p.pt] {
		d.dtmf.packet(p.ts, p.payload, d.key)
		return
	}
	if k := d.dtmf.audio(); k != 0 {
		d.key(k)
	}
	d.pcm = d.pcm[:0]
	if d.haveTS {
		if gap := int64(int32(p.ts - d.nextTS)); gap > 0 && gap <= int64(maxSilenceFill.Seconds()*float64(d.clock)) {
			n := int(gap * media.Rate16k / int64(d.clock))
			d.pcm = append(d.pcm, make([]int16, n)...)
			d.stats.SilenceFilled += time.Duration(gap) * time.Second / time.Duration(d.clock)
		}
	}
	before := len(d.pcm)
	var err error
	d.pcm, err = d.dec.decode(d.pcm, p.payload)
	if err != nil {
		d.stats.DecodeErrors++
		d.stats.Concealed++
		d.pcm = d.dec.conceal(d.pcm, d.lastSamples, nil)
	}
	if n := len(d.pcm) - before; n > 0 && err == nil {
		d.lastSamples = n
	}
	d.haveTS = true
	d.nextTS = p.ts + uint32(int64(d.lastSamples)*int64(d.clock)/media.Rate16k)
	d.push()
}

// lost implements sink.
func (d *depacketizer) lost(next *packet) {
	d.stats.Concealed++
	var nextPayload []byte
	if next != nil && next.pt == d.audioPT {
		nextPayload = next.payload
	}
	d.pcm = d.dec.conceal(d.pcm[:0], d.lastSamples, nextPayload)
	d.nextTS += uint32(int64(d.lastSamples) * int64(d.clock) / media.Rate16k)
	d.push()
}

func (d *depacketizer) key(k rune) {
	if d.onKey != nil {
		d.onKey(k)
	}
}

func (d *depacketizer) push() {
	for _, f := range d.framer.Push(d.pcm) {
		d.stats.Frames++
		if d.onFrame != nil {
			d.onFrame(f)
		}
	}
}

func (d *depacketizer) close() { d.dec.close() }
