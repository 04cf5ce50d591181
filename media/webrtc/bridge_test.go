package webrtc

import (
	"bytes"
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/opus"
)

// join makes c a second leg of call through Server.Join and connects it.
func (c *client) join(t *testing.T, ts *testServer, callID string) Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	leg, answer, err := ts.srv.Join(ctx, callID, []byte(c.offer(t)))
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.connected:
	case <-time.After(guard):
		t.Fatal("leg never connected")
	}
	<-c.track.Bound()
	return leg
}

// encodeOpus encodes pcm (16 kHz) as 20 ms Opus payloads.
func encodeOpus(t *testing.T, pcm []int16) [][]byte {
	t.Helper()
	enc, err := opus.NewEncoder(media.Rate16k, 1, opus.AppVoIP)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var out [][]byte
	buf := make([]byte, 1500)
	for off := 0; off+320 <= len(pcm); off += 320 {
		n, err := enc.Encode(pcm[off:off+320], buf)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(buf[:n]))
	}
	return out
}

// sendPayloads sends ready-made payloads in real time.
func (c *client) sendPayloads(t *testing.T, payloads [][]byte) {
	t.Helper()
	pt := audioPT(t, c.track)
	step := c.clock() / 50
	for i, p := range payloads {
		c.send(t, pt, p, i == 0)
		c.ts += step
		time.Sleep(20 * time.Millisecond)
	}
}

// readPackets reads packets from the client's remote track until n have
// come (or fails at the guard).
func readPackets(t *testing.T, c *client, n int) []*rtp.Packet {
	t.Helper()
	var tr *webrtc.TrackRemote
	select {
	case tr = <-c.prompts:
		c.prompts <- tr // for a later read
	case <-time.After(guard):
		t.Fatal("no audio track from the server")
	}
	_ = tr.SetReadDeadline(time.Now().Add(guard))
	var out []*rtp.Packet
	for len(out) < n {
		p, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatalf("after %d of %d packets: %v", len(out), n, err)
		}
		out = append(out, p)
	}
	return out
}

// checkContinuous fails unless ps are one stream: consecutive sequence
// numbers and timestamps that never go back.
func checkContinuous(t *testing.T, ps []*rtp.Packet) {
	t.Helper()
	for i := 1; i < len(ps); i++ {
		if ps[i].SequenceNumber != ps[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: sequence %d after %d", i, ps[i].SequenceNumber, ps[i-1].SequenceNumber)
		}
		if d := int32(ps[i].Timestamp - ps[i-1].Timestamp); d <= 0 {
			t.Fatalf("packet %d: timestamp moved by %d", i, d)
		}
	}
}

// pair is a caller's call on a test server with an Opus agent's leg
// joined to it, ready to bridge.
type pair struct {
	ts            *testServer
	caller, agent *client
	call, leg     Call
	loc           string // the caller's resource, to hang up
}

func newPair(t *testing.T, callerCodec Codec) pair {
	t.Helper()
	p := pair{ts: newTestServer(t, Config{}, nil), caller: newClient(t, callerCodec), agent: newClient(t, CodecOpus)}
	p.loc = p.caller.dial(t, p.ts)
	p.call = p.ts.nextCall(t)
	p.leg = p.agent.join(t, p.ts, p.call.ID())
	return p
}

// TestBridgeForward joins a second leg (the agent) to an Opus call and
// bridges them: each side receives exactly the payloads the other sent,
// byte for byte (nothing re-encoded), as one continuous stream. When the
// bridge is released the call's prompts continue that same stream, and
// when the caller hangs up the bridge reports it.
func TestBridgeForward(t *testing.T) {
	checkLeaks(t)
	p := newPair(t, CodecOpus)
	ts, caller, agent, call, leg, loc := p.ts, p.caller, p.agent, p.call, p.leg, p.loc
	if leg.Codec() != CodecOpus || ts.srv.Active() != 1 {
		t.Fatalf("leg codec %s, active %d", leg.Codec(), ts.srv.Active())
	}

	ctx, release := context.WithCancel(context.Background())
	defer release()
	type result struct {
		ended Call
		st    BridgeStats
		err   error
	}
	bridged := make(chan result, 1)
	go func() {
		ended, st, err := Bridge(ctx, call, leg)
		bridged <- result{ended, st, err}
	}()
	time.Sleep(100 * time.Millisecond) // the taps are set

	fromCaller := encodeOpus(t, tone16k(time.Second, 440))
	fromAgent := encodeOpus(t, tone16k(time.Second, 880))
	var senders sync.WaitGroup
	senders.Add(2)
	go func() { defer senders.Done(); caller.sendPayloads(t, fromCaller) }()
	go func() { defer senders.Done(); agent.sendPayloads(t, fromAgent) }()
	atAgent := readPackets(t, agent, len(fromCaller))
	atCaller := readPackets(t, caller, len(fromAgent))
	for i := range fromCaller {
		if !bytes.Equal(atAgent[i].Payload, fromCaller[i]) {
			t.Fatalf("caller packet %d reached the agent changed: %d bytes, sent %d", i, len(atAgent[i].Payload), len(fromCaller[i]))
		}
		if !bytes.Equal(atCaller[i].Payload, fromAgent[i]) {
			t.Fatalf("agent packet %d reached the caller changed", i)
		}
	}
	senders.Wait()
	checkContinuous(t, atAgent)
	checkContinuous(t, atCaller)

	// Released: the caller hears a prompt again, on the same stream.
	release()
	r := <-bridged
	if r.err != nil || r.ended != nil || r.st.Mode != BridgeForward || r.st.AToB < uint64(len(fromCaller)) || r.st.BToA < uint64(len(fromAgent)) {
		t.Fatalf("bridge released: ended %v, stats %+v, err %v", r.ended, r.st, r.err)
	}
	go func() { _ = call.Speak(context.Background(), tone16k(200*time.Millisecond, 300), media.Rate16k) }()
	after := readPackets(t, caller, 10)
	checkContinuous(t, append(atCaller[len(atCaller)-1:], after...))
	if st := call.Stats(); st.Forwarded < uint64(len(fromAgent)) || st.PacketsSent < st.Forwarded+10 {
		t.Fatalf("caller stats %+v", st)
	}

	// Bridged again, the caller hangs up: the bridge says who left.
	ctx2, cancel2 := context.WithTimeout(context.Background(), guard)
	defer cancel2()
	go func() {
		ended, st, err := Bridge(ctx2, call, leg)
		bridged <- result{ended, st, err}
	}()
	time.Sleep(50 * time.Millisecond)
	if code := ts.delete(t, loc); code != 200 {
		t.Fatalf("DELETE: %d", code)
	}
	r = <-bridged
	if r.err != nil || r.ended == nil || r.ended.ID() != call.ID() {
		t.Fatalf("after hang-up: ended %v, err %v", r.ended, r.err)
	}
	if err := leg.Close(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, leg)
}

// dominantHz estimates a tone's frequency from zero crossings.
func dominantHz(pcm []int16, rate int) float64 {
	cross := 0
	for i := 1; i < len(pcm); i++ {
		if (pcm[i-1] < 0) != (pcm[i] < 0) {
			cross++
		}
	}
	return float64(cross) / 2 / (float64(len(pcm)) / float64(rate))
}

// TestBridgeTranscode bridges a PCMU caller to an Opus-only agent: the
// legs cannot share packets, so each side's audio is decoded and encoded
// for the other, and each hears the other's tone at its pitch.
func TestBridgeTranscode(t *testing.T) {
	checkLeaks(t)
	p := newPair(t, CodecPCMU)
	caller, agent, call, leg := p.caller, p.agent, p.call, p.leg
	if call.Codec() != CodecPCMU || leg.Codec() != CodecOpus {
		t.Fatalf("codecs %s / %s", call.Codec(), leg.Codec())
	}
	ctx, release := context.WithCancel(context.Background())
	done := make(chan BridgeStats, 1)
	go func() {
		_, st, _ := Bridge(ctx, call, leg)
		done <- st
	}()
	time.Sleep(100 * time.Millisecond)

	var senders sync.WaitGroup
	senders.Add(2)
	go func() {
		defer senders.Done()
		for range 3 {
			caller.sendAudio(t, tone16k(500*time.Millisecond, 440))
			time.Sleep(400 * time.Millisecond)
		}
	}()
	go func() {
		defer senders.Done()
		agent.sendPayloads(t, encodeOpus(t, tone16k(1500*time.Millisecond, 880)))
	}()

	dec, err := opus.NewDecoder(media.Rate16k, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var heardByAgent []int16
	buf := make([]int16, 1920)
	for _, p := range readPackets(t, agent, 40) {
		n, err := dec.Decode(p.Payload, buf)
		if err != nil {
			t.Fatalf("agent got an undecodable Opus packet: %v", err)
		}
		heardByAgent = append(heardByAgent, buf[:n]...)
	}
	var heardByCaller []int16
	for _, p := range readPackets(t, caller, 40) {
		for _, b := range p.Payload {
			heardByCaller = append(heardByCaller, media.MuLawDecode(b))
		}
	}
	// The middle of each: past the codecs' start-up.
	a := heardByAgent[len(heardByAgent)/4 : len(heardByAgent)*3/4]
	c := heardByCaller[len(heardByCaller)/4 : len(heardByCaller)*3/4]
	if hz := dominantHz(a, media.Rate16k); math.Abs(hz-440) > 30 || rmsOf(a) < 2000 {
		t.Errorf("agent heard %.0f Hz at RMS %.0f, want the caller's 440 Hz tone", hz, rmsOf(a))
	}
	if hz := dominantHz(c, media.Rate8k); math.Abs(hz-880) > 40 || rmsOf(c) < 2000 {
		t.Errorf("caller heard %.0f Hz at RMS %.0f, want the agent's 880 Hz tone", hz, rmsOf(c))
	}
	senders.Wait()
	release()
	if st := <-done; st.Mode != BridgeTranscode || st.AToB == 0 || st.BToA == 0 {
		t.Fatalf("stats %+v", st)
	}
	leg.Close()
	call.Close()
}

// TestJoinErrors: a leg cannot join a call that does not exist, nor
// another leg, and Bridge refuses foreign calls.
func TestJoinErrors(t *testing.T) {
	checkLeaks(t)
	ts := newTestServer(t, Config{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	agent := newClient(t, CodecOpus)
	offer := []byte(agent.offer(t))
	if _, _, err := ts.srv.Join(ctx, "nope", offer); !isErr(err, ErrNotFound) || HTTPStatus(err) != 404 {
		t.Fatalf("unknown call: %v", err)
	}
	if _, _, err := ts.srv.Join(ctx, "nope", []byte("v=0\r\nnonsense")); !isErr(err, ErrMalformedSDP) {
		t.Fatalf("bad offer: %v", err)
	}
	caller := newClient(t, CodecOpus)
	caller.dial(t, ts)
	call := ts.nextCall(t)
	leg, _, err := ts.srv.Join(ctx, call.ID(), offer)
	if err != nil {
		t.Fatal(err)
	}
	other := newClient(t, CodecOpus)
	if _, _, err := ts.srv.Join(ctx, leg.ID(), []byte(other.offer(t))); !isErr(err, ErrNotFound) {
		t.Fatalf("joining a leg: %v", err)
	}
	if _, _, err := Bridge(ctx, call, call); !isErr(err, ErrNotBridgeable) {
		t.Fatalf("self bridge: %v", err)
	}
	leg.Close()
	call.Close()
}

// TestBridgeKeys: keys the caller presses while bridged (forwarding, or
// transcoding) are reported as keys, once each and in order, not passed
// on as tones; audio around them still reaches the agent.
func TestBridgeKeys(t *testing.T) {
	checkLeaks(t)
	for _, codec := range []Codec{CodecOpus, CodecPCMU} {
		t.Run(string(codec), func(t *testing.T) {
			p := newPair(t, codec)
			caller, agent, call, leg := p.caller, p.agent, p.call, p.leg
			got := make(chan string, 16)
			ctx, release := context.WithCancel(context.Background())
			done := make(chan BridgeStats, 1)
			go func() {
				_, st, _ := Bridge(ctx, call, leg, BridgeOnKey(func(from Call, k rune) { got <- from.ID() + ":" + string(k) }))
				done <- st
			}()
			time.Sleep(100 * time.Millisecond) // the taps are set
			caller.sendAudio(t, tone16k(200*time.Millisecond, 440))
			for _, ev := range []uint8{5, 2, 0, 11} { // 5 2 0 #
				caller.sendDigit(t, ev)
			}
			caller.sendAudio(t, tone16k(200*time.Millisecond, 440))
			var keyed []string
			for len(keyed) < 4 {
				select {
				case k := <-got:
					keyed = append(keyed, k)
				case <-time.After(guard):
					t.Fatalf("keys reported: %q", keyed)
				}
			}
			want := []string{call.ID() + ":5", call.ID() + ":2", call.ID() + ":0", call.ID() + ":#"}
			if !slices.Equal(keyed, want) {
				t.Fatalf("keys %q, want %q", keyed, want)
			}
			// The agent got the audio on either side of the keys, and
			// no telephone-event (28 were sent between them; the payload
			// type would be rewritten to the leg's own, so look at the
			// payloads: an RFC 4733 event of a key at volume 10).
			for i, pkt := range readPackets(t, agent, 20) {
				if b := pkt.Payload; len(b) == 4 && b[0] <= 11 && b[1]&0x3f == 10 {
					t.Fatalf("packet %d at the agent is the telephone-event %x", i, b)
				}
			}
			release()
			if st := <-done; st.AToB == 0 {
				t.Fatalf("no audio reached the agent: %+v", st)
			}
			select {
			case k := <-got:
				t.Fatalf("key %q reported twice or late", k)
			default:
			}
			if err := leg.Close(); err != nil {
				t.Fatal(err)
			}
			if err := call.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
