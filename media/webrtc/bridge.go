package webrtc

import (
	"context"
	"errors"
	"fmt"
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
		return nil, BridgeStats{}, fmt.Errorf("%w: not a call of this package", ErrNotBridgeable)
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
				if err := transcode(bctx, d.from, d.to, d.n); err != nil && bctx.Err() == nil {
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
func keys(ctx context.Context, p *peerCall, fn func(Call, rune)) {
	for {
		select {
		case <-ctx.Done():
			return
		case k, ok := <-p.keys:
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
func drainKeys(p *peerCall, fn func(Call, rune)) {
	for {
		select {
		case k, ok := <-p.keys:
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

// transcode encodes from's decoded frames for to's codec until ctx is
// done or either call ends. Frames are sent as they arrive: from's read
// loop paces them in real time.
func transcode(ctx context.Context, from, to *peerCall, n *atomic.Uint64) error {
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
		f, err := from.frames.Pop(ctx)
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
