package sip

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/pion/rtp"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/inbox"
	"github.com/callbrief/callbrief/media/webrtc"
)

// Why a SIP call ends. They wrap the WebRTC causes the pipeline already
// knows (the ingress contract is webrtc.Call), so a caller's BYE is a
// hang-up to the pipeline whichever way the call came in.
var (
	ErrHangup    = fmt.Errorf("sip: caller sent BYE: %w", webrtc.ErrHangup)
	ErrCancelled = fmt.Errorf("sip: caller cancelled before the answer: %w", webrtc.ErrHangup)
	ErrNoMedia   = fmt.Errorf("sip: no RTP from the caller: %w", webrtc.ErrPeerGone)
	ErrNoAck     = fmt.Errorf("sip: no ACK for our answer: %w", webrtc.ErrPeerGone)
	ErrClosed    = fmt.Errorf("sip: call closed: %w", webrtc.ErrClosed)
)

// Caller is what the trunk said about who is calling.
type Caller struct {
	Trunk string
	// Number is the caller's number from the trunk's configured header;
	// empty when withheld.
	Number string
	// Header is where Number came from (From, P-Asserted-Identity,
	// Remote-Party-ID).
	Header string
	// Trusted: the trunk vouches for the header (RFC 3325). An
	// untrusted number is the caller's claim; neither verifies anyone.
	Trusted bool
	// Dialled is the number called, Line the hotline line it reaches.
	Dialled string
	Line    call.Language
}

// Call is one telephone call, seen through the same contract as a WebRTC
// call (webrtc.Call): 16 kHz frames and keys in, prompts out.
type Call struct {
	id        string
	caller    Caller
	codec     webrtc.Codec
	log       *slog.Logger
	srv       *Server
	dlg       *sipgo.DialogServerSession
	conn      *net.UDPConn
	signal    netip.Addr // where the SIP came from: RTP from there is the caller's too (NAT)
	transport string     // udp, tcp or tls: our Contact in answers to re-INVITEs

	ctx    context.Context
	cancel context.CancelCauseFunc
	in     *inbox.Inbox // frames and keys for Next
	done   chan struct{}
	wg     sync.WaitGroup
	// wgMu and ending keep a goroutine started after the answer (the
	// session timer) from being added to wg while run waits on it: the
	// answer and the call's end race when the caller hangs up at once.
	wgMu   sync.Mutex
	ending bool
	start  time.Time

	mu       sync.Mutex
	offered  offer          // the last offer taken (re-INVITEs replace it)
	remote   netip.AddrPort // where prompts go
	latched  bool           // remote learned from the caller's own RTP
	held     bool
	rx       webrtc.ReceiveStats
	wrongSrc uint64
	infoKeys uint64
	notify   chan notifyReport // a transfer's reports while one is under way
	// timers carries a renewed session timer (RFC 4028) to the call's
	// session loop; nil when the call has none.
	timers chan sessionTimer

	// speaking
	sem     chan struct{}
	spkMu   sync.Mutex
	stop    context.CancelCauseFunc
	spoken  uint64
	interrs uint64
	sent    uint64
	seq     uint16
	ts      uint32
	ssrc    uint32
	lastOut time.Time
	version atomic.Uint64
	sessID  uint64
	enc     *encoder            // the call's codec; spkMu guards it
	rxr     *webrtc.RTPReceiver // handed to the read loop
	release func()              // the call's place in the server's limit

	// bridged to an agent's leg: its 16 kHz frames resampled to 8 kHz
	bridgeMu sync.Mutex
	down     *media.Resampler
	pending  []int16
}

var _ webrtc.FrameSink = (*Call)(nil)

func (c *Call) ID() string                { return c.id }
func (c *Call) Codec() webrtc.Codec       { return c.codec }
func (c *Call) Frames() *media.FrameQueue { return c.in.Frames() }
func (c *Call) DTMF() <-chan rune         { return c.in.Keys() }
func (c *Call) Done() <-chan struct{}     { return c.done }

// Caller is who is calling, as the trunk said.
func (c *Call) Caller() Caller { return c.caller }

// Held reports whether the caller has put the call on hold.
func (c *Call) Held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

func (c *Call) Err() error {
	if c.ctx.Err() == nil {
		return nil
	}
	return context.Cause(c.ctx)
}

// Next implements webrtc.Call: the call's end, then keys, then audio.
func (c *Call) Next(ctx context.Context) (webrtc.Event, error) { return c.in.Next(ctx, c.ctx) }

// Speak implements webrtc.Call: pcm is resampled to the codec's rate
// (8 kHz for G.711, 16 kHz for G.722 and Opus), encoded and sent one
// 20 ms packet per tick. While the
// caller holds the call the packets are paced but not sent.
func (c *Call) Speak(ctx context.Context, pcm []int16, rate int) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return context.Cause(c.ctx)
	}
	defer func() { <-c.sem }()
	if err := c.Err(); err != nil {
		return err
	}
	pctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	unhook := context.AfterFunc(c.ctx, func() { stop(context.Cause(c.ctx)) })
	defer unhook()
	c.spkMu.Lock()
	c.stop = stop
	c.spkMu.Unlock()
	defer func() {
		c.spkMu.Lock()
		c.stop = nil
		c.spkMu.Unlock()
	}()
	// The codec's own rate: 8 kHz for G.711, 16 kHz for G.722 and Opus.
	want := codecs[c.codec].rate
	pcmR := pcm
	if rate != want {
		var err error
		if pcmR, err = media.ResampleInt16(pcm, rate, want); err != nil {
			return fmt.Errorf("sip: prompt at %d Hz: %w", rate, err)
		}
	}
	size := media.SamplesPerFrame(want)
	frame := make([]int16, size)
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	first := true
	for i := 0; i*size < len(pcmR); i++ {
		n := copy(frame, pcmR[i*size:])
		clear(frame[n:])
		if err := c.sendPCM(frame, first); err != nil {
			return err
		}
		first = false
		select {
		case <-pctx.Done():
			return context.Cause(pctx)
		case <-tick.C:
		}
	}
	return nil
}

// sendPCM encodes one 20 ms packet of ours (at the codec's rate) and
// sends it; marker starts a talkspurt.
func (c *Call) sendPCM(frame []int16, marker bool) error {
	c.mu.Lock()
	to, held, pt := c.remote, c.held, c.offered.pt
	c.mu.Unlock()
	c.spkMu.Lock()
	defer c.spkMu.Unlock()
	// Encoded even on hold: G.722's and Opus's state follows the stream.
	payload, err := c.enc.encode(frame)
	if err != nil {
		return fmt.Errorf("sip: %s: %w", c.codec, err)
	}
	now := time.Now()
	ticks := c.enc.ticks()
	// The timestamp follows wall time across pauses between prompts, so
	// the caller's jitter buffer sees one stream, never a jump back.
	if gap := now.Sub(c.lastOut); !c.lastOut.IsZero() && gap > 40*time.Millisecond {
		c.ts += uint32(gap.Seconds()*float64(c.enc.info.clock)) - ticks
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: c.seq, Timestamp: c.ts, SSRC: c.ssrc}, Payload: payload}
	c.seq++
	c.ts += ticks
	c.lastOut = now
	c.spoken++
	if held || !to.IsValid() {
		return nil
	}
	raw, err := p.Marshal()
	if err != nil {
		return fmt.Errorf("sip: rtp: %w", err)
	}
	if _, err := c.conn.WriteToUDPAddrPort(raw, to); err != nil {
		return fmt.Errorf("sip: rtp send: %w", err)
	}
	c.sent++
	return nil
}

// SendFrame implements webrtc.FrameSink: one 20 ms frame of 16 kHz
// audio from the other leg of a bridge (the agent), sent now as one
// packet of the call's codec (resampled to 8 kHz for G.711). The other
// leg paces the frames.
func (c *Call) SendFrame(f media.Frame) error {
	if err := c.Err(); err != nil {
		return err
	}
	c.bridgeMu.Lock()
	defer c.bridgeMu.Unlock()
	rate := codecs[c.codec].rate
	if rate == media.Rate16k {
		c.pending = append(c.pending, f.Samples...)
	} else {
		if c.down == nil {
			rs, err := media.NewResampler(media.Rate16k, rate)
			if err != nil {
				return fmt.Errorf("sip: bridge: %w", err)
			}
			c.down = rs
		}
		c.pending = c.down.ProcessInt16(c.pending, f.Samples)
	}
	size := media.SamplesPerFrame(rate)
	for len(c.pending) >= size {
		// A talkspurt starts after a pause in the other leg's frames.
		c.spkMu.Lock()
		marker := c.lastOut.IsZero() || time.Since(c.lastOut) > 60*time.Millisecond
		c.spkMu.Unlock()
		if err := c.sendPCM(c.pending[:size], marker); err != nil {
			return err
		}
		c.pending = c.pending[:copy(c.pending, c.pending[size:])]
	}
	return nil
}

// Ended implements webrtc.FrameSink: closed as soon as the call ends.
func (c *Call) Ended() <-chan struct{} { return c.ctx.Done() }

// Interrupt implements webrtc.Call (barge-in).
func (c *Call) Interrupt() {
	c.spkMu.Lock()
	defer c.spkMu.Unlock()
	if c.stop != nil {
		c.interrs++
		c.stop(webrtc.ErrInterrupted)
	}
}

// Stats implements webrtc.Call.
func (c *Call) Stats() webrtc.Stats {
	c.mu.Lock()
	rx, wrong := c.rx, c.wrongSrc
	c.mu.Unlock()
	c.spkMu.Lock()
	spoken, interrs, sent := c.spoken, c.interrs, c.sent
	c.spkMu.Unlock()
	keys, keysDropped := c.in.KeyCounts()
	return webrtc.Stats{Codec: c.codec, Connected: true, PacketsReceived: rx.Packets, BytesReceived: rx.Bytes,
		PacketsLost: rx.Lost, PacketsLate: rx.Late, Duplicates: rx.Duplicates,
		Malformed: rx.Malformed + rx.UnknownPT + rx.DecodeErrors + wrong, Concealed: rx.Concealed, Frames: rx.Frames,
		FramesDropped: c.in.Frames().Dropped(), SilenceFilled: rx.SilenceFilled, Jitter: rx.Jitter,
		Keys: keys, KeysDropped: keysDropped, SpokenFrames: spoken, Interrupted: interrs, PacketsSent: sent}
}

// WrongSource is the number of RTP packets dropped because they came from
// neither the caller's SDP address nor its signalling address, or from
// another port once the stream latched.
func (c *Call) WrongSource() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrongSrc
}

// Close ends the call: a BYE to the caller unless they already left.
func (c *Call) Close() error {
	c.cancel(ErrClosed)
	<-c.done
	return nil
}

// run supervises the call until it ends, then frees everything in order.
func (c *Call) run() {
	<-c.ctx.Done()
	cause := context.Cause(c.ctx)
	if !errors.Is(cause, webrtc.ErrHangup) && c.dlg != nil {
		bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.dlg.Bye(bctx); err != nil {
			c.log.Debug("BYE not answered", "err", err)
		}
		cancel()
	}
	if c.dlg != nil {
		c.dlg.Close()
	}
	_ = c.conn.Close() // ends the read loop
	c.wgMu.Lock()
	c.ending = true
	c.wgMu.Unlock()
	c.wg.Wait()
	c.sem <- struct{}{} // the prompt in progress has stopped; none after
	c.spkMu.Lock()
	if c.enc != nil {
		c.enc.close() // a bridge's SendFrame racing the end gets an error
	}
	c.spkMu.Unlock()
	c.in.Close()
	c.srv.forget(c)
	if c.release != nil {
		c.release()
	}
	st := c.Stats()
	c.log.Info("sip call ended", "cause", cause, "duration", time.Since(c.start).Round(time.Millisecond), "codec", c.codec,
		"frames", st.Frames, "lost", st.PacketsLost, "late", st.PacketsLate, "malformed", st.Malformed,
		"jitter", st.Jitter, "keys", st.Keys, "wrong_source", c.WrongSource())
	close(c.done)
}

// goTracked runs f in a goroutine run waits for, unless the call is
// already ending (then f does not run and it reports false).
func (c *Call) goTracked(f func()) bool {
	c.wgMu.Lock()
	defer c.wgMu.Unlock()
	if c.ending {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// readLoop takes the caller's RTP until the socket closes. Packets from an
// address that is not the caller's are dropped and counted; the first
// packet from the caller fixes where prompts go (symmetric RTP).
func (c *Call) readLoop(rx *webrtc.RTPReceiver, reorderDelay, mediaTimeout time.Duration) {
	defer c.wg.Done()
	defer rx.Close()
	buf := make([]byte, 1500)
	last := time.Now()
	for {
		wait := mediaTimeout
		if rx.Waiting() {
			wait = reorderDelay
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(wait))
		n, from, err := c.conn.ReadFromUDPAddrPort(buf)
		now := time.Now()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.mu.Lock()
			rx.Flush()
			c.rx = rx.Stats()
			held := c.held
			c.mu.Unlock()
			// A caller on hold may send nothing; otherwise silence this
			// long means the caller is gone without a BYE.
			if !held && now.Sub(last) >= mediaTimeout {
				c.cancel(ErrNoMedia)
				return
			}
			continue
		}
		if err != nil {
			return
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		c.mu.Lock()
		if !c.fromCaller(from) {
			c.wrongSrc++
			c.mu.Unlock()
			c.srv.count(&c.srv.counters.RTPWrongSource)
			continue
		}
		last = now
		if err := rx.Handle(buf[:n], now); err != nil {
			c.log.Debug("rtp skipped", "err", err)
		}
		c.rx = rx.Stats()
		c.mu.Unlock()
	}
}

// fromCaller decides whether a packet from addr is the caller's, and
// latches the stream to it; c.mu is held.
func (c *Call) fromCaller(addr netip.AddrPort) bool {
	if c.latched {
		return addr == c.remote
	}
	if addr.Addr() != c.offered.addr.Addr() && addr.Addr() != c.signal {
		return false
	}
	if addr != c.remote {
		c.log.Info("rtp latched", "sdp", c.offered.addr, "from", addr)
	}
	c.remote, c.latched = addr, true
	return true
}

// reoffer applies a re-INVITE's offer (hold, unhold, a new address).
func (c *Call) reoffer(o offer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	wasHeld := c.held
	c.held = o.held()
	if !o.addr.Addr().IsUnspecified() && o.addr.Addr() != c.offered.addr.Addr() {
		// The caller moved its media: latch again.
		c.latched = false
		c.remote = o.addr
	}
	o.codec, o.pt = c.offered.codec, c.offered.pt
	c.offered = o
	if wasHeld != c.held {
		c.log.Info("hold", "held", c.held)
	}
}

// infoKey takes a key sent as SIP INFO (application/dtmf-relay).
func (c *Call) infoKey(k rune) {
	c.mu.Lock()
	c.infoKeys++
	c.mu.Unlock()
	c.in.PushKey(k)
}

func randomSSRC() (uint32, uint16, uint32) {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:4]), binary.BigEndian.Uint16(b[4:6]), binary.BigEndian.Uint32(b[6:])
}
