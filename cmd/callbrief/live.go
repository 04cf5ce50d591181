package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/media/sip"
	"github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/obs"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/tts"
	"github.com/callbrief/callbrief/web"
	"github.com/callbrief/callbrief/web/caller"
)

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// captioned publishes each final transcript of a live call to the caller
// page, so the caller sees they were understood.
type captioned struct {
	pipeline.Transcriber
	hub    *caller.Hub
	callID string
}

func (c captioned) Transcribe(ctx context.Context, samples []int16, mode asr.Mode) (call.Transcript, error) {
	tr, err := c.Transcriber.Transcribe(ctx, samples, mode)
	if err == nil && mode == asr.ModeFree {
		if text := tr.Text(); text != "" {
			c.hub.Publish(ctx, c.callID, caller.Caption{Text: text, Final: true})
		}
	}
	return tr, err
}

// mountLive adds live calls: the WHIP endpoint, the caller page and its
// captions. Each call runs the whole pipeline, greeting to handoff.
func (s *server) mountLive(ctx context.Context, mux *http.ServeMux) error {
	synth, err := s.eng.Synthesizer()
	if err != nil {
		return err
	}
	// The same few sentences are said on every call.
	synth = tts.NewCache(synth, 0)
	hub := caller.NewHub()
	w := s.cfg.WebRTC
	var ice []webrtc.ICEServer
	if urls := splitList(w.STUN); len(urls) > 0 {
		ice = append(ice, webrtc.ICEServer{URLs: urls})
	}
	if urls := splitList(w.TURN); len(urls) > 0 {
		ice = append(ice, webrtc.ICEServer{URLs: urls, Username: w.TURNUsername, Credential: w.TURNCredential,
			Secret: w.TURNSecret, TTL: w.TURNTTL})
	}
	ws, err := webrtc.NewServer(webrtc.Config{
		BasePath: "/v1/whip", ICEServers: ice, PublicIPs: splitList(w.PublicIPs),
		UDPPortMin: uint16(w.UDPPortMin), UDPPortMax: uint16(w.UDPPortMax), Loopback: w.Loopback,
		ICETimeout: w.ICETimeout, MaxCalls: w.MaxCalls, Logger: s.log,
		OnCall: func(c webrtc.Call) { s.runLiveCall(ctx, c, synth, hub) },
	})
	if err != nil {
		return err
	}
	s.whip = ws
	s.lines = newLines(ws, s.stack.KV, s.cfg.HTTP.AdvertiseURL, s.log)
	if s.desk != nil {
		s.desk.WithMedia(s.lines)
	}
	// The pages configure their peer connections with the same STUN/TURN
	// servers (RTCPeerConnection's iceServers, as is).
	mux.HandleFunc("GET /v1/ice-servers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, ws.ICEServers())
	})
	// The caller's device reaches the page and its offers anonymously:
	// each address is limited (webrtc.offers_per_minute, page_per_minute).
	// Only offers count against the WHIP limit: a caller's trickle and
	// hang-up must get through.
	offers := web.NewAddressLimit(w.OffersPerMinute, 5).Wrap(http.StripPrefix("/v1/whip", ws), http.MethodPost)
	// Both patterns: a bare POST to /v1/whip must not be redirected.
	mux.Handle("/v1/whip", offers)
	mux.Handle("/v1/whip/", offers)
	page, err := caller.New(caller.Config{WHIP: "/v1/whip", Captions: "/call/captions/", Resolve: ws.CallOfResource}, hub)
	if err != nil {
		return err
	}
	mux.Handle("/call/", web.NewAddressLimit(w.PagePerMinute, 60).Wrap(http.StripPrefix("/call", page)))
	return nil
}

// runLiveCall drives one live call to the desk, records its measures,
// then keeps the caller on hold until the agent who accepts the call joins
// its audio from the desk, and bridges them. A caller who hangs up before
// the handoff still leaves a brief on the desk: what was heard and
// understood so far, with the reason "abandoned".
func (s *server) runLiveCall(ctx context.Context, c webrtc.Call, synth tts.Synthesizer, hub *caller.Hub) {
	s.runCall(ctx, c, synth, callOpts{hub: hub, join: true, lang: call.LangMandarin})
}

// callOpts is what differs between the ingresses a call can come in by.
type callOpts struct {
	hub  *caller.Hub // captions to the caller page (WebRTC); nil: none
	join bool        // the agent may join the call's audio from the desk
	// external: the call was made by another ingress than WebRTC (SIP);
	// the agent's WebRTC leg is bridged to it by transcoding.
	external bool
	// number is what the network says of the caller (a claim: it never
	// verifies anyone); lang the language the caller is greeted in.
	number string
	lang   call.Language
}

// runCall runs one live call, whichever ingress it came in by, through
// the same pipeline: greeting, turns, verification, handoff, hold.
func (s *server) runCall(ctx context.Context, c webrtc.Call, synth tts.Synthesizer, o callOpts) {
	if o.hub != nil {
		defer o.hub.End(c.ID())
	}
	log := s.log.With("call_id", c.ID())
	s.metrics.ActiveCalls.Inc()
	defer s.metrics.ActiveCalls.Dec()
	var ln *line
	if o.join {
		if o.external {
			ln = s.lines.openExternal(c)
		} else {
			ln = s.lines.open(c.ID())
		}
		defer s.lines.close(c.ID())
	}
	defer c.Close()
	w := s.cfg.WebRTC
	trace := &liveTrace{}
	// The caller's turns arrive in real time already; transcribing them is
	// not paced again (that would add the turn's length to the latency).
	cfg := s.stack.CallConfig(s.eng, s.rec, false, log)
	cfg.AnswerTimeout = w.AnswerTimeout
	var paused *pipeline.PausedTranscriber
	if s.cfg.VAD.PauseDecode > 0 {
		// The opening turn is recognised at the caller's pauses while they
		// speak; nothing it sends off outlives the call.
		paused = &pipeline.PausedTranscriber{Base: cfg.Transcriber, Tail: s.cfg.VAD.Endpoint.Hangover - s.cfg.VAD.PauseDecode, Log: log,
			// The guess's sentence embedding, started at the pause, is what
			// lets the intent step at the endpoint use e5 in time.
			OnGuess: func(tr call.Transcript) { s.eng.WarmTurn(ctx, tr.Text()) }}
		cfg.Transcriber = paused
		defer paused.Wait()
	}
	cfg.Transcriber = tracedTranscriber{cfg.Transcriber, trace}
	if o.hub != nil {
		cfg.Transcriber = captioned{Transcriber: cfg.Transcriber, hub: o.hub, callID: c.ID()}
	}
	cfg.Understander = tracedUnderstander{cfg.Understander, trace}
	sc, isSIP := c.(*sip.Call)
	if isSIP && len(s.acd) > 0 {
		// The brief of a call its group's ACD is to take is stored but
		// not queued for the desk until the transfer is tried.
		cfg.Handoff = transferHandoff{s.stack.Engine, s.acd}
	}
	cfg.Handoff = tracedHandoff{cfg.Handoff, trace}
	in := &pipeline.LiveIngress{Call: c, Synth: synth, NewDetector: s.eng.NewDetector, Endpoint: s.cfg.VAD.Endpoint,
		Language: o.lang, Number: o.number, TurnTimeout: w.TurnTimeout, PauseAfter: s.cfg.VAD.PauseDecode, Log: log}
	if paused != nil {
		in.Decoder = paused
	}
	// The automated part of the call is bounded; the conversation with
	// the agent is not (the caller or the agent ends it).
	pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	start := time.Now()
	res, err := pipeline.RunCall(pctx, cfg, c.ID(), in)
	cancel()
	s.metrics.Observe("live_call", s.rec.Name(), time.Since(start), err)
	m := trace.measures()
	st := c.Stats()
	m.FramesDropped, m.Jitter = st.FramesDropped, st.Jitter
	defer func() { s.metrics.ObserveLiveCall(m) }()
	switch {
	case err == nil:
		m.Outcome = "handed_over"
		log.Info("live call handed over", "group", res.Brief.Route.Group, "intent", res.Brief.Intent.Intent)
	case errors.Is(c.Err(), webrtc.ErrClosed):
		// Hung up by the node at its drain deadline (SIP calls' cause
		// wraps it too): the caller is to be called back.
		m.Outcome = "cut"
		s.keepCut(c.ID(), trace, log)
	case hungUp(err) && !trace.handedOver():
		m.Outcome = "abandoned"
		log.Info("caller hung up before the handoff; sending what we have to the desk")
		// The call's context may be ending with the caller; the brief
		// must still be stored.
		hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		b, herr := s.stack.Engine.Handoff(hctx, trace.abandoned(c.ID(), time.Now()))
		hcancel()
		if herr != nil {
			log.Warn("abandoned call: brief not stored", "err", herr)
		} else {
			log.Info("abandoned call on the desk", "group", b.Route.Group, "reason", b.Reason)
		}
	default:
		m.Outcome = "failed"
		log.Warn("live call failed", "err", err)
	}
	log.Info("live call measures", "outcome", m.Outcome, "speech_end_to_transcript", m.ToTranscript,
		"speech_end_to_intent", m.ToIntent, "speech_end_to_handoff", m.ToHandoff, "frames_dropped", m.FramesDropped, "jitter", m.Jitter)
	if err != nil {
		return
	}
	if target, ok := s.acd[res.Brief.Route.Group]; ok {
		if !isSIP || res.Brief.Delivery != handoff.DeliveryTransfer {
			// The group's calls go to the contact centre, but only a SIP
			// call can be transferred there (or the brief was kept during
			// a store outage and is queued for the desk).
			why := "the contact centre takes SIP calls only; this one came by WebRTC and went to the desk"
			if isSIP {
				why = "the brief could not be stored for the contact centre; the call went to the desk"
			}
			nctx, ncancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := s.stack.Engine.Note(nctx, c.ID(), why); err != nil {
				log.Warn("brief not marked", "err", err)
			}
			ncancel()
		} else if s.transfer(ctx, sc, target, log) {
			return
		}
	}
	// On hold (in the caller's language, at their pace) until the agent
	// joins.
	hc := s.lines.holdConfig(c.ID(), ln, w.HoldTimeout, s.stack.Engine.QueuePosition)
	if o.hub != nil {
		// The caller's page shows their place on hold, in their language,
		// pushed as the queue moves (on any node).
		lang := caller.PageLang(string(res.Brief.Language.Language))
		wctx, stopWatch := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			s.stack.Engine.WatchPosition(wctx, c.ID(), func(st handoff.HoldStatus) {
				o.hub.Publish(wctx, c.ID(), caller.Caption{Queue: &caller.Queue{State: st.State, Position: st.Position, Lang: lang}})
			})
		}()
		defer func() { stopWatch(); <-watched }()
		onState := hc.OnState
		hc.OnState = func(state, mode string) {
			onState(state, mode)
			if state == "bridged" {
				// Talking with the agent: no longer on hold.
				stopWatch()
				<-watched
				o.hub.Publish(ctx, c.ID(), caller.Caption{Queue: &caller.Queue{State: "gone", Lang: lang}})
			}
		}
	}
	hr, err := in.Hold(ctx, hc)
	m.Hold, m.Talked, m.BridgeMode, m.Ended, m.Bridged = hr.Waited, hr.Talked, hr.Mode, hr.Ended, hr.Bridged
	if err != nil {
		log.Warn("bridge failed", "err", err)
	}
	// Nobody talked to the caller: the desk must know they are gone.
	var why string
	switch {
	case hr.Bridged:
	case hr.Ended == pipeline.EndCaller:
		why = "the caller hung up while waiting for an agent"
	case hr.Ended == pipeline.EndTimeout:
		why = fmt.Sprintf("no agent joined within %s; the caller was told they will be called back", w.HoldTimeout)
	case hr.Ended == pipeline.EndShutdown:
		why = shutdownWhy
	}
	if hr.Bridged && hr.Ended == pipeline.EndShutdown {
		// Talking with the agent when the node's drain deadline came.
		nctx, ncancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := s.stack.Engine.Note(nctx, c.ID(), "the node shut down during the conversation with the agent; call the caller back"); err != nil {
			log.Warn("brief not marked", "err", err)
		}
		ncancel()
	}
	if why != "" {
		hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := s.stack.Engine.CallerLeft(hctx, c.ID(), why); err != nil {
			log.Warn("could not mark the brief abandoned", "err", err)
		}
		hcancel()
	}
	log.Info("live call over", "bridged", hr.Bridged, "mode", hr.Mode, "hold", hr.Waited.Round(time.Millisecond),
		"talked", hr.Talked.Round(time.Millisecond), "agent_legs", hr.Legs, "ended_by", hr.Ended)
}

// hungUp reports whether err means the caller left.
func hungUp(err error) bool {
	return errors.Is(err, webrtc.ErrHangup) || errors.Is(err, webrtc.ErrPeerGone) || errors.Is(err, pipeline.ErrHangup)
}

// shutdownReason marks the brief of a call the node hung up at its drain
// deadline before the handoff; shutdownWhy is said of every call it hung
// up with no agent talking to the caller.
const (
	shutdownReason = "shutdown: the node shut down before the handoff"
	shutdownWhy    = "the node shut down (drain deadline) before an agent took the call; call the caller back"
)

// keepCut keeps the brief of a call the node cut at its drain deadline:
// what was heard and understood so far, on the desk in its group's
// call-back list, marked. A call already handed over keeps its brief and
// is marked.
func (s *server) keepCut(callID string, t *liveTrace, log *slog.Logger) {
	// The call's own context is ending with the node; the brief must
	// still be stored.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !t.handedOver() {
		req := t.cut(callID, time.Now(), shutdownReason, "the node shut down before verification ended")
		b, err := s.stack.Engine.Handoff(ctx, req)
		if err != nil {
			log.Error("call cut by the shutdown: brief not stored", "err", err)
			return
		}
		log.Info("call cut by the shutdown: brief on the desk", "group", b.Route.Group, "delivery", b.Delivery)
	}
	if err := s.stack.Engine.CallerLeft(ctx, callID, shutdownWhy); err != nil {
		log.Warn("call cut by the shutdown: brief not marked for a call-back", "err", err)
	}
}

// abandonedReason marks the brief of a caller who hung up before the
// handoff.
const abandonedReason = "abandoned: the caller hung up before the handoff"

// liveTrace follows one live call through the pipeline's stages: when the
// caller's first turn ended, when its transcript, intent and handoff came,
// and what was heard and understood (for the brief of an abandoned call).
type liveTrace struct {
	mu                                      sync.Mutex
	speechEnd, transcribed, intent, handoff time.Time
	transcript                              call.Transcript
	understood                              *pipeline.Understanding
}

func (t *liveTrace) handedOver() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.handoff.IsZero()
}

func (t *liveTrace) measures() obs.LiveCall {
	t.mu.Lock()
	defer t.mu.Unlock()
	var m obs.LiveCall
	since := func(at time.Time) time.Duration {
		if at.IsZero() || t.speechEnd.IsZero() {
			return 0
		}
		return at.Sub(t.speechEnd)
	}
	m.ToTranscript, m.ToIntent, m.ToHandoff = since(t.transcribed), since(t.intent), since(t.handoff)
	return m
}

// abandoned is the handoff request of a call whose caller hung up: the
// transcript and understanding so far, unverified.
func (t *liveTrace) abandoned(callID string, now time.Time) handoff.Request {
	return t.cut(callID, now, abandonedReason, "the caller hung up before verification ended")
}

// cut is the handoff request of a call ended before its handoff, for
// reason: the transcript and understanding so far, unverified.
func (t *liveTrace) cut(callID string, now time.Time, reason, unverified string) handoff.Request {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.transcript
	tr.CallID = callID
	req := handoff.Request{CallID: callID, At: now, Transcript: tr, Reason: reason,
		Verification: call.VerificationOutcome{Status: call.StatusUnverified, Reason: unverified, At: now}}
	if u := t.understood; u != nil {
		req.Intent, req.Slots, req.Urgency, req.Language = u.Intent, u.Slots, u.Urgency, u.Language
		req.Verification.Intent = string(u.Intent.Intent)
	} else {
		req.Intent = call.IntentResult{Intent: call.IntentOutOfScope, Rejected: true}
		req.Language = call.LanguageResult{Language: call.LangUndetermined}
	}
	return req
}

type tracedTranscriber struct {
	pipeline.Transcriber
	t *liveTrace
}

func (x tracedTranscriber) Transcribe(ctx context.Context, samples []int16, mode asr.Mode) (call.Transcript, error) {
	first := false
	if mode == asr.ModeFree {
		x.t.mu.Lock()
		// The opening turn is handed over the moment the endpoint fires.
		if first = x.t.speechEnd.IsZero(); first {
			x.t.speechEnd = time.Now()
		}
		x.t.mu.Unlock()
	}
	tr, err := x.Transcriber.Transcribe(ctx, samples, mode)
	if first && err == nil {
		x.t.mu.Lock()
		x.t.transcribed, x.t.transcript = time.Now(), tr
		x.t.mu.Unlock()
	}
	return tr, err
}

type tracedUnderstander struct {
	pipeline.Understander
	t *liveTrace
}

func (x tracedUnderstander) Understand(ctx context.Context, text string, tag call.Language) (pipeline.Understanding, error) {
	u, err := x.Understander.Understand(ctx, text, tag)
	if err == nil {
		x.t.mu.Lock()
		if x.t.understood == nil {
			x.t.intent, x.t.understood = time.Now(), &u
		}
		x.t.mu.Unlock()
	}
	return u, err
}

// RefineIntent passes the second answer through (the wrapper would hide
// it otherwise: pipeline finds it by a type assertion) and keeps the
// trace's understanding current for a brief kept at a cut.
func (x tracedUnderstander) RefineIntent(ctx context.Context, text string, prev pipeline.Understanding) (pipeline.Understanding, bool, error) {
	r, ok := x.Understander.(pipeline.IntentRefiner)
	if !ok {
		return prev, false, nil
	}
	u, changed, err := r.RefineIntent(ctx, text, prev)
	if err == nil && changed {
		x.t.mu.Lock()
		x.t.understood = &u
		x.t.mu.Unlock()
	}
	return u, changed, err
}

type tracedHandoff struct {
	next pipeline.Handoff
	t    *liveTrace
}

func (x tracedHandoff) Handoff(ctx context.Context, req handoff.Request) (handoff.Brief, error) {
	b, err := x.next.Handoff(ctx, req)
	if err == nil {
		x.t.mu.Lock()
		x.t.handoff = time.Now()
		x.t.mu.Unlock()
	}
	return b, err
}

// transferHandoff hands a SIP call over with its brief stored for the
// contact centre when its group's calls go there (sip.handoffs).
type transferHandoff struct {
	eng *handoff.Engine
	acd map[string]string // skill group -> ACD URI
}

func (t transferHandoff) Handoff(ctx context.Context, req handoff.Request) (handoff.Brief, error) {
	return t.eng.HandoffOrTransfer(ctx, req, func(group string) bool { _, ok := t.acd[group]; return ok })
}

// briefURL is where the contact centre's agent opens a call's brief.
func (s *server) briefURL(callID string) string {
	base := s.cfg.SIP.DeskURL
	if base == "" {
		base = s.cfg.HTTP.AdvertiseURL
	}
	return strings.TrimRight(base, "/") + "/desk/api/calls/" + url.PathEscape(callID) + "/brief"
}

// transfer takes a SIP call whose brief is stored to its group's ACD by a
// blind transfer carrying the case: User-to-User (the case id) and
// X-Callbrief-Case (the case id and the brief's URL). It reports whether
// the call is gone (transferred, or its caller left during the attempt);
// otherwise the call has been queued for the desk, its brief saying why
// the transfer failed, and the caller holds for a desk agent.
func (s *server) transfer(ctx context.Context, c *sip.Call, target string, log *slog.Logger) bool {
	id := c.ID()
	start := time.Now()
	err := c.Transfer(ctx, sip.Transfer{Target: target, UUI: []byte(id), Purpose: uuiPurpose,
		Headers: [][2]string{{caseHeader, id + ";brief=" + s.briefURL(id)}}, Timeout: s.cfg.SIP.TransferTimeout})
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer hcancel()
	if err == nil {
		log.Info("call transferred to the contact centre", "to", target, "took", time.Since(start).Round(time.Millisecond))
		if err := s.stack.Engine.Transferred(hctx, id, target); err != nil {
			log.Warn("transferred call's brief not marked", "err", err)
		}
		return true
	}
	log.Warn("transfer to the contact centre failed; the desk takes the call", "to", target, "err", err)
	if err := s.stack.Engine.TransferFailed(hctx, id, err.Error()); err != nil {
		log.Warn("call not queued for the desk after the failed transfer", "err", err)
	}
	if c.Err() != nil {
		if err := s.stack.Engine.CallerLeft(hctx, id, "the caller's side ended the call during the transfer to the contact centre"); err != nil {
			log.Warn("could not mark the brief abandoned", "err", err)
		}
		return true
	}
	return false
}

// What a transferred call carries for the contact centre's ACD.
const (
	// uuiPurpose is the User-to-User purpose (RFC 7433) of the case id.
	uuiPurpose = "callbrief"
	// caseHeader carries "<case id>;brief=<URL of the brief>".
	caseHeader = "X-Callbrief-Case"
)
