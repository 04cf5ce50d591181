// Package webrtc is callbrief's WebRTC ingress: a WHIP-style endpoint
// (POST an SDP offer, get the answer and a Location; DELETE it to hang up)
// that turns each browser or app caller into a Call: 16 kHz 20 ms frames
// in call time, DTMF keys (RFC 4733), and an outbound track for prompts.
//
// Opus (preferred: wideband, in-band FEC) and PCMU are negotiated. Opus is
// decoded by libopus straight to 16 kHz; PCMU is expanded and resampled
// from 8 kHz. Packets are reordered within a small window; lost ones are
// concealed (Opus PLC, or FEC from the next packet) so frame Offsets stay
// true call time.
package webrtc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media/inbox"
)

const mimeTelephoneEvent = "audio/telephone-event"

// Config configures the ingress. The zero value of each field means its
// default.
type Config struct {
	// BasePath is where the handler is mounted; Location headers are
	// BasePath + "/" + call id + "." + a per-call secret. Default "/v1/whip".
	BasePath string
	// ICEServers: none by default, which gathers host candidates only (a
	// caller on the same network or a server with a public address).
	ICEServers []ICEServer
	// PublicIPs are announced instead of the host's addresses (a server
	// behind 1:1 NAT, such as a cloud VM with an elastic address).
	PublicIPs []string
	// UDPPortMin and UDPPortMax bound the media ports, for firewalls.
	UDPPortMin, UDPPortMax uint16
	// Loopback gathers loopback candidates too: development and tests on
	// one machine.
	Loopback bool
	// ICETimeout ends a call whose peer has not connected by then. Default 15 s.
	ICETimeout time.Duration
	// DisconnectTimeout is how long a connected peer may go silent on ICE
	// before the call ends. Default 10 s.
	DisconnectTimeout time.Duration
	// QueueFrames bounds each call's frame queue. Default 150 (3 s): a
	// consumer busy with a turn (transcribing, verifying) for a second or
	// two loses nothing; past that, the oldest audio goes, counted.
	QueueFrames int
	// ReorderPackets is how many later packets may arrive before a missing
	// one is declared lost. Default 3 (60 ms of Opus).
	ReorderPackets int
	// ReorderDelay is how long a missing packet is waited for when no
	// later ones come. Default 60 ms.
	ReorderDelay time.Duration
	// MaxCalls bounds concurrent calls; 0 means no bound.
	MaxCalls int
	// RetryAfter is what a refused offer (at MaxCalls, or draining) is
	// told to wait before calling again, on this node or another.
	// Default 5 s.
	RetryAfter time.Duration
	// PromptCacheBytes bounds the encoded prompts kept for reuse across
	// calls. Default 8 MiB (about half an hour of Opus prompts); negative
	// turns the cache off.
	PromptCacheBytes int
	// OnCall is called on its own goroutine for each new call, before its
	// media flows. It owns the call: it should return when the call is
	// done. Required.
	OnCall func(Call)
	// Logger; calls log with a call_id attribute. Default discards.
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.OnCall == nil {
		return errors.New("webrtc: Config.OnCall is required")
	}
	if c.BasePath == "" {
		c.BasePath = "/v1/whip"
	}
	c.BasePath = strings.TrimRight(c.BasePath, "/")
	if c.ICETimeout <= 0 {
		c.ICETimeout = 15 * time.Second
	}
	if c.DisconnectTimeout <= 0 {
		c.DisconnectTimeout = 10 * time.Second
	}
	if c.QueueFrames <= 0 {
		c.QueueFrames = 150
	}
	if c.ReorderPackets <= 0 {
		c.ReorderPackets = 3
	}
	if c.ReorderDelay <= 0 {
		c.ReorderDelay = 60 * time.Millisecond
	}
	if c.PromptCacheBytes == 0 {
		c.PromptCacheBytes = 8 << 20
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if (c.UDPPortMin == 0) != (c.UDPPortMax == 0) || c.UDPPortMin > c.UDPPortMax {
		return fmt.Errorf("webrtc: UDP port range %d-%d: set both, min <= max", c.UDPPortMin, c.UDPPortMax)
	}
	for _, s := range c.ICEServers {
		for _, u := range s.URLs {
			if _, err := ice.ParseURL(u); err != nil {
				return fmt.Errorf("webrtc: ICE server %q: %w", u, err)
			}
		}
		if s.Secret != "" && (s.Username != "" || s.Credential != "") {
			return fmt.Errorf("webrtc: ICE server %q: a shared secret mints each peer's credential; drop the static username and credential", s.URLs)
		}
		if s.TTL < 0 {
			return fmt.Errorf("webrtc: ICE server %q: negative credential lifetime %s", s.URLs, s.TTL)
		}
	}
	return nil
}

// Server is the WHIP-style HTTP handler and the registry of live calls.
// Mount it with http.StripPrefix(cfg.BasePath, server):
//
//	POST   /          application/sdp offer -> 201, answer, Location
//	PATCH  /{id}      application/trickle-ice-sdpfrag -> 204 (optional)
//	DELETE /{id}      hang up -> 200
type Server struct {
	cfg      Config
	settings webrtc.SettingEngine
	prompts  *promptCache

	mu       sync.Mutex
	calls    map[string]*peerCall // callers and joined legs
	callers  int
	handlers int // OnCall goroutines running
	draining bool
	// closed: Close ran; draining only refuses new callers, while agents
	// may still join the calls in progress.
	closed bool
	wg     sync.WaitGroup // OnCall goroutines and call supervisors
}

// NewServer validates cfg and returns a server.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, calls: map[string]*peerCall{}, prompts: newPromptCache(cfg.PromptCacheBytes)}
	se := webrtc.SettingEngine{}
	se.SetICETimeouts(cfg.DisconnectTimeout/2, cfg.DisconnectTimeout, 2*time.Second)
	// Browsers hide their host addresses behind mDNS names; we need not
	// resolve them (their connectivity checks reveal the address as a
	// peer-reflexive candidate) and skipping mDNS saves a socket per call.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(cfg.Loopback)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if cfg.UDPPortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("webrtc: UDP port range: %w", err)
		}
	}
	if len(cfg.PublicIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: cfg.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost,
		}); err != nil {
			return nil, fmt.Errorf("webrtc: public IPs: %w", err)
		}
	}
	s.settings = se
	return s, nil
}

// api builds a pion API that negotiates only codec (plus telephone-event),
// so the answer cannot pick anything else.
func (s *Server) api(codec Codec) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	var cp webrtc.RTPCodecParameters
	switch codec {
	case CodecOpus:
		cp = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}
	default:
		cp = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0}
	}
	codecs := []webrtc.RTPCodecParameters{cp,
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 48000, Channels: 1, SDPFmtpLine: "0-16"}, PayloadType: 110},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 8000, Channels: 1, SDPFmtpLine: "0-16"}, PayloadType: 126},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	ir := &interceptor.Registry{}
	// Sender and receiver reports let the browser show jitter and loss for
	// both directions; NACK and congestion control are useless for audio.
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s.settings),
		webrtc.WithInterceptorRegistry(ir)), nil
}

func (s *Server) iceServers() []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, v := range s.ICEServers() {
		out = append(out, webrtc.ICEServer{URLs: v.URLs, Username: v.Username, Credential: v.Credential})
	}
	return out
}

// ICEServers are the configured STUN/TURN servers as one peer is to use
// them (the server for each call, and each caller's or agent's page: a
// browser behind a restrictive network needs the TURN relay as much as
// the server does). Servers with a shared secret get a fresh
// time-limited credential on each call; a static password is handed to
// every caller as it is.
func (s *Server) ICEServers() []ICEServer {
	now := time.Now()
	out := make([]ICEServer, 0, len(s.cfg.ICEServers))
	for _, v := range s.cfg.ICEServers {
		out = append(out, v.mint(now))
	}
	return out
}

// iceLinks are the ICE servers as RFC 9725 Link header values.
func (s *Server) iceLinks() []string {
	var out []string
	for _, v := range s.ICEServers() {
		for _, u := range v.URLs {
			l := "<" + u + `>; rel="ice-server"`
			if v.Username != "" {
				l += "; username=" + strconv.Quote(v.Username) + "; credential=" + strconv.Quote(v.Credential) + `; credential-type="password"`
			}
			out = append(out, l)
		}
	}
	return out
}

// Answer creates a call from an SDP offer and returns it with the SDP
// answer. It is the transport-free core of POST, for tests and for other
// signalling (a WebSocket, SIP over WebRTC).
func (s *Server) Answer(ctx context.Context, rawOffer []byte) (Call, string, error) {
	o, err := parseOffer(rawOffer)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	busy := s.draining || (s.cfg.MaxCalls > 0 && s.callers >= s.cfg.MaxCalls)
	s.mu.Unlock()
	if busy {
		return nil, "", fmt.Errorf("%w: %d calls, limit %d (or draining)", ErrBusy, s.Active(), s.cfg.MaxCalls)
	}
	return s.open(ctx, o, rawOffer, "", s.cfg.OnCall)
}

// Join adds a second leg to a live call, for Bridge: the agent's
// microphone and speaker. The leg takes the call's codec when the offer
// has it, so that audio crosses the bridge without re-encoding; otherwise
// it answers with its own choice and the bridge transcodes. The leg is a
// Call of its own (ended by Close, Hangup or its peer) and ends when the
// server closes.
func (s *Server) Join(ctx context.Context, callID string, rawOffer []byte) (Call, string, error) {
	o, err := parseOffer(rawOffer)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	c, ok := s.calls[callID]
	closed := s.closed
	s.mu.Unlock()
	if !ok || c.leg != "" {
		return nil, "", fmt.Errorf("%w: %q", ErrNotFound, callID)
	}
	// A draining server still lets the agent join a call in progress:
	// that is how the call finishes.
	if closed {
		return nil, "", fmt.Errorf("%w: closed", ErrBusy)
	}
	if o.offers(c.codec) {
		o.codec = c.codec
	}
	return s.open(ctx, o, rawOffer, callID, nil)
}

// JoinExternal adds an agent's leg to a call this server did not make (a
// telephone call over SIP, callID its id), for Bridge with that call's
// FrameSink. The leg takes prefer (the call's codec, G.711) when the
// offer has it, so the bridge only changes the sample rate; otherwise its
// own choice (Opus), and the bridge transcodes.
func (s *Server) JoinExternal(ctx context.Context, callID string, prefer Codec, rawOffer []byte) (Call, string, error) {
	o, err := parseOffer(rawOffer)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, "", fmt.Errorf("%w: closed", ErrBusy)
	}
	if o.offers(prefer) {
		o.codec = prefer
	}
	return s.open(ctx, o, rawOffer, callID, nil)
}

// open makes the peer connection of a caller (legOf empty, onCall run
// for it) or of a leg joining call legOf.
func (s *Server) open(ctx context.Context, o offer, rawOffer []byte, legOf string, onCall func(Call)) (Call, string, error) {
	api, err := s.api(o.codec)
	if err != nil {
		return nil, "", fmt.Errorf("webrtc: media engine: %w", err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: s.iceServers()})
	if err != nil {
		return nil, "", fmt.Errorf("webrtc: peer connection: %w", err)
	}
	id := call.NewID(time.Now())
	log := s.cfg.Logger.With("call_id", id)
	if legOf != "" {
		log = s.cfg.Logger.With("call_id", legOf, "leg", id)
	}
	c, answer, err := s.setup(ctx, pc, o, id, legOf, log, rawOffer, onCall)
	if err != nil {
		pc.Close()
		return nil, "", err
	}
	return c, answer, nil
}

func (s *Server) setup(ctx context.Context, pc *webrtc.PeerConnection, o offer, id, legOf string, log *slog.Logger,
	rawOffer []byte, onCall func(Call)) (*peerCall, string, error) {
	mime := webrtc.MimeTypeOpus
	clock, channels := uint32(48000), uint16(2)
	if o.codec == CodecPCMU {
		mime, clock, channels = webrtc.MimeTypePCMU, 8000, 1
	}
	// An RTP track rather than a sample track: prompts and, when bridged,
	// the other leg's packets go out on it (see outbound).
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: clock, Channels: channels}, "audio", "callbrief")
	if err != nil {
		return nil, "", fmt.Errorf("webrtc: prompt track: %w", err)
	}
	// Added before the offer is applied, the track joins the caller's audio
	// m-line: prompts go back on the same transceiver.
	sender, err := pc.AddTrack(track)
	if err != nil {
		return nil, "", fmt.Errorf("webrtc: add prompt track: %w", err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(rawOffer)}); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrMalformedSDP, err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return nil, "", fmt.Errorf("%w: cannot answer: %w", ErrMalformedSDP, err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return nil, "", fmt.Errorf("webrtc: set answer: %w", err)
	}
	// WHIP answers carry every candidate (the client may not trickle), so
	// wait for gathering: host candidates take milliseconds, STUN/TURN up
	// to the request's deadline.
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, "", fmt.Errorf("webrtc: gathering candidates: %w", ctx.Err())
	}

	var sb [16]byte
	if _, err := rand.Read(sb[:]); err != nil {
		return nil, "", fmt.Errorf("webrtc: call secret: %w", err)
	}
	cctx, cancel := context.WithCancelCause(context.Background())
	c := &peerCall{
		id: id, secret: hex.EncodeToString(sb[:]), leg: legOf, codec: o.codec, log: log, cfg: &s.cfg, pc: pc, ctx: cctx, cancel: cancel,
		in: inbox.New(s.cfg.QueueFrames, log), out: newOutbound(track, int(clock)), done: make(chan struct{}),
		connected: make(chan struct{}), started: time.Now(),
	}
	c.spk = newSpeaker(c.out, o.codec, s.prompts)
	c.onEnd = func() { s.remove(id) }
	pc.OnTrack(c.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		log.Debug("peer connection state", "state", st.String())
		switch st {
		case webrtc.PeerConnectionStateConnected:
			c.connectedOnce.Do(func() { close(c.connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			c.cancel(ErrPeerGone)
		}
	})
	// RTCP from the caller about our prompts must be read for the report
	// interceptor to process it; the loop ends when the sender closes.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()

	s.mu.Lock()
	s.calls[id] = c
	if legOf == "" {
		s.callers++
	}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.run()
	}()
	if onCall != nil {
		s.mu.Lock()
		s.handlers++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				s.handlers--
				s.mu.Unlock()
			}()
			onCall(c)
		}()
	}
	if legOf != "" {
		log.Info("leg joined", "codec", o.codec, "offered", o.offered)
	} else {
		log.Info("call offered", "codec", o.codec, "offered", o.offered, "dtmf", o.events)
	}
	return c, pc.LocalDescription().SDP, nil
}

func (s *Server) remove(id string) {
	s.mu.Lock()
	if c, ok := s.calls[id]; ok && c.leg == "" {
		s.callers--
	}
	delete(s.calls, id)
	s.mu.Unlock()
}

// Lookup returns a live call by id.
func (s *Server) Lookup(id string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.calls[id]
	if !ok {
		return nil, false // not a typed nil in the interface
	}
	return c, true
}

// Active is the number of live calls (callers; joined legs not counted).
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callers
}

// Hangup ends a call as DELETE does.
func (s *Server) Hangup(id string) error {
	s.mu.Lock()
	c, ok := s.calls[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	c.cancel(ErrHangup)
	<-c.done
	return nil
}

// Drain stops taking calls; live ones continue, and agents may still
// join them.
func (s *Server) Drain() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
}

// Wait returns once no caller is on a call and every OnCall has returned
// (the call's brief stored, its measures recorded), or with ctx's error.
// With Drain it lets the calls in progress finish before Close.
func (s *Server) Wait(ctx context.Context) error {
	// Polled: calls end at their own pace, and a poll every 50 ms is
	// nothing beside a call's length.
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		idle := s.callers == 0 && s.handlers == 0
		s.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("webrtc: wait: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Close stops taking calls, ends every live call with ErrClosed and waits
// for their goroutines, OnCall included, to return (or ctx to be done).
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.draining, s.closed = true, true
	calls := make([]*peerCall, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		c.cancel(ErrClosed)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webrtc: close: %w", ctx.Err())
	}
}

// CallOfResource resolves a call's resource ("ID.SECRET", the last part
// of its Location) to the call id, for whoever serves the caller's other
// views of the call (its captions): ok is false for an unknown call, an
// ended one, or a wrong secret, alike.
func (s *Server) CallOfResource(resource string) (id string, ok bool) {
	id, secret, found := strings.Cut(resource, ".")
	if !found || id == "" || secret == "" {
		return "", false
	}
	s.mu.Lock()
	c, live := s.calls[id]
	s.mu.Unlock()
	if !live || subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
		return "", false
	}
	return id, true
}

// ServeHTTP implements the WHIP-style resource; see Server. The resource
// of a call is "ID.SECRET" (its Location): the call id alone opens nothing.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res := strings.Trim(r.URL.Path, "/")
	id, known := s.CallOfResource(res)
	if res != "" && !known {
		id = "" // answered 404 below, whatever the reason
	}
	switch {
	case r.Method == http.MethodPost && res == "":
		s.post(w, r)
	case (r.Method == http.MethodDelete || r.Method == http.MethodPatch) && res != "" && !known:
		httpError(w, fmt.Errorf("%w: no such call resource", ErrNotFound))
	case r.Method == http.MethodDelete && id != "":
		if err := s.Hangup(id); err != nil {
			httpError(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPatch && id != "":
		s.patch(w, r, id)
	case r.Method == http.MethodOptions:
		w.Header().Set("Allow", "POST, PATCH, DELETE, OPTIONS")
		w.Header().Set("Accept-Post", "application/sdp")
		// WHIP (RFC 9725) clients learn the STUN/TURN servers here,
		// before they make their offer.
		for _, l := range s.iceLinks() {
			w.Header().Add("Link", l)
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "POST, PATCH, DELETE, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/sdp" {
		httpError(w, fmt.Errorf("%w: got %q", ErrContentType, r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxOfferBytes+1))
	if err != nil {
		httpError(w, fmt.Errorf("%w: reading offer: %w", ErrMalformedSDP, err))
		return
	}
	c, answer, err := s.Answer(r.Context(), body)
	if err != nil {
		s.cfg.Logger.Info("offer refused", "err", err, "status", HTTPStatus(err))
		if errors.Is(err, ErrBusy) {
			// The caller's page (or a load balancer) tries again, here
			// or elsewhere, after this.
			w.Header().Set("Retry-After", strconv.Itoa(int((s.cfg.RetryAfter+time.Second-1)/time.Second)))
		}
		httpError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/sdp")
	res := c.ID()
	if pc, ok := c.(*peerCall); ok {
		res += "." + pc.secret
	}
	w.Header().Set("Location", s.cfg.BasePath+"/"+res)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// patch applies trickled candidates (RFC 8840 SDP fragment): only the
// a=candidate lines matter to us.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	c, ok := s.calls[id]
	s.mu.Unlock()
	if !ok {
		httpError(w, fmt.Errorf("%w: %q", ErrNotFound, id))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/trickle-ice-sdpfrag" {
		httpError(w, fmt.Errorf("%w: PATCH wants application/trickle-ice-sdpfrag, got %q", ErrContentType, r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxOfferBytes))
	if err != nil {
		httpError(w, fmt.Errorf("%w: %w", ErrMalformedSDP, err))
		return
	}
	for _, cand := range trickleCandidates(string(body)) {
		if err := c.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: cand}); err != nil {
			httpError(w, fmt.Errorf("%w: candidate %q: %w", ErrMalformedSDP, cand, err))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// trickleCandidates extracts the candidate attributes of an SDP fragment.
func trickleCandidates(frag string) []string {
	var out []string
	for _, line := range strings.Split(frag, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "a=candidate:"); ok {
			out = append(out, "candidate:"+v)
		}
	}
	return out
}

func httpError(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), HTTPStatus(err))
}
