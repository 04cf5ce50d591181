// Package sip takes telephone calls from SIP trunks: UDP and TCP
// listeners, INVITE with SDP offer/answer (G.711 mu-law and A-law), BYE and
// CANCEL, OPTIONS for a proxy's health checks, re-INVITE hold, keys as
// RFC 4733 telephone-events or SIP INFO. Each answered call is a Call,
// which implements the same contract as a WebRTC call (webrtc.Call), so
// the pipeline runs it unchanged.
//
// Everything refused gets a final answer with a Reason header: a source
// that is not a trunk 403, a bad digest 401 again, an unknown dialled
// number 404, an offer without audio or a codec in common 488, a node at
// its limits 503 with Retry-After. Datagrams that are not SIP, and floods
// from one address that is not a trunk, are dropped unanswered and
// counted.
package sip

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/internal/admit"
	"github.com/callbrief/callbrief/media/inbox"
	"github.com/callbrief/callbrief/media/webrtc"
)

// Trunk is one carrier or PBX allowed to send calls.
type Trunk struct {
	Name    string
	Sources []netip.Prefix
	// Username and Password, when set, require digest authentication.
	Username, Password, Realm string
	// NumberHeader is "from", "p-asserted-identity" or "remote-party-id".
	NumberHeader string
	Trusted      bool
	// RequireTLS: requests from the trunk are taken over TLS only.
	RequireTLS bool
	// Numbers maps dialled numbers ("*": any) to the line they reach.
	// Empty: any number reaches the Mandarin line.
	Numbers map[string]call.Language
}

func (t *Trunk) allows(a netip.Addr) bool {
	for _, p := range t.Sources {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (t *Trunk) line(dialled string) (call.Language, bool) {
	if len(t.Numbers) == 0 {
		return call.LangMandarin, true
	}
	if l, ok := t.Numbers[dialled]; ok {
		return l, true
	}
	l, ok := t.Numbers["*"]
	return l, ok
}

// Config configures a Server.
type Config struct {
	// Addr is host:port for the listeners (port 0: any free port, the same
	// for UDP and TCP).
	Addr       string
	Transports []string // "udp", "tcp"
	// MediaIP is the address in our SDP answers, where RTP is received.
	MediaIP                netip.Addr
	RTPPortMin, RTPPortMax int
	MaxCalls               int
	SetupRate              float64 // INVITEs per second taken
	SourceRate             float64 // messages per second from one non-trunk address
	// MaxConnections caps the TCP and TLS connections held at once (each
	// listener; default 1024), FirstMessage is how long a new one has to
	// send its first message, the TLS handshake included (default 10 s).
	MaxConnections int
	FirstMessage   time.Duration
	RetryAfter     time.Duration
	Ring           time.Duration // 180 before the 200
	MediaTimeout   time.Duration // no RTP this long (not on hold): the call ends; default 30 s
	ReorderPackets int           // default 3
	ReorderDelay   time.Duration // default 60 ms
	QueueFrames    int           // default 500 (10 s)
	// Codecs are the audio codecs taken (nil: all of Codecs); which one a
	// call gets is the caller's preference among them.
	Codecs []webrtc.Codec
	// TLSAddr, with TLS (its certificate), is a SIP over TLS listener
	// (port 0: any free port; TLSPort says which).
	TLSAddr string
	TLS     *tls.Config
	// SessionExpires is the session interval (RFC 4028) given a caller
	// that supports timers, and the most a caller's request is taken at;
	// MinSE the least (422 below it). Defaults 1800 s and 90 s; MinSE
	// below 90 s only with ShortTimers (tests).
	SessionExpires, MinSE time.Duration
	ShortTimers           bool
	Trunks                []Trunk
	Logger                *slog.Logger
	// OnCall runs each answered call, on its own goroutine; the call is
	// closed when it returns.
	OnCall func(*Call)
}

// Counters are the server's totals since start.
type Counters struct {
	Invites, Answered, Cancelled, ReInvites, Options, InfoKeys             atomic.Uint64
	Refused400, Refused401, Refused403, Refused404, Refused415, Refused488 atomic.Uint64
	Refused503, Refused481, Refused405, Refused422                         atomic.Uint64
	DroppedMalformed, DroppedFlood, RTPWrongSource, NoAck                  atomic.Uint64
	Transferred, TransfersRefused, TransfersFailed                         atomic.Uint64
}

// Server is a SIP user agent server taking calls from trunks.
type Server struct {
	cfg      Config
	log      *slog.Logger
	ua       *sipgo.UserAgent
	srv      *sipgo.Server
	client   *sipgo.Client
	duas     map[string]*sipgo.DialogUA
	udp      net.PacketConn
	tcp      net.Listener
	tls      net.Listener // SIP over TLS, when configured
	addr     netip.AddrPort
	tlsPort  int
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	handlers atomic.Int64 // OnCall goroutines running (for Wait)
	draining atomic.Bool
	nonceKey [32]byte
	counters Counters

	// limit admits calls (internal/admit, as recorded calls are): a
	// place is taken by an INVITE and held until its call ends, so the
	// calls being answered count too.
	limit *admit.Limiter
	quiet throttle // refusal and flood log lines, per kind and source

	mu       sync.Mutex
	calls    map[string]*Call // by dialog id
	nextPort int
	setup    bucket
	sources  map[netip.Addr]*bucket
}

// NewServer checks cfg and builds a server; Listen starts it.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.OnCall == nil {
		return nil, errors.New("sip: Config.OnCall is required")
	}
	if !cfg.MediaIP.IsValid() || cfg.MediaIP.IsUnspecified() {
		return nil, fmt.Errorf("sip: media address %q is not one callers can send to", cfg.MediaIP)
	}
	if cfg.RTPPortMin < 1 || cfg.RTPPortMax > 65535 || cfg.RTPPortMin > cfg.RTPPortMax {
		return nil, fmt.Errorf("sip: RTP ports %d-%d", cfg.RTPPortMin, cfg.RTPPortMax)
	}
	if len(cfg.Transports) == 0 {
		cfg.Transports = []string{"udp", "tcp"}
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = 200
	}
	if cfg.SetupRate <= 0 {
		cfg.SetupRate = 20
	}
	if cfg.SourceRate <= 0 {
		cfg.SourceRate = 50
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 1024
	}
	if cfg.FirstMessage <= 0 {
		cfg.FirstMessage = 10 * time.Second
	}
	if cfg.RetryAfter < time.Second {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.MediaTimeout <= 0 {
		cfg.MediaTimeout = 30 * time.Second
	}
	if cfg.ReorderPackets <= 0 {
		cfg.ReorderPackets = 3
	}
	if cfg.ReorderDelay <= 0 {
		cfg.ReorderDelay = 60 * time.Millisecond
	}
	if cfg.QueueFrames <= 0 {
		cfg.QueueFrames = 500
	}
	if (cfg.TLSAddr == "") != (cfg.TLS == nil) {
		return nil, errors.New("sip: a TLS listener needs both its address and its certificate")
	}
	if cfg.SessionExpires <= 0 {
		cfg.SessionExpires = 1800 * time.Second
	}
	if cfg.MinSE <= 0 {
		cfg.MinSE = 90 * time.Second
	}
	if cfg.MinSE < 90*time.Second && !cfg.ShortTimers {
		return nil, fmt.Errorf("sip: Min-SE %s is below RFC 4028's 90 s", cfg.MinSE)
	}
	if cfg.MinSE < time.Second || cfg.SessionExpires < cfg.MinSE {
		return nil, fmt.Errorf("sip: session interval %s is below Min-SE %s", cfg.SessionExpires, cfg.MinSE)
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "sip"), calls: map[string]*Call{},
		sources: map[netip.Addr]*bucket{}, nextPort: cfg.RTPPortMin, limit: admit.New(cfg.MaxCalls, 0)}
	s.setup = bucket{rate: cfg.SetupRate, burst: max(cfg.SetupRate, 1)}
	if _, err := rand.Read(s.nonceKey[:]); err != nil {
		return nil, err
	}
	return s, nil
}

// Addr is where the listeners are bound (valid after Listen).
func (s *Server) Addr() netip.AddrPort { return s.addr }

// TLSAddr is where the SIP over TLS listener is bound (valid after
// Listen; zero without one).
func (s *Server) TLSAddr() netip.AddrPort {
	if s.tls == nil {
		return netip.AddrPort{}
	}
	return s.tls.Addr().(*net.TCPAddr).AddrPort()
}

// Counters are the server's totals.
func (s *Server) Counters() *Counters { return &s.counters }

func (s *Server) count(c *atomic.Uint64) { c.Add(1) }

// Active is the number of calls up.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Listen binds the listeners and serves until Close.
func (s *Server) Listen(ctx context.Context) error {
	ap, err := netip.ParseAddrPort(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("sip: listen address %q: %w", s.cfg.Addr, err)
	}
	// sipgo logs at debug what we count and log ourselves.
	sipLog := s.log.With("layer", "sipgo")
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("callbrief"), sipgo.WithUserAgentHostname(s.cfg.MediaIP.String()))
	if err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		ua.Close()
		return fmt.Errorf("sip: %w", err)
	}
	s.ua, s.srv = ua, srv
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	// UDP and TCP share one port number. With port 0 the first transport
	// picks a free port, which the other may find taken (another process
	// holds it for that protocol): try again with another, a few times.
	var port int
	for attempt := 0; ; attempt++ {
		port, err = s.listen(ap)
		if err == nil {
			break
		}
		s.closeListeners()
		s.udp, s.tcp, s.tls = nil, nil, nil
		if ap.Port() != 0 || attempt == 4 || !errors.Is(err, syscall.EADDRINUSE) {
			return err
		}
	}
	s.addr = netip.AddrPortFrom(ap.Addr(), uint16(port))
	if s.cfg.TLSAddr != "" {
		// TLS has a port of its own (5061 by convention), apart from
		// the UDP and TCP one.
		l, err := net.Listen("tcp", s.cfg.TLSAddr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("sip: tls %s: %w", s.cfg.TLSAddr, err)
		}
		s.tlsPort = l.Addr().(*net.TCPAddr).Port
		s.tls = newStreamGuard(tls.NewListener(l, s.cfg.TLS), s.cfg.MaxConnections, s.cfg.FirstMessage, s.log)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog), sipgo.WithClientHostname(s.cfg.MediaIP.String()))
	if err != nil {
		s.closeListeners()
		return fmt.Errorf("sip: %w", err)
	}
	s.client = client
	s.duas = map[string]*sipgo.DialogUA{}
	for _, tr := range []string{"udp", "tcp", "tls"} {
		contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "callbrief", Host: s.cfg.MediaIP.String(), Port: port}}
		if tr != "udp" {
			// A TLS dialog's requests come back to the TLS port, over
			// TLS (sip: with transport=tls, as trunks dial it; sips:
			// would demand TLS on every hop behind them too).
			contact.Address.UriParams = sip.NewParams()
			contact.Address.UriParams.Add("transport", tr)
		}
		if tr == "tls" {
			contact.Address.Port = s.tlsPort
		}
		// Requests in the dialog go back where the caller's came from:
		// a trunk behind NAT gives a Contact we cannot reach.
		s.duas[tr] = &sipgo.DialogUA{Client: client, ContactHDR: contact, RewriteContact: true}
	}
	srv.OnInvite(s.tcpGuard(s.onInvite))
	srv.OnAck(s.tcpGuard(s.onAck))
	srv.OnBye(s.tcpGuard(s.onBye))
	srv.OnCancel(s.tcpGuard(s.onCancel))
	srv.OnOptions(s.tcpGuard(s.onOptions))
	srv.OnInfo(s.tcpGuard(s.onInfo))
	srv.OnNotify(s.tcpGuard(s.onNotify))
	srv.OnUpdate(s.tcpGuard(s.onUpdate))
	srv.OnNoRoute(s.tcpGuard(s.onOther))
	if s.udp != nil {
		g := &guardConn{PacketConn: s.udp, s: s}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = srv.ServeUDP(g) }()
	}
	if s.tcp != nil {
		s.tcp = newStreamGuard(s.tcp, s.cfg.MaxConnections, s.cfg.FirstMessage, s.log)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = srv.ServeTCP(s.tcp) }()
	}
	tlsAddr := ""
	if s.tls != nil {
		tlsAddr = s.TLSAddr().String()
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = srv.ServeTLS(s.tls) }()
	}
	s.log.Info("sip listening", "addr", s.addr.String(), "transports", strings.Join(s.cfg.Transports, ","), "tls_addr", tlsAddr,
		"media_ip", s.cfg.MediaIP.String(), "trunks", len(s.cfg.Trunks), "session_expires", s.cfg.SessionExpires, "min_se", s.cfg.MinSE)
	return nil
}

// listen opens the configured transports on ap, on one port number.
func (s *Server) listen(ap netip.AddrPort) (int, error) {
	port := int(ap.Port())
	for _, tr := range s.cfg.Transports {
		switch tr {
		case "udp":
			pc, err := net.ListenPacket("udp", netip.AddrPortFrom(ap.Addr(), uint16(port)).String())
			if err != nil {
				return 0, fmt.Errorf("sip: udp %s: %w", s.cfg.Addr, err)
			}
			s.udp = pc
			port = pc.LocalAddr().(*net.UDPAddr).Port
		case "tcp":
			l, err := net.Listen("tcp", netip.AddrPortFrom(ap.Addr(), uint16(port)).String())
			if err != nil {
				return 0, fmt.Errorf("sip: tcp %s: %w", s.cfg.Addr, err)
			}
			s.tcp = l
			port = l.Addr().(*net.TCPAddr).Port
		default:
			return 0, fmt.Errorf("sip: transport %q is not udp or tcp", tr)
		}
	}
	return port, nil
}

func (s *Server) closeListeners() {
	if s.udp != nil {
		s.udp.Close()
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
	if s.tls != nil {
		s.tls.Close()
	}
}

// Drain refuses new calls (503, and OPTIONS 503 so a proxy routes
// elsewhere) while the ones up go on.
func (s *Server) Drain() { s.draining.Store(true) }

// Wait returns once no call is up and every OnCall has returned, or with
// ctx's error: with Drain, the calls in progress finish before Close.
func (s *Server) Wait(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for s.Active() > 0 || s.handlers.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("sip: wait: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close ends every call (BYE), waiting for them until ctx is done, then
// stops the listeners.
func (s *Server) Close(ctx context.Context) error {
	s.Drain()
	s.mu.Lock()
	calls := make([]*Call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		c.cancel(ErrClosed)
	}
	var err error
	for _, c := range calls {
		select {
		case <-c.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.closeListeners()
	if s.ua != nil {
		s.ua.Close()
	}
	s.wg.Wait()
	return err
}

// forget removes an ended call.
func (s *Server) forget(c *Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.dlg != nil && s.calls[c.dlg.ID] == c {
		delete(s.calls, c.dlg.ID)
	}
}

func sourceAddr(req *sip.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (s *Server) trunkFor(a netip.Addr) *Trunk {
	for i := range s.cfg.Trunks {
		if s.cfg.Trunks[i].allows(a) {
			return &s.cfg.Trunks[i]
		}
	}
	return nil
}

// respond answers req with code and, for a refusal, a Reason header
// (RFC 3326) saying why in words.
func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, code int, phrase, why string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, phrase, nil)
	if why != "" {
		res.AppendHeader(sip.NewHeader("Reason", fmt.Sprintf("SIP;cause=%d;text=%q", code, why)))
	}
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("response not sent", "code", code, "err", err)
	}
}

func (s *Server) refuse(req *sip.Request, tx sip.ServerTransaction, code int, phrase, why string, hdrs ...sip.Header) {
	switch code {
	case 400:
		s.count(&s.counters.Refused400)
	case 401:
		s.count(&s.counters.Refused401)
	case 403:
		s.count(&s.counters.Refused403)
	case 404:
		s.count(&s.counters.Refused404)
	case 405:
		s.count(&s.counters.Refused405)
	case 415:
		s.count(&s.counters.Refused415)
	case 422:
		s.count(&s.counters.Refused422)
	case 481:
		s.count(&s.counters.Refused481)
	case 488:
		s.count(&s.counters.Refused488)
	case 503:
		s.count(&s.counters.Refused503)
	}
	// One line per kind of refusal and source every few seconds: a flood
	// of INVITEs must not become a flood of log lines.
	if ok, held := s.quiet.allow(fmt.Sprint(req.Method, code, why, sourceAddr(req)), time.Now()); ok {
		s.log.Info("sip refused", "method", req.Method.String(), "code", code, "why", why, "source", req.Source(), "call_id", callID(req), "like_it_before", held)
	}
	s.respond(req, tx, code, phrase, why, hdrs...)
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func (s *Server) busy(req *sip.Request, tx sip.ServerTransaction, why string) {
	s.busyFor(req, tx, why, s.cfg.RetryAfter)
}

// busyFor answers 503 with Retry-After: retry seconds, at least the
// configured retry_after.
func (s *Server) busyFor(req *sip.Request, tx sip.ServerTransaction, why string, retry time.Duration) {
	retry = max(retry, s.cfg.RetryAfter)
	ra := sip.NewHeader("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	s.refuse(req, tx, 503, "Service Unavailable", why, ra)
}

const allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, UPDATE"

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	s.count(&s.counters.Options)
	if s.trunkFor(sourceAddr(req)) == nil {
		s.stranger(req, tx)
		return
	}
	if s.draining.Load() {
		s.busy(req, tx, "draining")
		return
	}
	s.respond(req, tx, 200, "OK", "", sip.NewHeader("Allow", allowed), sip.NewHeader("Accept", "application/sdp, application/dtmf-relay"))
}

func (s *Server) onOther(req *sip.Request, tx sip.ServerTransaction) {
	if tx == nil {
		return
	}
	s.refuse(req, tx, 405, "Method Not Allowed", req.Method.String()+" is not taken", sip.NewHeader("Allow", allowed))
}

func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	// A CANCEL matching an INVITE being answered is handled by the
	// transaction layer (200, then 487 to the INVITE); this one matched
	// nothing.
	s.refuse(req, tx, 481, "Call/Transaction Does Not Exist", "no INVITE to cancel")
}

func (s *Server) dialog(req *sip.Request) *Call {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := s.dialog(req); c != nil && c.dlg != nil {
		// A re-INVITE's ACK carries a later CSeq than the dialog's
		// INVITE: sipgo refuses it, and there is nothing to confirm.
		_ = c.dlg.ReadAck(req, tx)
	}
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := s.dialog(req)
	if c == nil || c.dlg == nil {
		s.refuse(req, tx, 481, "Call/Transaction Does Not Exist", "no such call")
		return
	}
	if err := c.dlg.ReadBye(req, tx); err != nil {
		s.refuse(req, tx, 400, "Bad Request", "BYE does not match the call")
		return
	}
	c.cancel(ErrHangup)
}

func (s *Server) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := s.dialog(req)
	if c == nil {
		s.refuse(req, tx, 481, "Call/Transaction Does Not Exist", "no such call")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(h.Value()))
	}
	k, err := parseInfoKey(ct, req.Body())
	if err != nil {
		s.refuse(req, tx, 415, "Unsupported Media Type", err.Error(), sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	}
	s.count(&s.counters.InfoKeys)
	c.infoKey(k)
	s.respond(req, tx, 200, "OK", "")
}

// parseInfoKey reads a key from an INFO body: application/dtmf-relay
// ("Signal=5\r\nDuration=160") or application/dtmf ("5").
func parseInfoKey(contentType string, body []byte) (rune, error) {
	ct, _, _ := strings.Cut(contentType, ";")
	var sig string
	switch strings.TrimSpace(ct) {
	case "application/dtmf-relay":
		for _, line := range strings.Split(string(body), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				sig = strings.TrimSpace(v)
				break
			}
		}
	case "application/dtmf":
		sig = strings.TrimSpace(string(body))
	default:
		return 0, fmt.Errorf("INFO body %q is not application/dtmf-relay or application/dtmf", contentType)
	}
	switch {
	case len(sig) == 1 && strings.ContainsRune("0123456789*#ABCDabcd", rune(sig[0])):
		return []rune(strings.ToUpper(sig))[0], nil
	case sig == "10":
		return '*', nil
	case sig == "11":
		return '#', nil
	}
	return 0, fmt.Errorf("INFO signal %q is not a key", sig)
}

func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		s.onReinvite(req, tx)
		return
	}
	s.count(&s.counters.Invites)
	src := sourceAddr(req)
	trunk := s.trunkFor(src)
	if trunk == nil {
		s.stranger(req, tx)
		return
	}
	if s.draining.Load() {
		s.busy(req, tx, "draining")
		return
	}
	s.mu.Lock()
	rate := s.setup.allow(time.Now())
	s.mu.Unlock()
	if !rate {
		s.busy(req, tx, "call set-up rate exceeded")
		return
	}
	if trunk.Username != "" {
		ok, chal := s.authorized(req, trunk)
		if !ok {
			s.refuse(req, tx, 401, "Unauthorized", "digest authentication required", sip.NewHeader("WWW-Authenticate", chal))
			return
		}
	}
	dialled := req.Recipient.User
	if dialled == "" && req.To() != nil {
		dialled = req.To().Address.User
	}
	line, ok := trunk.line(dialled)
	if !ok {
		s.refuse(req, tx, 404, "Not Found", "no hotline at this number")
		return
	}
	timer, timed, tref := s.negotiateTimer(req)
	if tref != nil {
		s.refuseTimer(req, tx, tref)
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(h.Value()))
	}
	if len(req.Body()) == 0 {
		s.refuse(req, tx, 488, "Not Acceptable Here", "an SDP offer is required in the INVITE")
		return
	}
	if ct != "application/sdp" {
		s.refuse(req, tx, 415, "Unsupported Media Type", "body is not application/sdp", sip.NewHeader("Accept", "application/sdp"))
		return
	}
	o, err := parseOffer(req.Body(), s.cfg.Codecs)
	if err != nil {
		if errors.Is(err, ErrMalformedSDP) {
			s.refuse(req, tx, 400, "Bad Request", err.Error())
		} else {
			s.refuse(req, tx, 488, "Not Acceptable Here", err.Error(), sip.NewHeader("Warning", `304 callbrief "media type or codec not available"`))
		}
		return
	}
	// A place for the call (never waiting: the caller's phone is
	// ringing), taken once the INVITE is one we would answer, so that
	// refusals do not skew the limiter's estimate of how long a call
	// holds its place. The place is the call's until it ends.
	release, err := s.limit.Acquire(s.ctx)
	if err != nil {
		var o *admit.Overloaded
		retry := s.cfg.RetryAfter
		if errors.As(err, &o) {
			retry = o.RetryAfter
		}
		s.busyFor(req, tx, "at the call limit", retry)
		return
	}
	held := true
	defer func() {
		if held {
			release()
		}
	}()
	conn, port, err := s.rtpPort()
	if err != nil {
		s.log.Warn("no RTP port", "err", err)
		s.busy(req, tx, "no media port free")
		return
	}
	transport := transportOf(req)
	dlg, err := s.duas[transport].ReadInvite(req, tx)
	if err != nil {
		conn.Close()
		s.refuse(req, tx, 400, "Bad Request", err.Error())
		return
	}
	c, err := s.newCall(dlg, conn, o, src, s.callerOf(req, trunk, dialled, line))
	if err != nil {
		conn.Close()
		s.log.Error("sip call not made", "err", err)
		s.refuse(req, tx, 500, "Server Internal Error", "media could not be set up")
		dlg.Close()
		return
	}
	c.transport = transport
	c.release, held = release, false
	if timed {
		c.timers = make(chan sessionTimer, 1)
	}
	log := c.log
	_ = dlg.Respond(100, "Trying", nil)
	_ = dlg.Respond(180, "Ringing", nil)
	if s.cfg.Ring > 0 {
		t := time.NewTimer(s.cfg.Ring)
		select {
		case <-t.C:
		case <-dlg.Context().Done():
		case <-s.ctx.Done():
		}
		t.Stop()
	}
	s.mu.Lock()
	s.calls[dlg.ID] = c
	s.mu.Unlock()
	c.wg.Add(1)
	go c.readLoop(c.rxr, s.cfg.ReorderDelay, s.cfg.MediaTimeout)
	c.rxr = nil
	go c.run()
	if dlg.Context().Err() != nil {
		s.count(&s.counters.Cancelled)
		log.Info("sip call cancelled while ringing")
		c.cancel(ErrCancelled)
		return
	}
	res := sip.NewSDPResponseFromRequest(dlg.InviteRequest, answerSDP(o, s.cfg.MediaIP, port, c.sessID, c.version.Add(1)))
	res.AppendHeader(sip.NewHeader("Supported", "timer"))
	if timed {
		for _, h := range timer.headers() {
			res.AppendHeader(h)
		}
	}
	if err := dlg.WriteResponse(res); err != nil {
		if dlg.Context().Err() != nil {
			s.count(&s.counters.Cancelled)
			c.cancel(ErrCancelled)
			return
		}
		s.count(&s.counters.NoAck)
		log.Warn("sip call not confirmed", "err", err)
		c.cancel(ErrNoAck)
		return
	}
	s.count(&s.counters.Answered)
	if timed {
		// Started once the call is confirmed: a session that never was
		// needs no refresh. Before OnCall, whose return ends the call.
		if c.goTracked(func() { c.sessionLoop(timer) }) {
			log.Info("sip session timer", "interval", timer.interval, "we_refresh", timer.weRefresh)
		}
	}
	cl := c.caller
	log.Info("sip call answered", "trunk", cl.Trunk, "dialled", cl.Dialled, "line", cl.Line, "number_header", cl.Header,
		"trusted", cl.Trusted, "number_known", cl.Number != "", "codec", c.codec, "rtp", o.addr.String(), "transport", transport)
	s.wg.Add(1)
	s.handlers.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.handlers.Add(-1)
		defer c.Close()
		s.cfg.OnCall(c)
	}()
}

// newCall makes the call of an answered INVITE; an error (a codec's C
// library out of memory) leaves nothing to free but conn.
func (s *Server) newCall(dlg *sipgo.DialogServerSession, conn *net.UDPConn, o offer, signal netip.Addr, cl Caller) (*Call, error) {
	// Our own id, as every ingress's: the trunk's Call-ID is logged
	// alongside, not put in URLs.
	id := call.NewID(time.Now())
	ctx, cancel := context.WithCancelCause(s.ctx)
	c := &Call{id: id, caller: cl, codec: o.codec, log: s.log.With("call_id", id, "sip_call_id", callID(dlg.InviteRequest)), srv: s, dlg: dlg, conn: conn, signal: signal,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), start: time.Now(), offered: o, remote: o.addr, held: o.held(),
		sem: make(chan struct{}, 1)}
	c.in = inbox.New(s.cfg.QueueFrames, c.log)
	c.ssrc, c.seq, c.ts = randomSSRC()
	c.sessID = uint64(c.ssrc)
	var events []uint8
	if o.eventPT >= 0 {
		events = append(events, uint8(o.eventPT))
	}
	rx, err := webrtc.NewRTPReceiver(o.codec, o.pt, events, s.cfg.ReorderPackets, c.in.PushFrame, c.in.PushKey)
	if err != nil {
		return nil, fmt.Errorf("sip: %s decoder: %w", o.codec, err)
	}
	c.rxr = rx
	if c.enc, err = newEncoder(o.codec); err != nil {
		rx.Close()
		return nil, err
	}
	return c, nil
}

// onReinvite answers an offer inside a call: hold, unhold, or media moved.
func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := s.dialog(req)
	if c == nil {
		s.refuse(req, tx, 481, "Call/Transaction Does Not Exist", "no such call")
		return
	}
	s.count(&s.counters.ReInvites)
	timer, timed, tref := s.negotiateTimer(req)
	if tref != nil {
		// The call goes on with the interval it had.
		s.refuseTimer(req, tx, tref)
		return
	}
	// The call keeps its codec (its decoder and encoder hold state): an
	// offer without it is refused and the call goes on as it was.
	o, err := parseOffer(req.Body(), []webrtc.Codec{c.codec})
	if err != nil {
		// The call goes on as it was.
		s.refuse(req, tx, 488, "Not Acceptable Here", err.Error())
		return
	}
	c.reoffer(o)
	c.mu.Lock()
	ans := c.offered
	c.mu.Unlock()
	port := c.conn.LocalAddr().(*net.UDPAddr).Port
	res := sip.NewSDPResponseFromRequest(req, answerSDP(ans, s.cfg.MediaIP, port, c.sessID, c.version.Add(1)))
	res.AppendHeader(sip.HeaderClone(&c.srv.duas[c.transport].ContactHDR))
	c.refreshed(res, timer, timed)
	if err := tx.Respond(res); err != nil {
		c.log.Debug("re-INVITE answer not sent", "err", err)
	}
}

// onUpdate takes an UPDATE (RFC 3311) inside a call: a session refresh
// (RFC 4028) without a body, or an offer as a re-INVITE's.
func (s *Server) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	c := s.dialog(req)
	if c == nil {
		s.refuse(req, tx, 481, "Call/Transaction Does Not Exist", "no such call")
		return
	}
	timer, timed, tref := s.negotiateTimer(req)
	if tref != nil {
		s.refuseTimer(req, tx, tref)
		return
	}
	var res *sip.Response
	if len(req.Body()) == 0 {
		res = sip.NewResponseFromRequest(req, 200, "OK", nil)
	} else {
		o, err := parseOffer(req.Body(), []webrtc.Codec{c.codec})
		if err != nil {
			s.refuse(req, tx, 488, "Not Acceptable Here", err.Error())
			return
		}
		c.reoffer(o)
		c.mu.Lock()
		ans := c.offered
		c.mu.Unlock()
		port := c.conn.LocalAddr().(*net.UDPAddr).Port
		res = sip.NewSDPResponseFromRequest(req, answerSDP(ans, s.cfg.MediaIP, port, c.sessID, c.version.Add(1)))
	}
	res.AppendHeader(sip.HeaderClone(&c.srv.duas[c.transport].ContactHDR))
	c.refreshed(res, timer, timed)
	if err := tx.Respond(res); err != nil {
		c.log.Debug("UPDATE answer not sent", "err", err)
	}
}

// refreshed adds to the answer of a re-INVITE or UPDATE the session
// timer it sets, and restarts the call's timer with it. A call without
// a timer keeps none: one is only started by the INVITE's answer.
func (c *Call) refreshed(res *sip.Response, st sessionTimer, on bool) {
	res.AppendHeader(sip.NewHeader("Supported", "timer"))
	if !on || c.timers == nil {
		return
	}
	for _, h := range st.headers() {
		res.AppendHeader(h)
	}
	c.renewTimer(st)
}

// rtpPort binds the next free even port of the range on MediaIP.
func (s *Server) rtpPort() (*net.UDPConn, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	span := s.cfg.RTPPortMax - s.cfg.RTPPortMin + 1
	for range span {
		p := s.nextPort
		s.nextPort++
		if s.nextPort > s.cfg.RTPPortMax {
			s.nextPort = s.cfg.RTPPortMin
		}
		if p%2 == 1 && s.cfg.RTPPortMin != s.cfg.RTPPortMax {
			continue
		}
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.cfg.MediaIP, uint16(p))))
		if err == nil {
			return conn, p, nil
		}
	}
	return nil, 0, fmt.Errorf("sip: every RTP port in %d-%d is in use", s.cfg.RTPPortMin, s.cfg.RTPPortMax)
}

// guardConn sits under sipgo's UDP transport: datagrams that do not parse
// as SIP and floods from one non-trunk address are dropped and counted
// before they cost a transaction.
type guardConn struct {
	net.PacketConn
	s *Server
}

func (g *guardConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := g.PacketConn.ReadFrom(b)
		if err != nil || n == 0 {
			return n, addr, err
		}
		if g.s.admit(addr, b[:n]) {
			return n, addr, nil
		}
	}
}

// admit decides whether a datagram goes on to sipgo.
func (s *Server) admit(addr net.Addr, data []byte) bool {
	if len(strings.TrimSpace(string(data))) == 0 {
		return true // keep-alive (RFC 5626 CRLF)
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return false
	}
	a := ua.AddrPort().Addr().Unmap()
	if s.trunkFor(a) == nil && !s.allowSource(a, time.Now()) {
		s.dropFlood(a)
		return false
	}
	if _, err := sip.ParseMessage(data); err != nil {
		s.count(&s.counters.DroppedMalformed)
		s.log.Debug("not SIP: dropped", "source", a.String(), "bytes", len(data), "err", err)
		return false
	}
	return true
}

// stranger answers a request from an address on no trunk.
func (s *Server) stranger(req *sip.Request, tx sip.ServerTransaction) {
	s.refuse(req, tx, 403, "Forbidden", "source address is not on a trunk")
}

// transportOf is the transport req came over: udp, tcp or tls.
func transportOf(req *sip.Request) string {
	switch strings.ToLower(req.Transport()) {
	case "tcp":
		return "tcp"
	case "tls":
		return "tls"
	}
	return "udp"
}

// tcpGuard applies source_rate to requests that came over TCP or TLS
// from an address on no trunk: past it they are dropped unanswered and
// counted as a flood (UDP datagrams were limited before parsing, in
// guardConn). sipgo ends the transaction of a request left unanswered.
// It also refuses, 403, whatever a require_tls trunk sends over UDP or
// TCP: the trunk's calls are taken only where its signalling (and the
// caller's number in it) cannot be read or forged on the way.
func (s *Server) tcpGuard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		a := sourceAddr(req)
		trunk := s.trunkFor(a)
		if !strings.EqualFold(req.Transport(), "udp") {
			if trunk == nil && !s.allowSource(a, time.Now()) {
				s.dropFlood(a)
				return
			}
		}
		if trunk != nil && trunk.RequireTLS && transportOf(req) != "tls" {
			if tx != nil && !req.IsAck() {
				s.refuse(req, tx, 403, "Forbidden", "trunk "+trunk.Name+" requires TLS")
			}
			return
		}
		h(req, tx)
	}
}

// dropFlood counts a message dropped for its source's rate, and logs the
// flood once every few seconds per address.
func (s *Server) dropFlood(a netip.Addr) {
	s.count(&s.counters.DroppedFlood)
	if ok, held := s.quiet.allow("flood "+a.String(), time.Now()); ok {
		s.log.Warn("sip flood: messages from one address past source_rate dropped unanswered", "source", a.String(),
			"rate", s.cfg.SourceRate, "dropped_before", held)
	}
}

// allowSource applies the per-address rate to a non-trunk address.
func (s *Server) allowSource(a netip.Addr, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.sources[a]
	if b == nil {
		if len(s.sources) >= 10000 {
			// Forget addresses quiet for a minute; a spread attack
			// cannot grow the table without bound.
			for k, v := range s.sources {
				if now.Sub(v.last) > time.Minute {
					delete(s.sources, k)
				}
			}
			if len(s.sources) >= 10000 {
				return false
			}
		}
		b = &bucket{rate: s.cfg.SourceRate, burst: 2 * s.cfg.SourceRate}
		s.sources[a] = b
	}
	return b.allow(now)
}

// bucket is a token bucket: rate tokens a second, at most burst.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
	started             bool
}

func (b *bucket) allow(now time.Time) bool {
	if !b.started {
		b.started, b.tokens, b.last = true, b.burst, now
	}
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// throttle lets one log line a key through every throttleEvery and counts
// those it held back, which the next line reports.
type throttle struct {
	mu   sync.Mutex
	keys map[string]*throttled
}

type throttled struct {
	last time.Time
	held int
}

const throttleEvery = 10 * time.Second

func (t *throttle) allow(key string, now time.Time) (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys == nil || len(t.keys) >= 4096 {
		// Bounded: many sources at once start the table afresh.
		t.keys = map[string]*throttled{}
	}
	e := t.keys[key]
	if e == nil {
		t.keys[key] = &throttled{last: now}
		return true, 0
	}
	if now.Sub(e.last) < throttleEvery {
		e.held++
		return false, 0
	}
	held := e.held
	e.last, e.held = now, 0
	return true, held
}
