package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/callbrief/callbrief/app"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/pipeline"
	"github.com/callbrief/callbrief/web"
)

// mountDesk puts the agents' desk on mux.
func (s *server) mountDesk(mux *http.ServeMux) {
	d := web.NewDesk(s.stack.Engine, app.SecretOrRandom(s.cfg.Desk.Secret), s.cfg.Desk.TokenTTL, s.log).
		WithReconnectGrace(s.cfg.Desk.ReconnectGrace)
	d.Mount(mux)
	s.desk = d // live calls add their audio when mounted
	mux.HandleFunc("POST /v1/calls", s.handleCallUpload)
	mux.HandleFunc("GET /v1/otp/recent", func(w http.ResponseWriter, r *http.Request) {
		// The development SMS gateway shows codes here instead of sending
		// them; a real provider has no such page.
		writeJSON(w, http.StatusOK, s.stack.Gateway.Recent())
	})
}

// handleCallUpload runs a recorded call offline: the body is the caller's
// opening turn as a WAV file; ?caller= is the presented number and
// ?answers= the caller's keyed answers to verification questions, comma
// separated (e.g. 951602#). The call ends on the desk with its brief.
func (s *server) handleCallUpload(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		httpError(w, http.StatusServiceUnavailable, "draining", "this node is draining; retry on another")
		return
	}
	release, ok := s.admitUpload(w, r)
	if !ok {
		return
	}
	defer release()
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
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := pipeline.RunCall(ctx, cfg, callID, &pipeline.OfflineIngress{Opening16k: pcm, Scenario: sc})
	s.metrics.Observe("call", s.rec.Name(), time.Since(start), err)
	if err != nil {
		status, code := statusOf(err)
		log.Warn("call failed", "err", err)
		httpError(w, status, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}
