package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/callbrief/callbrief/app"
	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/internal/admit"
	"github.com/callbrief/callbrief/media/sip"
	"github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/models/ort"
	"github.com/callbrief/callbrief/obs"
	"github.com/callbrief/callbrief/web"
)

// server is the HTTP face of `callbrief serve`.
type server struct {
	eng   *app.Engines
	stack *app.Stack
	whip  *webrtc.Server
	sip   *sip.Server // nil unless sip.addr is set
	// acd maps the skill groups whose SIP calls go to the contact
	// centre's own ACD to its SIP address (sip.handoffs).
	acd      map[string]string
	desk     *web.Desk
	lines    *lines
	rec      asr.Recognizer
	cfg      config.Config
	log      *slog.Logger
	metrics  *obs.Metrics
	draining atomic.Bool
	// uploads counts the recorded calls in progress, which a drain lets
	// finish; cut is done at the drain deadline, ending those still
	// running (their briefs kept and marked).
	uploads atomic.Int64
	cut     context.Context
	admit   *admit.Limiter // recorded calls in recognition
	started time.Time
	asrName string
	vadName string
	apiKeys *web.APIKeys // operator and integration endpoints
}

func (s *server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "uptime_s": time.Since(s.started).Seconds()})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		// A draining node says so, so the load balancer stops sending calls
		// while the ones in progress finish.
		if s.draining.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
			return
		}
		body, ok := s.readiness(r.Context())
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, body)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	mux.Handle("POST /v1/transcribe", s.apiKeys.Require(web.ScopeTranscribe, http.HandlerFunc(s.handleTranscribe)))
	s.mountDesk(mux)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "callbrief: asr=%s vad=%s\nendpoints: GET /healthz /readyz /metrics, POST /v1/transcribe and /v1/calls (body: a WAV file), live calls: /call/ (WHIP: /v1/whip), agent desk: /desk/\n", s.asrName, s.vadName)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("serve", &c, stderr)
	addr := fs.String("addr", "", "listen address (overrides http.addr)")
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	if *addr != "" {
		c.cfg.HTTP.Addr = *addr
	}
	eng, err := app.NewEngines(c.cfg, c.log)
	if err != nil {
		return err
	}
	defer eng.Close()
	// Load the engines now so a missing model fails at start, not on the
	// first call.
	rec, err := eng.Recognizer()
	if err != nil {
		return fmt.Errorf("asr: %w", err)
	}
	defer rec.Close()
	det, err := eng.NewDetector()
	if err != nil {
		return fmt.Errorf("vad: %w", err)
	}
	vadName := det.Name()
	det.Close()

	st, err := app.BuildStack(ctx, eng)
	if err != nil {
		return err
	}
	defer st.Close()
	s := &server{eng: eng, stack: st, rec: rec, cfg: c.cfg, log: c.log, metrics: eng.Metrics(), started: time.Now(), asrName: rec.Name(), vadName: vadName}
	var cutUploads context.CancelFunc
	s.cut, cutUploads = context.WithCancel(context.Background())
	defer cutUploads()
	maxCalls := c.cfg.Admit.Max
	if maxCalls == 0 {
		maxCalls = runtime.NumCPU()
	}
	s.admit = admit.New(maxCalls, c.cfg.Admit.Queue)
	if s.apiKeys, err = apiKeys(c.cfg, stdout); err != nil {
		return err
	}
	announceDev(c.cfg, c.log, stdout)
	ln, err := net.Listen("tcp", c.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http.addr %s: %w", c.cfg.HTTP.Addr, err)
	}
	mux := s.routes()
	callCtx, stopCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCalls()
	if err := s.mountLive(callCtx, mux); err != nil {
		return fmt.Errorf("live calls: %w", err)
	}
	if c.cfg.Store.Shared() {
		// Desks of a node that died are noticed by the others: their
		// calls go back to the queue after the lease.
		swept := make(chan struct{})
		go func() { defer close(swept); s.desk.SweepAbsent(callCtx) }()
		defer func() { stopCalls(); <-swept }()
	}
	// Offers ring out (desk.ring_out): checked four times per ring time,
	// so a call moves at most a quarter late.
	rang := make(chan struct{})
	go func() {
		defer close(rang)
		s.stack.Engine.RunRingOut(callCtx, max(s.cfg.Desk.RingOut/4, 250*time.Millisecond))
	}()
	defer func() { stopCalls(); <-rang }()
	if err := s.mountSIP(callCtx); err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// Shutdown does not end WebSockets: the desks' feeds are ended (the
	// desks reconnect to another node) once requests stop coming.
	srv.RegisterOnShutdown(s.desk.EndFeeds)
	c.log.Info("callbrief serving", "addr", ln.Addr().String(), "asr", rec.Name(), "vad", vadName)
	fmt.Fprintf(stdout, "callbrief listening on http://%s (caller page: /call/, agent desk: /desk/, health: /healthz, metrics: /metrics)\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Drain: every ingress refuses new calls at once (uploads and WHIP
	// 503 with Retry-After, SIP INVITE and OPTIONS 503 so a proxy moves
	// on, readyz not ready), while the calls in progress (uploads being
	// processed, live WebRTC and SIP calls) go on to their end, up to
	// shutdown.drain. Then the calls still up are hung up (BYE, peer
	// connection closed) and the uploads still running cut, each with its
	// brief kept and marked for a call-back. A second signal forces it.
	s.draining.Store(true)
	s.whip.Drain()
	if s.sip != nil {
		s.sip.Drain()
	}
	c.log.Info("draining: no new calls; the calls in progress may finish", "deadline", c.cfg.Shutdown.Drain,
		"live_calls", s.whip.Active(), "sip_calls", s.sipActive(), "uploads", s.uploads.Load())
	force := make(chan os.Signal, 1)
	signal.Notify(force, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(force)
	// The whole shutdown: the drain, then hanging up what remains (its
	// briefs stored) and closing the listener and the desks.
	sctx, cancel := context.WithTimeout(context.Background(), c.cfg.Shutdown.Drain+hangupBound)
	defer cancel()
	go func() {
		select {
		case <-force:
			c.log.Warn("second signal: forcing shutdown")
			cancel()
		case <-sctx.Done():
		}
	}()
	dctx, endDrain := context.WithTimeout(sctx, c.cfg.Shutdown.Drain)
	drainStart := time.Now()
	s.awaitCalls(dctx)
	endDrain()
	if live, sipCalls, up := s.whip.Active(), s.sipActive(), s.uploads.Load(); live+sipCalls+int(up) > 0 {
		c.log.Warn("drain deadline: hanging up the calls still in progress; their briefs are kept and marked for a call-back",
			"live_calls", live, "sip_calls", sipCalls, "uploads", up)
	} else {
		c.log.Info("drained: every call in progress ended", "took", time.Since(drainStart).Round(time.Millisecond))
	}
	cutUploads()
	if err := s.whip.Close(sctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		c.log.Warn("closing live calls", "err", err)
	}
	if s.sip != nil {
		if err := s.sip.Close(sctx); err != nil {
			c.log.Warn("closing sip calls", "err", err)
		}
	}
	s.awaitUploads(sctx)
	stopCalls()
	err = srv.Shutdown(sctx)
	// The desks were told to reconnect elsewhere. Their agents keep their
	// calls if they do within the grace, which is waited for only when
	// another node can take them (a shared store); a lone node's queue
	// goes with it.
	gctx, stopGrace := context.WithCancel(sctx)
	if !s.cfg.Store.Shared() {
		stopGrace()
	}
	s.desk.Close(gctx)
	stopGrace()
	if err != nil && !errors.Is(err, context.Canceled) {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	c.log.Info("stopped")
	return nil
}

// hangupBound is the time past the drain deadline given to hang up the
// calls still up and store their briefs.
const hangupBound = 15 * time.Second

func (s *server) sipActive() int {
	if s.sip == nil {
		return 0
	}
	return s.sip.Active()
}

// awaitCalls waits until no call is in progress on any ingress, or ctx is
// done.
func (s *server) awaitCalls(ctx context.Context) {
	_ = s.whip.Wait(ctx)
	if s.sip != nil {
		_ = s.sip.Wait(ctx)
	}
	s.awaitUploads(ctx)
}

// awaitUploads waits until no recorded call is in progress, or ctx is
// done.
func (s *server) awaitUploads(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for s.uploads.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readiness checks every part a call needs: the knowledge base opened and
// warm, the store answering (Redis when shared), and the engines loaded at
// start. Only a node that can brief a call says it is ready; the reason of
// a part that is not is named (never an address or a secret).
func (s *server) readiness(ctx context.Context) (map[string]any, bool) {
	ok := true
	body := map[string]any{"asr": s.asrName, "vad": s.vadName, "onnxruntime": ort.Version()}
	kb := s.eng.KBState()
	body["kb"] = kb
	if !kb.Ready {
		ok = false
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	storeState := "ok"
	if err := s.stack.KV.Ping(cctx); err != nil {
		storeState, ok = "unavailable", false
		// A node with room in its outbox still takes calls (kept, then
		// delivered when Redis returns): taking every node out of the load
		// balancer during a Redis outage would turn callers away instead.
		if ob := s.stack.Outbox; ob != nil && !ob.Full() {
			storeState, ok = "unavailable: calls kept in the outbox until it returns", true
		}
	}
	body["store"] = storeState
	// The speech server's state: while it is down or restarting the node
	// still takes calls (pocketsphinx stands in, English only), so this
	// does not make the node unready; it says so instead.
	if st := s.eng.ASRStatus(); st != nil {
		body["recognizer"] = st
	}
	body["store_persistence"] = s.stack.Persistence(cctx)
	if s.stack.Outbox != nil {
		// Calls kept while Redis was down: the node still takes calls.
		body["outbox"] = s.stack.Outbox.Len()
	}
	body["status"] = "ready"
	if !ok {
		body["status"] = "not ready"
	}
	return body, ok
}
