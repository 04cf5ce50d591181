package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/callbrief/callbrief/app"
	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/web"
)

// mountDesk puts the agents' desk on mux.
func (s *server) mountDesk(mux *http.ServeMux) {
	d := web.NewDesk(s.stack.Engine, app.SecretOrRandom(s.cfg.Desk.Secret), s.cfg.Desk.TokenTTL, s.log).
		WithReconnectGrace(s.cfg.Desk.ReconnectGrace).
		WithStore(s.stack.KV) // sign-in limits and feed tickets shared by the nodes
	d.Mount(mux)
	s.desk = d // live calls add their audio when mounted
	mux.Handle("POST /v1/calls", s.apiKeys.Require(web.ScopeCalls, http.HandlerFunc(s.handleCallUpload)))
	if s.cfg.Dev.OTPPage {
		// The development SMS gateway shows codes here instead of sending
		// them, without sign-in: only with dev.otp_page, which config
		// refuses together with a shared store.
		mux.HandleFunc("GET /v1/otp/recent", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.stack.Gateway.Recent())
		})
	}
}

// apiKeys builds the authenticator of /v1/calls and /v1/transcribe from
// api.keys and api.key. With none configured and no shared store, it makes
// a development key and prints it (on stdout, once, never to the log);
// config refuses a shared store without keys.
func apiKeys(cfg config.Config, stdout io.Writer) (*web.APIKeys, error) {
	var keys []web.APIKey
	for _, k := range cfg.API.Keys {
		ak, err := web.ParseAPIKey(k.Name, k.Key, k.Scopes)
		if err != nil {
			return nil, fmt.Errorf("api.keys: %w", err)
		}
		keys = append(keys, ak)
	}
	if cfg.API.Key != "" {
		ak, err := web.ParseAPIKey("api.key", cfg.API.Key, []string{web.ScopeCalls, web.ScopeTranscribe})
		if err != nil {
			return nil, fmt.Errorf("api.key: %w", err)
		}
		keys = append(keys, ak)
	}
	if len(keys) == 0 {
		key, ak := web.NewDevAPIKey()
		keys = append(keys, ak)
		fmt.Fprintf(stdout, "development API key for /v1/calls and /v1/transcribe (none configured; set api.key or api.keys): Authorization: Bearer %s\n", key)
	}
	return web.NewAPIKeys(keys), nil
}

// announceDev says at start which development parts are on, so that none
// reaches production unnoticed.
func announceDev(cfg config.Config, log *slog.Logger, stdout io.Writer) {
	switch cfg.SMS.Gateway {
	case "dev":
		log.Warn("development SMS gateway: one-time codes are not sent to anyone (sms.gateway=dev)")
		fmt.Fprintln(stdout, "development SMS gateway: one-time codes are not sent (sms.gateway=dev)")
	case "http":
		if u, err := url.Parse(cfg.SMS.URL); err == nil {
			log.Info("one-time codes go to the SMS provider", "host", u.Host)
		}
	}
	if cfg.Dev.OTPPage {
		log.Warn("development code page on: GET /v1/otp/recent shows every code, without sign-in (dev.otp_page)")
		fmt.Fprintln(stdout, "development code page: GET /v1/otp/recent (dev.otp_page)")
	}
}

// handleCallUpload runs a recorded call offline: the body is the caller's
// opening turn as a WAV file; ?caller= is the presented number and
// ?answers= the caller's keyed answers to verification questions, comma
// separated (e.g. 951602#). The call ends on the desk with its brief.
func (s *server) handleCallUpload(w http.ResponseWriter, r *http.Request) {
	// Counted before the drain is checked: a drain that starts now either
	// sees this upload or this upload sees the drain.
	s.uploads.Add(1)
	defer s.uploads.Add(-1)
	if s.draining.Load() {
		s.refuseDraining(w)
		return
	}
	// The caller's speech has ended when the upload arrives: every time
	// the response reports counts from here, the wait for a place
	// included, as a caller would count it.
	received := time.Now()
	release, ok := s.admitUpload(w, r)
	if !ok {
		return
	}
	defer release()
	admitted := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpload))
	if err != nil {
		status, code := statusOf(err)
		httpError(w, status, code, fmt.Sprintf("reading the upload: %v", err))
		return
	}
	a, err := media.ReadWAV(bytes.NewReader(body))
	var pcm []int16
	if err == nil {
		pcm, err = a.PCM16(vad.SampleRate)
	}
	if err != nil {
		status, code := statusOf(err)
		s.log.Warn("call upload refused", "status", status, "err", err)
		httpError(w, status, code, err.Error())
		return
	}
	sc := &pipeline.Scenario{Caller: r.URL.Query().Get("caller"), Region: r.URL.Query().Get("region")}
	if ans := r.URL.Query().Get("answers"); ans != "" {
		for _, d := range strings.Split(ans, ",") {
			d = strings.TrimSpace(d)
			if d == "" || strings.Trim(d, "0123456789*#") != "" {
				httpError(w, http.StatusBadRequest, "bad_answers", fmt.Sprintf("answer %q is not DTMF digits (0-9, *, #)", d))
				return
			}
			sc.Answers = append(sc.Answers, pipeline.ScenarioAnswer{DTMF: d})
		}
	}
	callID := call.NewID(time.Now())
	log := s.log.With("call_id", callID)
	s.metrics.ActiveCalls.Inc()
	defer s.metrics.ActiveCalls.Dec()
	cfg := s.stack.CallConfig(s.eng, s.rec, false, log)
	cfg.AnswerTimeout = 2 * time.Second
	// The place is for recognition: an upload's answers are keys, so once
	// its opening is transcribed the rest of the call (understanding,
	// questions waiting for keys, the brief) no longer holds it.
	cfg.Transcriber = releasingTranscriber{Transcriber: cfg.Transcriber, release: release}
	// Traced so that a call cut by the node's shutdown (the drain
	// deadline) still leaves what was heard and understood on the desk.
	trace := &liveTrace{}
	cfg.Transcriber = tracedTranscriber{cfg.Transcriber, trace}
	cfg.Understander = tracedUnderstander{cfg.Understander, trace}
	cfg.Handoff = tracedHandoff{cfg.Handoff, trace}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	defer context.AfterFunc(s.cut, cancel)()
	start := time.Now()
	res, err := pipeline.RunCall(ctx, cfg, callID, &pipeline.OfflineIngress{Opening16k: pcm, Scenario: sc})
	s.metrics.Observe("call", s.rec.Name(), time.Since(start), err)
	if err != nil && s.cut.Err() != nil {
		s.keepCut(callID, trace, log)
		httpError(w, http.StatusServiceUnavailable, "drained",
			fmt.Sprintf("this node shut down before call %s ended; its brief is kept on the desk, marked for a call-back", callID))
		return
	}
	if err != nil {
		status, code := statusOf(err)
		log.Warn("call failed", "err", err)
		httpError(w, status, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, uploadResult{Result: res, Timing: timingOf(res, start.Sub(received), admitted.Sub(received))})
}

// refuseDraining answers a new call on a draining node: 503 with a
// Retry-After, to be placed on another node.
func (s *server) refuseDraining(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	httpError(w, http.StatusServiceUnavailable, "draining", "this node is draining; retry on another")
}

// releasingTranscriber frees the call's admission place when the opening
// turn's transcription ends (release may be called more than once).
type releasingTranscriber struct {
	pipeline.Transcriber
	release func()
}

func (t releasingTranscriber) Transcribe(ctx context.Context, samples []int16, mode asr.Mode) (call.Transcript, error) {
	tr, err := t.Transcriber.Transcribe(ctx, samples, mode)
	if mode == asr.ModeFree {
		t.release()
	}
	return tr, err
}

// uploadResult is the answer to POST /v1/calls: the call's result and its
// times as the caller sees them.
type uploadResult struct {
	pipeline.Result
	Timing uploadTiming `json:"timing"`
}

// uploadTiming are an upload's times in milliseconds. The speech_end ones
// count from the request's arrival (the recording is whole by then), so
// they include the wait for a place and reading the body; a stage the call
// never reached is absent.
type uploadTiming struct {
	QueuedMS         float64  `json:"queued_ms"`
	ToTranscriptMS   *float64 `json:"speech_end_to_transcript_ms,omitempty"`
	ToIntentMS       *float64 `json:"speech_end_to_intent_ms,omitempty"`
	ToHandoffMS      *float64 `json:"speech_end_to_handoff_ms,omitempty"`
	HandoffToBriefMS *float64 `json:"handoff_to_brief_ms,omitempty"`
}

// timingOf reads the call's state changes: the transcript is there when
// understanding starts, the intent when verification or the handoff
// starts, the brief when the call is done (stored and queued for the
// desk). before is the time from the request's arrival to the call's
// start.
func timingOf(res pipeline.Result, before, queued time.Duration) uploadTiming {
	at := map[pipeline.State]time.Duration{}
	for _, t := range res.Transitions {
		if _, seen := at[t.State]; !seen {
			at[t.State] = t.At
		}
	}
	ms := func(d time.Duration) *float64 { v := float64(d.Microseconds()) / 1000; return &v }
	t := uploadTiming{QueuedMS: *ms(queued)}
	if u, ok := at[pipeline.StateUnderstanding]; ok {
		t.ToTranscriptMS = ms(before + u)
	}
	for _, next := range []pipeline.State{pipeline.StateVerifying, pipeline.StateHandingOff} {
		if v, ok := at[next]; ok {
			t.ToIntentMS = ms(before + v)
			break
		}
	}
	if h, ok := at[pipeline.StateHandingOff]; ok {
		t.ToHandoffMS = ms(before + h)
		if d, ok := at[pipeline.StateDone]; ok {
			t.HandoffToBriefMS = ms(d - h)
		}
	}
	return t
}
