package webrtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/callbrief/callbrief/media"
)

// Bridge modes.
const (
	// BridgeForward passes packets on as they came: both legs have the
	// same codec, so nothing is decoded or re-encoded and the delay added
	// is one hop through the server.
	BridgeForward = "forward"
	// BridgeTranscode decodes each leg to 16 kHz and encodes it for the
	// other (Opus on one side, PCMU on the other).
	BridgeTranscode = "transcode"
)

// BridgeStats describes a bridge once it ends.
type BridgeStats struct {
	Mode     string
	AToB     uint64 // packets (forward) or frames (transcode) from a to b
	BToA     uint64
	Duration time.Duration
}

// ErrNotBridgeable means a call given to Bridge was not made by a Server
// of this package.
var ErrNotBridgeable = errors.New("webrtc: call cannot be bridged")

// BridgeOption configures a Bridge.
type BridgeOption func(*bridgeOptions)

type bridgeOptions struct {
	onKey func(from Call, key rune)
}

// BridgeOnKey reports the keys pressed on either leg while bridged (the
// caller keying in an order number the agent asked for), from the
// bridge's own goroutines. Without it they are discarded.
func BridgeOnKey(fn func(from Call, key rune)) BridgeOption {
	return func(o *bridgeOptions) { o.onKey = fn }
}

// Bridge lets two calls hear each other through the server until ctx is
// done or either call ends, and returns the call that ended (nil when ctx
// ended the bridge; the calls are then still up, to be bridged again or
// closed). Neither call should be read (Next, Frames) or spoken on while
// bridged: the bridge takes their audio and keys.
func Bridge(ctx context.Context, a, b Call, opts ...BridgeOption) (Call, BridgeStats, error) {
	var o bridgeOptions
	for _, opt := range opts {
		opt(&o)
	}
	pa, okA := a.(*peerCall)
	pb, okB := b.(*peerCall)
	if !okA || !okB {
		return bridgeFrames(ctx, a, b, o)
	}
	if pa == pb {
		return nil, BridgeStats{}, fmt.Errorf("%w: a call cannot be bridged to itself", ErrNotBridgeable)
	}
	start := time.Now()
	// A prompt in progress would interleave with the other leg's voice.
	a.Interrupt()
	b.Interrupt()
	st := BridgeStats{Mode: BridgeForward}
	var ab, ba atomic.Uint64
	bctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if pa.codec == pb.codec {
		pa.setTap(forwardTo(pb, &ab))
		pb.setTap(forwardTo(pa, &ba))
	} else {
		st.Mode = BridgeTranscode
		for _, d := range []struct {
			from, to *peerCall
			n        *atomic.Uint64
		}{{pa, pb, &ab}, {pb, pa, &ba}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := transcode(bctx, d.from.Frames(), d.to, d.n); err != nil && bctx.Err() == nil {
					d.from.log.Warn("bridge: transcoding stopped", "err", err)
				}
			}()
		}
	}
	for _, p := range []*peerCall{pa, pb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys(bctx, p, o.onKey)
		}()
	}
	pa.log.Info("bridged", "leg", pb.id, "mode", st.Mode, "codec_a", pa.codec, "codec_b", pb.codec)
	var ended Call
	select {
	case <-ctx.Done():
	case <-pa.done:
		ended = a
	case <-pa.ctx.Done():
		ended = a
	case <-pb.done:
		ended = b
	case <-pb.ctx.Done():
		ended = b
	}
	pa.setTap(nil)
	pb.setTap(nil)
	cancel()
	wg.Wait()
	// Keys that came as the bridge ended belong to it, not to whatever
	// reads the call next.
	for _, p := range []*peerCall{pa, pb} {
		drainKeys(p, o.onKey)
	}
	st.AToB, st.BToA, st.Duration = ab.Load(), ba.Load(), time.Since(start)
	return ended, st, nil
}

// keys passes p's keys to fn (nil: drops them) until ctx is done or the
// call ends.
func keys(ctx context.Context, p Call, fn func(Call, rune)) {
	ch := p.DTMF()
	for {
		select {
		case <-ctx.Done():
			return
		case k, ok := <-ch:
			if !ok {
				return
			}
			if fn != nil {
				fn(p, k)
			}
		}
	}
}

// drainKeys passes the keys p holds now to fn, without waiting.
func drainKeys(p Call, fn func(Call, rune)) {
	ch := p.DTMF()
	for {
		select {
		case k, ok := <-ch:
			if !ok {
				return
			}
			if fn != nil {
				fn(p, k)
			}
		default:
			return
		}
	}
}

// forwardTo returns the tap that sends a leg's packets out on to's
// stream; it runs on the sending leg's read loop.
func forwardTo(to *peerCall, n *atomic.Uint64) func(*rtp.Packet) {
	return func(p *rtp.Packet) {
		if err := to.out.forward(p); err != nil {
			to.log.Debug("bridge: forward", "err", err)
			return
		}
		n.Add(1)
	}
}

// transcode encodes the decoded frames of from (a leg's queue) for to's
// codec until ctx is done or either call ends. Frames are sent as they
// arrive: the sending leg's read loop paces them in real time.
func transcode(ctx context.Context, from *media.FrameQueue, to *peerCall, n *atomic.Uint64) error {
	enc, err := newFrameEncoder(to.codec)
	if err != nil {
		return err
	}
	defer enc.close()
	var rs *media.Resampler
	if enc.rate() != media.Rate16k {
		if rs, err = media.NewResampler(media.Rate16k, enc.rate()); err != nil {
			return err
		}
	}
	size := enc.samples()
	ticks := uint32(to.out.clock / 50)
	var pending []int16
	out := make([]byte, 4000)
	for {
		f, err := from.Pop(ctx)
		if err != nil {
			return err
		}
		if rs != nil {
			pending = rs.ProcessInt16(pending, f.Samples)
		} else {
			pending = append(pending, f.Samples...)
		}
		for len(pending) >= size {
			payload, err := enc.encode(pending[:size], out)
			if err != nil {
				return err
			}
			pending = pending[:copy(pending, pending[size:])]
			if err := to.out.local(payload, ticks); err != nil {
				return err
			}
			n.Add(1)
		}
	}
}

// FrameSink is a call not made by this package that Bridge can still
// join to one of ours: a telephone call over SIP. Bridge takes its
// audio from Frames and its keys from DTMF, and gives it the other leg's
// audio frame by frame.
type FrameSink interface {
	Call
	// SendFrame sends one 20 ms frame of 16 kHz audio to the far end
	// now, encoded for the call; the sending leg paces the frames.
	SendFrame(f media.Frame) error
	// Ended is closed as soon as the call ends (before Done, which waits
	// for its resources to be freed).
	Ended() <-chan struct{}
}

// BridgeModeOf is the mode Bridge takes for a and b.
func BridgeModeOf(a, b Call) string {
	pa, okA := a.(*peerCall)
	pb, okB := b.(*peerCall)
	if okA && okB && pa.codec == pb.codec {
		return BridgeForward
	}
	return BridgeTranscode
}

// sendTo returns how frames reach c: encoded for a call of ours, or
// through a FrameSink's SendFrame.
func sendTo(c Call) (func(ctx context.Context, from *media.FrameQueue, n *atomic.Uint64) error, <-chan struct{}, error) {
	switch v := c.(type) {
	case *peerCall:
		return func(ctx context.Context, from *media.FrameQueue, n *atomic.Uint64) error {
			return transcode(ctx, from, v, n)
		}, v.ctx.Done(), nil
	case FrameSink:
		return func(ctx context.Context, from *media.FrameQueue, n *atomic.Uint64) error {
			for {
				f, err := from.Pop(ctx)
				if err != nil {
					return err
				}
				if err := v.SendFrame(f); err != nil {
					return err
				}
				n.Add(1)
			}
		}, v.Ended(), nil
	}
	return nil, nil, fmt.Errorf("%w: %T is neither a call of this package nor a FrameSink", ErrNotBridgeable, c)
}

// bridgeFrames bridges two calls of which at least one is a FrameSink
// (a SIP caller and the agent's WebRTC leg): each leg's decoded 16 kHz
// frames are sent to the other as they arrive, re-encoded for it.
func bridgeFrames(ctx context.Context, a, b Call, o bridgeOptions) (Call, BridgeStats, error) {
	if a == b || a.ID() == b.ID() {
		return nil, BridgeStats{}, fmt.Errorf("%w: a call cannot be bridged to itself", ErrNotBridgeable)
	}
	toA, endA, err := sendTo(a)
	if err != nil {
		return nil, BridgeStats{}, err
	}
	toB, endB, err := sendTo(b)
	if err != nil {
		return nil, BridgeStats{}, err
	}
	start := time.Now()
	a.Interrupt()
	b.Interrupt()
	st := BridgeStats{Mode: BridgeTranscode}
	var ab, ba atomic.Uint64
	bctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, d := range []struct {
		from Call
		send func(context.Context, *media.FrameQueue, *atomic.Uint64) error
		n    *atomic.Uint64
	}{{a, toB, &ab}, {b, toA, &ba}} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := d.send(bctx, d.from.Frames(), d.n); err != nil && bctx.Err() == nil {
				slog.Debug("bridge: a direction stopped", "call_id", d.from.ID(), "err", err)
			}
		}()
		go func() {
			defer wg.Done()
			keys(bctx, d.from, o.onKey)
		}()
	}
	var ended Call
	select {
	case <-ctx.Done():
	case <-endA:
		ended = a
	case <-a.Done():
		ended = a
	case <-endB:
		ended = b
	case <-b.Done():
		ended = b
	}
	cancel()
	wg.Wait()
	drainKeys(a, o.onKey)
	drainKeys(b, o.onKey)
	st.AToB, st.BToA, st.Duration = ab.Load(), ba.Load(), time.Since(start)
	return ended, st, nil
}
