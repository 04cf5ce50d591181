package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/tts"
	"github.com/callbrief/callbrief/tts/espeak"
	ttsopenai "github.com/callbrief/callbrief/tts/openai"
	"github.com/callbrief/callbrief/web/caller"
)

// synthesizer is the voice of the prompts: espeak-ng unless an
// OpenAI-compatible speech endpoint is configured.
func (e *engines) synthesizer() (tts.Synthesizer, error) {
	t := e.cfg.TTS
	if t.BaseURL != "" {
		return ttsopenai.New(ttsopenai.Config{BaseURL: t.BaseURL, APIKey: t.APIKey, Model: t.Model, Voice: t.Voice})
	}
	return espeak.New(t.EspeakBin)
}

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
	synth, err := s.eng.synthesizer()
	if err != nil {
		return err
	}
	hub := caller.NewHub()
	w := s.cfg.WebRTC
	var ice []webrtc.ICEServer
	if urls := splitList(w.STUN); len(urls) > 0 {
		ice = append(ice, webrtc.ICEServer{URLs: urls})
	}
	if urls := splitList(w.TURN); len(urls) > 0 {
		ice = append(ice, webrtc.ICEServer{URLs: urls, Username: w.TURNUsername, Credential: w.TURNCredential})
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
	// Both patterns: a bare POST to /v1/whip must not be redirected.
	mux.Handle("/v1/whip", http.StripPrefix("/v1/whip", ws))
	mux.Handle("/v1/whip/", http.StripPrefix("/v1/whip", ws))
	page, err := caller.New(caller.Config{WHIP: "/v1/whip", Captions: "/call/captions/"}, hub)
	if err != nil {
		return err
	}
	mux.Handle("/call/", http.StripPrefix("/call", page))
	return nil
}

// runLiveCall drives one live call to the desk and hangs up the media leg
// when the brief is there (the agent bridge is not built yet).
func (s *server) runLiveCall(ctx context.Context, c webrtc.Call, synth tts.Synthesizer, hub *caller.Hub) {
	defer hub.End(c.ID())
	log := s.log.With("call_id", c.ID())
	s.metrics.ActiveCalls.Inc()
	defer s.metrics.ActiveCalls.Dec()
	cfg := s.stack.callConfig(s.eng, s.rec, true, log)
	cfg.Transcriber = captioned{Transcriber: cfg.Transcriber, hub: hub, callID: c.ID()}
	in := &pipeline.LiveIngress{Call: c, Synth: synth, NewDetector: s.eng.newDetector, Endpoint: s.cfg.VAD.Endpoint,
		Language: call.LangMandarin, TurnTimeout: 12 * time.Second, Log: log}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := pipeline.RunCall(ctx, cfg, c.ID(), in)
	s.metrics.Observe("live_call", s.rec.Name(), time.Since(start), err)
	st := c.Stats()
	s.metrics.DroppedFrames.Add(float64(st.FramesDropped))
	switch {
	case errors.Is(err, webrtc.ErrHangup), errors.Is(err, pipeline.ErrHangup):
		log.Info("caller hung up before the handoff")
	case err != nil:
		log.Warn("live call failed", "err", err)
	default:
		log.Info("live call handed over", "group", res.Brief.Route.Group, "intent", res.Brief.Intent.Intent)
	}
	c.Close()
}
