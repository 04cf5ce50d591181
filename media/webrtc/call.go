package webrtc

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/inbox"
)

// Call is one caller connected over WebRTC, as the pipeline sees it.
//
// Audio arrives as 16 kHz, 20 ms frames whose Offsets are call time (losses
// are concealed and pauses filled, so Offset is always time since the
// caller's first packet). Keys pressed arrive as DTMF runes. Next merges
// both with control first, as the pipeline should consume them.
type Call interface {
	// ID names the call in URLs and logs.
	ID() string
	// Codec is the negotiated audio codec.
	Codec() Codec
	// Next returns the next event: the end of the call (as an error),
	// then a key press, then audio, in that priority, so that hang-up and
	// DTMF are never stuck behind queued audio. It waits until one is
	// available or ctx is done. After the call ends it returns Err().
	Next(ctx context.Context) (Event, error)
	// Frames is the bounded queue the audio goes through (drop oldest,
	// counted); use it directly when keys do not matter. It is closed when
	// the call ends.
	Frames() *media.FrameQueue
	// DTMF delivers key presses ('0'-'9', '*', '#', 'A'-'D') once each, in
	// order. It is closed when the call ends.
	DTMF() <-chan rune
	// Speak plays pcm (mono, at rate Hz) to the caller in real time and
	// returns when it has all been sent, or early with the cause when ctx
	// is done, Interrupt is called (ErrInterrupted) or the call ends.
	// Prompts do not overlap: a second Speak waits for the first.
	Speak(ctx context.Context, pcm []int16, rate int) error
	// Interrupt stops the prompt being spoken, if any, within one 20 ms
	// frame: barge-in when the caller starts talking.
	Interrupt()
	// Done is closed when the call has ended and its resources are freed.
	Done() <-chan struct{}
	// Err is nil while the call is up, then why it ended: ErrHangup,
	// ErrICETimeout, ErrPeerGone or ErrClosed.
	Err() error
	// Stats is a snapshot of the call's counters.
	Stats() Stats
	// Close ends the call (cause ErrClosed unless it had already ended)
	// and waits until its goroutines have stopped.
	Close() error
}

// EventKind tells the events of Next apart (every ingress shares them:
// package inbox).
type EventKind = inbox.Kind

const (
	EventAudio = inbox.Audio
	EventDTMF  = inbox.Key
)

// Event is one item from Call.Next.
type Event = inbox.Event

// Stats are the counters of one call.
type Stats struct {
	Codec           Codec
	Connected       bool
	PacketsReceived uint64
	BytesReceived   uint64
	PacketsLost     uint64 // declared lost after the reorder window (concealed)
	PacketsLate     uint64 // arrived after their slot was played (dropped)
	Duplicates      uint64
	Malformed       uint64 // not RTP, an unnegotiated payload type, or undecodable
	Concealed       uint64 // packets synthesised by PLC/FEC or silence
	Frames          uint64 // 20 ms frames produced
	FramesDropped   uint64 // pushed out of the queue because the consumer lagged
	SilenceFilled   time.Duration
	Jitter          time.Duration // RFC 3550 interarrival jitter
	Keys            uint64
	KeysDropped     uint64
	SpokenFrames    uint64
	Interrupted     uint64
	PacketsSent     uint64 // prompts and forwarded packets
	Forwarded       uint64 // packets of a bridged leg sent on unchanged
}

// ErrInterrupted is the cause a prompt stops with when Interrupt is called.
var ErrInterrupted = errors.New("webrtc: prompt interrupted")

// peerCall implements Call on a pion PeerConnection.
type peerCall struct {
	id string
	// secret makes the call's resource URL (Location) a capability: the
	// call id alone is seen by agents, logs and briefs, and must not let
	// anyone hang the caller up or read their captions.
	secret  string
	leg     string // the call this one joined (a bridge leg), else empty
	codec   Codec
	log     *slog.Logger
	cfg     *Config
	pc      *webrtc.PeerConnection
	ctx     context.Context // done when the call ends
	cancel  context.CancelCauseFunc
	in      *inbox.Inbox // frames and keys for Next
	out     *outbound
	spk     *speaker
	done    chan struct{}
	onEnd   func() // the server's bookkeeping
	started time.Time

	connected     chan struct{}
	connectedOnce sync.Once

	mu      sync.Mutex // guards the fields below and rx stats
	closing bool
	reading bool
	wg      sync.WaitGroup // goroutines reading the peer
	rx      rxStats
	tap     func(*rtp.Packet) // when set, audio is forwarded instead of decoded
	tapped  bool              // the last packet went to tap
	ro      reorder           // copy of the counters only
}

func (c *peerCall) ID() string                { return c.id }
func (c *peerCall) Codec() Codec              { return c.codec }
func (c *peerCall) Frames() *media.FrameQueue { return c.in.Frames() }
func (c *peerCall) DTMF() <-chan rune         { return c.in.Keys() }
func (c *peerCall) Done() <-chan struct{}     { return c.done }

func (c *peerCall) Err() error {
	if c.ctx.Err() == nil {
		return nil
	}
	return context.Cause(c.ctx)
}

func (c *peerCall) Next(ctx context.Context) (Event, error) { return c.in.Next(ctx, c.ctx) }

func (c *peerCall) Speak(ctx context.Context, pcm []int16, rate int) error {
	return c.spk.speak(ctx, c.ctx, c.connected, pcm, rate)
}

func (c *peerCall) Interrupt() { c.spk.interrupt() }

func (c *peerCall) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{
		Codec:           c.codec,
		PacketsReceived: c.rx.Packets,
		BytesReceived:   c.rx.Bytes,
		PacketsLost:     c.ro.Lost,
		PacketsLate:     c.ro.Late,
		Duplicates:      c.ro.Duplicate,
		Malformed:       c.rx.Malformed + c.rx.UnknownPT + c.rx.DecodeErrors,
		Concealed:       c.rx.Concealed,
		Frames:          c.rx.Frames,
		FramesDropped:   c.in.Frames().Dropped(),
		SilenceFilled:   c.rx.SilenceFilled,
	}
	s.Keys, s.KeysDropped = c.in.KeyCounts()
	if clock := c.clock(); clock > 0 {
		s.Jitter = time.Duration(c.rx.jitter * float64(time.Second) / float64(clock))
	}
	select {
	case <-c.connected:
		s.Connected = true
	default:
	}
	s.SpokenFrames, s.Interrupted = c.spk.counts()
	s.PacketsSent, s.Forwarded = c.out.counts()
	return s
}

func (c *peerCall) clock() int {
	if c.codec == CodecPCMU {
		return media.Rate8k
	}
	return media.Rate48k
}

func (c *peerCall) Close() error {
	c.cancel(ErrClosed)
	<-c.done
	return nil
}

// run supervises the call: it ends it if ICE does not complete in time,
// then, once the call ends for any reason, frees everything in order.
func (c *peerCall) run() {
	t := time.NewTimer(c.cfg.ICETimeout)
	select {
	case <-c.connected:
	case <-t.C:
		c.cancel(ErrICETimeout)
	case <-c.ctx.Done():
	}
	t.Stop()
	<-c.ctx.Done()
	c.teardown()
}

func (c *peerCall) teardown() {
	cause := context.Cause(c.ctx)
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	// Closing the peer connection ends the read loops (their reads return
	// EOF) and pion's own goroutines.
	if err := c.pc.Close(); err != nil {
		c.log.Warn("peer connection close", "err", err)
	}
	c.wg.Wait()
	c.spk.close()
	c.in.Close()
	if c.onEnd != nil {
		c.onEnd()
	}
	st := c.Stats()
	c.log.Info("call ended", "cause", cause, "duration", time.Since(c.started).Round(time.Millisecond),
		"codec", st.Codec, "frames", st.Frames, "frames_dropped", st.FramesDropped, "lost", st.PacketsLost,
		"late", st.PacketsLate, "malformed", st.Malformed, "jitter", st.Jitter, "keys", st.Keys)
	close(c.done)
}

// onTrack starts the read loop of the caller's audio track.
func (c *peerCall) onTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	c.mu.Lock()
	if c.closing || c.reading || track.Kind() != webrtc.RTPCodecTypeAudio {
		c.mu.Unlock()
		c.log.Warn("ignoring extra or non-audio track", "kind", track.Kind().String())
		return
	}
	c.reading = true
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		c.readLoop(track, recv)
	}()
}

// readLoop feeds the track's packets to a depacketizer until the track
// ends. It holds a read deadline while the reorder buffer waits for a
// missing packet, so a stalled stream still plays out what it has.
func (c *peerCall) readLoop(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	var eventPTs []uint8
	for _, p := range recv.GetParameters().Codecs {
		if p.MimeType == mimeTelephoneEvent {
			eventPTs = append(eventPTs, uint8(p.PayloadType))
		}
	}
	d, err := newDepacketizer(c.codec, uint8(track.PayloadType()), eventPTs, c.cfg.ReorderPackets, c.in.PushFrame, c.in.PushKey)
	if err != nil {
		c.log.Error("decoder", "err", err)
		c.cancel(err)
		return
	}
	defer d.close()
	c.log.Info("audio track", "codec", track.Codec().MimeType, "payload_type", track.PayloadType(), "dtmf_payload_types", eventPTs)
	buf := make([]byte, 1500)
	deadline := false
	for {
		if waiting := d.ro.held > 0; waiting != deadline {
			deadline = waiting
			var at time.Time
			if waiting {
				at = time.Now().Add(c.cfg.ReorderDelay)
			}
			_ = track.SetReadDeadline(at)
		}
		n, _, err := track.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.mu.Lock()
			d.flush()
			c.snapshot(d)
			c.mu.Unlock()
			continue
		}
		if n == 0 && err != nil {
			return // the track ended: peer gone or call closed
		}
		// An unknown payload type comes with an error and the packet;
		// handle counts it.
		c.mu.Lock()
		var herr error
		switch {
		case c.tap != nil:
			herr = d.forward(buf[:n], time.Now(), c.tap)
			c.tapped = true
		case c.tapped:
			// Back from a bridge: the stream moved on while it was
			// forwarded, so decoding starts afresh rather than
			// concealing the whole bridge as loss.
			d.restart()
			c.tapped = false
			fallthrough
		default:
			herr = d.handle(buf[:n], time.Now())
		}
		if herr != nil {
			c.log.Debug("rtp skipped", "err", herr)
		}
		c.snapshot(d)
		c.mu.Unlock()
	}
}

// setTap sends the call's incoming audio packets to fn, undecoded,
// until it is set to nil. When it returns, no earlier fn is running: the
// read loop calls it with mu held.
func (c *peerCall) setTap(fn func(*rtp.Packet)) {
	c.mu.Lock()
	c.tap = fn
	c.mu.Unlock()
}

// snapshot copies the depacketizer's counters for Stats; c.mu is held.
func (c *peerCall) snapshot(d *depacketizer) {
	c.rx = d.stats
	c.rx.Malformed += d.dtmf.Malformed
	c.ro.Lost, c.ro.Late, c.ro.Duplicate = d.ro.Lost, d.ro.Late, d.ro.Duplicate
}
