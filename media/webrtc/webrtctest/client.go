// Package webrtctest is a WebRTC caller without a browser, for tests of
// anything that answers WHIP-style offers: the live call endpoint, the
// agent's media endpoint of the desk. It offers Opus with RFC 4733
// telephone-events on one sendrecv audio m-line, as browsers do, sends
// 16 kHz PCM as Opus packets and keys as events, and receives the audio
// the server sends back.
package webrtctest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/callbrief/callbrief/media/opus"
)

const (
	mimeTelephoneEvent = "audio/telephone-event"
	frame16k           = 320 // 20 ms at 16 kHz
	frameTicks         = 960 // 20 ms at the 48 kHz RTP clock of Opus
)

// StatusError is a WHIP endpoint's refusal of the offer: its status, its
// Retry-After header (empty when absent) and its body.
type StatusError struct {
	Code       int
	Status     string
	RetryAfter string
	Body       string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("webrtctest: POST offer: %s: %s", e.Status, e.Body)
}

// Client is one offering peer.
type Client struct {
	pc        *webrtc.PeerConnection
	track     *RawTrack
	connected chan struct{}
	remote    chan *webrtc.TrackRemote
	enc       *opus.Encoder

	mu       sync.Mutex // guards the fields below
	seq      uint16
	ts       uint32
	eventPT  uint8
	location string
	base     string
}

// New makes a client. Close it when done.
func New() (*Client, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 48000, Channels: 1, SDPFmtpLine: "0-15"}, PayloadType: 101},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("webrtctest: codec: %w", err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("webrtctest: peer connection: %w", err)
	}
	enc, err := opus.NewEncoder(16000, 1, opus.AppVoIP)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("webrtctest: opus: %w", err)
	}
	c := &Client{pc: pc, track: NewRawTrack(webrtc.MimeTypeOpus), enc: enc,
		connected: make(chan struct{}), remote: make(chan *webrtc.TrackRemote, 1), seq: 1000, ts: 12345}
	if _, err := pc.AddTrack(c.track); err != nil {
		c.Close()
		return nil, fmt.Errorf("webrtctest: add track: %w", err)
	}
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(c.connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		select {
		case c.remote <- tr:
		default:
		}
	})
	return c, nil
}

// Dial POSTs the offer to url (with header, e.g. an Authorization),
// applies the answer and waits until the peers are connected.
func (c *Client) Dial(ctx context.Context, url string, header http.Header) error {
	o, err := c.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("webrtctest: offer: %w", err)
	}
	g := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(o); err != nil {
		return fmt.Errorf("webrtctest: set offer: %w", err)
	}
	select {
	case <-g:
	case <-ctx.Done():
		return ctx.Err()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(c.pc.LocalDescription().SDP))
	if err != nil {
		return fmt.Errorf("webrtctest: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("webrtctest: POST offer: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return &StatusError{Code: resp.StatusCode, Status: resp.Status, RetryAfter: resp.Header.Get("Retry-After"), Body: strings.TrimSpace(string(body))}
	}
	answer := string(body)
	c.mu.Lock()
	c.location = resp.Header.Get("Location")
	c.base = url
	for _, line := range strings.Split(answer, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=rtpmap:"); ok {
			pt, enc, _ := strings.Cut(v, " ")
			if strings.HasPrefix(strings.ToLower(enc), "telephone-event/48000") {
				n, _ := strconv.Atoi(pt)
				c.eventPT = uint8(n)
			}
		}
	}
	c.mu.Unlock()
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("webrtctest: set answer: %w", err)
	}
	for _, ch := range []<-chan struct{}{c.connected, c.track.Bound()} {
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("webrtctest: connecting: %w", ctx.Err())
		}
	}
	return nil
}

// Location is the call's resource from the answer (WHIP's Location).
func (c *Client) Location() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.location
}

// CallID is the call's id: its resource (the last part of Location) is
// "ID.SECRET", and the id alone names the call to the desk and the logs.
func (c *Client) CallID() string {
	loc := c.Location()
	res := loc[strings.LastIndexByte(loc, '/')+1:]
	id, _, _ := strings.Cut(res, ".")
	return id
}

// Resource is the last part of Location ("ID.SECRET"), the capability
// the caller's page uses for its captions.
func (c *Client) Resource() string {
	loc := c.Location()
	return loc[strings.LastIndexByte(loc, '/')+1:]
}

// SendPCM encodes pcm (16 kHz mono) as 20 ms Opus packets and sends them,
// one every pace (20 ms is real time; less is faster, the timestamps carry
// the timing).
func (c *Client) SendPCM(ctx context.Context, pcm []int16, pace time.Duration) error {
	pt, ok := c.track.PayloadType(webrtc.MimeTypeOpus, 0)
	if !ok {
		pt = 111
	}
	out := make([]byte, 1500)
	t := time.NewTicker(max(pace, time.Millisecond))
	defer t.Stop()
	for off := 0; off < len(pcm); off += frame16k {
		fr := make([]int16, frame16k)
		copy(fr, pcm[off:])
		n, err := c.enc.Encode(fr, out)
		if err != nil {
			return fmt.Errorf("webrtctest: encode: %w", err)
		}
		if err := c.send(pt, out[:n], off == 0, frameTicks); err != nil {
			return err
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// SendSilence sends d of silence as SendPCM does.
func (c *Client) SendSilence(ctx context.Context, d time.Duration, pace time.Duration) error {
	return c.SendPCM(ctx, make([]int16, int(d.Seconds()*16000)), pace)
}

// SendDigit sends one RFC 4733 event (0-9, 10 for *, 11 for #) as a
// browser does: progress packets sharing the start timestamp, then the end
// packet three times.
func (c *Client) SendDigit(event uint8) error {
	c.mu.Lock()
	pt := c.eventPT
	c.mu.Unlock()
	if pt == 0 {
		return errors.New("webrtctest: no telephone-event in the answer")
	}
	const step = frameTicks
	for i := uint16(1); i <= 4; i++ {
		if err := c.send(pt, []byte{event, 10, byte(i * step >> 8), byte(i * step)}, i == 1, 0); err != nil {
			return err
		}
	}
	for range 3 {
		d := uint16(5 * step)
		if err := c.send(pt, []byte{event, 0x80 | 10, byte(d >> 8), byte(d)}, false, 0); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.ts += 5 * step
	c.mu.Unlock()
	return nil
}

// SendKeys sends keys ("0"-"9", "*", "#") one after another.
func (c *Client) SendKeys(keys string) error {
	for _, k := range keys {
		var ev uint8
		switch {
		case k >= '0' && k <= '9':
			ev = uint8(k - '0')
		case k == '*':
			ev = 10
		case k == '#':
			ev = 11
		default:
			return fmt.Errorf("webrtctest: key %q", k)
		}
		if err := c.SendDigit(ev); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) send(pt uint8, payload []byte, marker bool, advance uint32) error {
	c.mu.Lock()
	h := &rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: c.seq, Timestamp: c.ts, Marker: marker}
	c.seq++
	c.ts += advance
	c.mu.Unlock()
	return c.track.WriteRTP(h, payload)
}

// Remote waits for the server's audio track.
func (c *Client) Remote(ctx context.Context) (*webrtc.TrackRemote, error) {
	select {
	case tr := <-c.remote:
		c.remote <- tr // for the next caller
		return tr, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("webrtctest: no audio from the server: %w", ctx.Err())
	}
}

// Receive reads the server's audio until ctx is done or the track ends,
// decoding each Opus packet to 16 kHz and handing it to fn; fn returning
// false stops it.
func (c *Client) Receive(ctx context.Context, fn func(pcm []int16) bool) error {
	tr, err := c.Remote(ctx)
	if err != nil {
		return err
	}
	dec, err := opus.NewDecoder(16000, 1)
	if err != nil {
		return fmt.Errorf("webrtctest: opus: %w", err)
	}
	defer dec.Close()
	pcm := make([]int16, opus.MaxFrameSamples(16000))
	stop := context.AfterFunc(ctx, func() { _ = tr.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("webrtctest: receiving: %w", err)
		}
		n, err := dec.Decode(p.Payload, pcm)
		if err != nil {
			continue
		}
		if !fn(pcm[:n]) {
			return nil
		}
	}
}

// Hangup DELETEs the call's resource, as WHIP clients hang up.
func (c *Client) Hangup(ctx context.Context, origin string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, origin+c.Location(), nil)
	if err != nil {
		return fmt.Errorf("webrtctest: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("webrtctest: hang up: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webrtctest: hang up: %s", resp.Status)
	}
	return nil
}

// Close ends the peer connection.
func (c *Client) Close() error {
	err := c.pc.Close()
	c.enc.Close()
	return err
}
