package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/tts"
)

// How a live call ended after its handoff.
const (
	EndCaller   = "caller"   // the caller hung up (holding or talking)
	EndAgent    = "agent"    // the agent ended the call from the desk
	EndTimeout  = "timeout"  // no agent joined in time
	EndShutdown = "shutdown" // the service stopped
)

// HoldConfig is the last stage of a live call: after the handoff, the
// caller holds until the agent's leg arrives, then the two are bridged.
type HoldConfig struct {
	// Legs delivers the agent's audio legs (webrtc.Server.Join). A new leg
	// while bridged replaces the old one (the agent reloaded the desk).
	Legs <-chan webrtc.Call
	// AgentHangup reports whether the call was ended from the desk, to
	// tell that apart from the caller hanging up.
	AgentHangup func() bool
	// Timeout bounds the wait for an agent; the caller is told and the
	// call ends. Default 10 minutes.
	Timeout time.Duration
	// Repeat is the pause between hold announcements. Default 20 s.
	Repeat time.Duration
	// OnState is told "holding" and "bridged" as they happen (for the
	// desk), and the bridge mode when bridged.
	OnState func(state, mode string)
	// Position, when set, tells the caller's place in the queue for each
	// announcement: 1 is next, 0 an agent is taking the call; ok false
	// when not known (the announcement then says nothing of it).
	Position func(ctx context.Context) (pos int, ok bool)
	// OnKey, when set, is told each key the caller presses while talking
	// to the agent (an order number the agent asked them to key in).
	OnKey func(key rune)
}

// HoldResult is what happened after the handoff.
type HoldResult struct {
	Bridged bool
	Mode    string        // webrtc.BridgeForward or BridgeTranscode
	Waited  time.Duration // handoff to the first bridge
	Talked  time.Duration // time bridged, all legs together
	Legs    int           // legs bridged (more than one: the agent rejoined)
	Ended   string        // EndCaller, EndAgent, EndTimeout or EndShutdown
}

type bridgeEnd struct {
	ended webrtc.Call
	st    webrtc.BridgeStats
	err   error
}

// Hold keeps the caller on the line with an announcement until an agent's
// leg arrives, bridges them, and returns when the call is over. An agent
// leg that fails (the desk closed or lost its network) puts the caller
// back on hold for the agent to rejoin. Every leg it was given is closed
// when it returns; the call itself is left to the caller of Hold.
func (l *LiveIngress) Hold(ctx context.Context, h HoldConfig) (HoldResult, error) {
	if h.Timeout <= 0 {
		h.Timeout = 10 * time.Minute
	}
	if h.Repeat <= 0 {
		h.Repeat = 20 * time.Second
	}
	if h.OnState == nil {
		h.OnState = func(string, string) {}
	}
	log := l.logger()
	c := l.Call
	start := time.Now()
	var res HoldResult
	timeout := time.NewTimer(h.Timeout)
	defer timeout.Stop()

	var (
		leg        webrtc.Call
		bridgeDone chan bridgeEnd
		stopBridge context.CancelFunc
		bridgedAt  time.Time
		stopHold   func()
	)
	holding := func() {
		hctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{}, 2)
		go func() { l.holdAnnounce(hctx, h.Position, h.Repeat); done <- struct{}{} }()
		go func() { drain(hctx, c); done <- struct{}{} }()
		stopHold = func() { cancel(); <-done; <-done }
		h.OnState("holding", "")
	}
	bridge := func(nl webrtc.Call) {
		leg, res.Legs = nl, res.Legs+1
		bctx, cancel := context.WithCancel(ctx)
		stopBridge = cancel
		bridgeDone = make(chan bridgeEnd, 1)
		if !res.Bridged {
			res.Waited = time.Since(start)
		}
		res.Bridged, bridgedAt = true, time.Now()
		go func() {
			ended, st, err := webrtc.Bridge(bctx, c, nl, webrtc.BridgeOnKey(func(from webrtc.Call, k rune) {
				if from.ID() == c.ID() && h.OnKey != nil {
					h.OnKey(k)
				}
			}))
			bridgeDone <- bridgeEnd{ended, st, err}
		}()
	}
	// unbridge waits for the bridge to end and closes its leg.
	unbridge := func(e bridgeEnd) {
		res.Talked += time.Since(bridgedAt)
		res.Mode = e.st.Mode
		log.Info("bridge ended", "leg", leg.ID(), "mode", e.st.Mode, "to_agent", e.st.AToB, "to_caller", e.st.BToA, "duration", e.st.Duration.Round(time.Millisecond))
		leg.Close()
		leg, bridgeDone, stopBridge = nil, nil, nil
	}
	ended := func() HoldResult {
		switch {
		case h.AgentHangup != nil && h.AgentHangup():
			res.Ended = EndAgent
		case ctx.Err() != nil || errors.Is(c.Err(), webrtc.ErrClosed):
			res.Ended = EndShutdown
		default:
			res.Ended = EndCaller
		}
		return res
	}

	holding()
	for {
		if leg == nil {
			select {
			case nl := <-h.Legs:
				stopHold()
				timeout.Stop()
				bridge(nl)
				h.OnState("bridged", bridgeMode(c, nl))
			case <-c.Done():
				stopHold()
				return ended(), nil
			case <-ctx.Done():
				stopHold()
				return ended(), nil
			case <-timeout.C:
				stopHold()
				res.Ended = EndTimeout
				l.say(ctx, prompts(l.Language).busy)
				return res, nil
			}
			continue
		}
		select {
		case e := <-bridgeDone:
			if e.err != nil {
				unbridge(e)
				return res, fmt.Errorf("pipeline: bridge: %w", e.err)
			}
			lost := e.ended != nil && e.ended.ID() != c.ID()
			unbridge(e)
			if !lost {
				return ended(), nil
			}
			log.Warn("agent leg lost; caller back on hold")
			timeout.Reset(h.Timeout)
			holding()
		case nl := <-h.Legs:
			log.Info("agent rejoined; replacing the leg", "leg", nl.ID())
			stopBridge()
			unbridge(<-bridgeDone)
			bridge(nl)
			h.OnState("bridged", bridgeMode(c, nl))
		case <-ctx.Done():
			stopBridge()
			unbridge(<-bridgeDone)
			return ended(), nil
		}
	}
}

// bridgeMode is the mode Bridge will take for a and b.
func bridgeMode(a, b webrtc.Call) string { return webrtc.BridgeModeOf(a, b) }

// holdAnnounce says the announcement, with the caller's place in the
// queue when known, then again after every pause. A caller is never
// dropped for want of a prompt: if it cannot be synthesized they hold in
// silence.
func (l *LiveIngress) holdAnnounce(ctx context.Context, position func(context.Context) (int, bool), pause time.Duration) {
	for {
		ps := prompts(l.Language)
		text := ps.hold
		if position != nil {
			if pos, ok := position(ctx); ok {
				text += " " + ps.place(pos)
			}
		}
		pcm, err := l.Synth.Synthesize(ctx, text, l.Language, l.Rate)
		if err != nil {
			l.logger().Warn("hold announcement not synthesized; holding in silence", "err", err)
			return
		}
		if err := l.Call.Speak(ctx, pcm, tts.SampleRate); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// say speaks text to the end (or until the call or ctx ends).
func (l *LiveIngress) say(ctx context.Context, text string) {
	pcm, err := l.Synth.Synthesize(ctx, text, l.Language, l.Rate)
	if err == nil {
		err = l.Call.Speak(ctx, pcm, tts.SampleRate)
	}
	if err != nil {
		l.logger().Debug("announcement not spoken", "err", err)
	}
}

// drain discards the caller's audio and keys while they hold: nobody is
// listening, and frames left queued would count as dropped.
func drain(ctx context.Context, c webrtc.Call) {
	for {
		if _, err := c.Next(ctx); err != nil {
			return
		}
	}
}
