package webrtc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/callbrief/callbrief/internal/leakcheck"
	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/opus"
	"github.com/callbrief/callbrief/media/webrtc/webrtctest"
)

// guard bounds how long a test waits for an event that should happen
// promptly; hitting it is a failure (a hang), not a performance check.
const guard = 20 * time.Second

// checkLeaks fails the test if goroutines started during it from pion or
// this package are still running once it has cleaned up.
func checkLeaks(t *testing.T) {
	t.Helper()
	leakcheck.Test(t, guard, "github.com/pion/", "callbrief/media/webrtc.")
}

// testServer runs a Server behind httptest and hands each new call to the
// test on calls.
type testServer struct {
	srv   *Server
	http  *httptest.Server
	calls chan Call
	// onCall, if set, runs in OnCall before waiting for the call to end.
	onCall func(Call)
}

func newTestServer(t *testing.T, cfg Config, onCall func(Call)) *testServer {
	t.Helper()
	ts := &testServer{calls: make(chan Call, 8), onCall: onCall}
	cfg.Loopback = true
	if os.Getenv("WEBRTC_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.OnCall = func(c Call) {
		ts.calls <- c
		if ts.onCall != nil {
			ts.onCall(c)
		}
		<-c.Done()
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = srv
	mux := http.NewServeMux()
	mux.Handle("/v1/whip/", http.StripPrefix("/v1/whip", srv))
	ts.http = httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("server close: %v", err)
		}
		ts.http.Close()
	})
	return ts
}

func (ts *testServer) nextCall(t *testing.T) Call {
	t.Helper()
	select {
	case c := <-ts.calls:
		return c
	case <-time.After(guard):
		t.Fatal("no call reached OnCall")
		return nil
	}
}

// post sends an offer and returns the status, body and Location.
func (ts *testServer) post(t *testing.T, contentType, body string) (int, string, string) {
	t.Helper()
	resp, err := http.Post(ts.http.URL+"/v1/whip/", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

func (ts *testServer) delete(t *testing.T, location string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, ts.http.URL+location, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// audioPT is the negotiated payload type of the track's own codec.
func audioPT(t *testing.T, r *webrtctest.RawTrack) uint8 {
	t.Helper()
	pt, ok := r.PayloadType(r.MimeType(), 0)
	if !ok {
		t.Fatalf("%s not negotiated", r.MimeType())
	}
	return pt
}

// writeRTP sends one packet on r.
func writeRTP(r *webrtctest.RawTrack, pt uint8, seq uint16, ts uint32, marker bool, payload []byte) error {
	return r.WriteRTP(&rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, Marker: marker}, payload)
}

// client is a Go WebRTC caller without a browser.
type client struct {
	pc        *webrtc.PeerConnection
	track     *webrtctest.RawTrack
	codec     Codec
	connected chan struct{}
	prompts   chan *webrtc.TrackRemote
	seq       uint16
	ts        uint32
	eventPT   uint8
}

// newClient makes an offering peer that proposes codecs (mime types).
func newClient(t *testing.T, codec Codec) *client {
	t.Helper()
	m := &webrtc.MediaEngine{}
	var main webrtc.RTPCodecParameters
	evClock := uint32(48000)
	if codec == CodecOpus {
		main = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus,
			ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}
	} else {
		main = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU,
			ClockRate: 8000, Channels: 1}, PayloadType: 0}
		evClock = 8000
	}
	for _, c := range []webrtc.RTPCodecParameters{main,
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: evClock, Channels: 1, SDPFmtpLine: "0-15"}, PayloadType: 101},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{pc: pc, codec: codec, connected: make(chan struct{}), prompts: make(chan *webrtc.TrackRemote, 1),
		track: webrtctest.NewRawTrack(main.MimeType), seq: 1000, ts: 12345}
	t.Cleanup(func() { pc.Close() })
	if _, err := pc.AddTrack(c.track); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(c.connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { c.prompts <- tr })
	return c
}

// offer returns the complete offer (all candidates gathered).
func (c *client) offer(t *testing.T) string {
	t.Helper()
	o, err := c.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-g
	return c.pc.LocalDescription().SDP
}

// dial offers to ts, applies the answer and waits until connected.
func (c *client) dial(t *testing.T, ts *testServer) string {
	t.Helper()
	status, answer, loc := ts.post(t, "application/sdp", c.offer(t))
	if status != http.StatusCreated {
		t.Fatalf("POST offer: %d %s", status, answer)
	}
	// The telephone-event payload type is the answer's (pion's track
	// context lists only the media codec).
	for _, line := range strings.Split(answer, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=rtpmap:"); ok {
			pt, enc, _ := strings.Cut(v, " ")
			if strings.HasPrefix(strings.ToLower(enc), "telephone-event/") {
				n, _ := strconv.Atoi(pt)
				c.eventPT = uint8(n)
			}
		}
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.connected:
	case <-time.After(guard):
		t.Fatal("client never connected")
	}
	<-c.track.Bound()
	return loc
}

func (c *client) clock() uint32 {
	if c.codec == CodecPCMU {
		return 8000
	}
	return 48000
}

// sendAudio encodes pcm (16 kHz) in 20 ms packets and sends them, paced
// faster than real time to keep the test short: timestamps, not arrival,
// carry the timing.
func (c *client) sendAudio(t *testing.T, pcm16k []int16) {
	t.Helper()
	rate := int(c.clock())
	rs, err := media.NewResampler(media.Rate16k, rate)
	if err != nil {
		t.Fatal(err)
	}
	pcm := rs.FlushInt16(rs.ProcessInt16(nil, pcm16k))
	size := media.SamplesPerFrame(rate)
	var enc *opus.Encoder
	if c.codec == CodecOpus {
		if enc, err = opus.NewEncoder(rate, 1, opus.AppVoIP); err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		enc.SetInbandFEC(true, 10)
	}
	pt := audioPT(t, c.track)
	out := make([]byte, 4000)
	for off := 0; off+size <= len(pcm); off += size {
		var payload []byte
		if enc != nil {
			n, err := enc.Encode(pcm[off:off+size], out)
			if err != nil {
				t.Fatal(err)
			}
			payload = out[:n]
		} else {
			payload = out[:size]
			media.EncodeMuLaw(payload, pcm[off:off+size])
		}
		c.send(t, pt, payload, off == 0)
		c.ts += uint32(size)
		time.Sleep(2 * time.Millisecond)
	}
}

func (c *client) send(t *testing.T, pt uint8, payload []byte, marker bool) {
	t.Helper()
	if err := writeRTP(c.track, pt, c.seq, c.ts, marker, payload); err != nil {
		t.Fatal(err)
	}
	c.seq++
}

// sendDigit sends one RFC 4733 event as a browser does: progress packets
// sharing the start timestamp, then the end packet three times.
func (c *client) sendDigit(t *testing.T, event uint8) {
	t.Helper()
	pt := c.eventPT
	if pt == 0 {
		t.Fatal("no telephone-event in the answer")
	}
	step := uint16(c.clock() / 50) // 20 ms
	for i := uint16(1); i <= 4; i++ {
		c.send(t, pt, []byte{event, 10, byte(i * step >> 8), byte(i * step)}, i == 1)
	}
	for range 3 {
		d := 5 * step
		c.send(t, pt, []byte{event, 0x80 | 10, byte(d >> 8), byte(d)}, false)
	}
	c.ts += uint32(5 * step)
}

// speechPCM is the shared LibriSpeech clip at 16 kHz.
func speechPCM(t testing.TB) []int16 {
	t.Helper()
	return testenv.PCM16(t, filepath.Join(testenv.SharedData(t, "speech-clips"), "librispeech-1995-1837-0001.wav"))
}

func waitDone(t *testing.T, c Call) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(guard):
		t.Fatalf("call %s did not end", c.ID())
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }
