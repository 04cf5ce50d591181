package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/internal/admit"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/pipeline"
)

// maxUpload bounds a posted recording: 10 minutes of 16-bit stereo 48 kHz.
const maxUpload = 120 << 20

// apiError is the one shape every HTTP error takes.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	if code == "internal" {
		// An unexpected failure's text names internal addresses and
		// engines (a speech server's URL, a Redis address): it goes to
		// the log at the call site, never to whoever sent the request.
		msg = "internal error; the node's log has the details"
	}
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

// statusOf is the one place that maps errors to HTTP status codes.
func statusOf(err error) (int, string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, media.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, media.ErrNotWAV), errors.Is(err, media.ErrTruncated), errors.Is(err, media.ErrNoSamples),
		errors.Is(err, media.ErrUnsupportedEncoding), errors.Is(err, media.ErrUnsupportedChannels), errors.Is(err, media.ErrUnsupportedRate),
		errors.Is(err, media.ErrMalformed), errors.Is(err, media.ErrNoFormat), errors.Is(err, media.ErrUnsupportedBits),
		errors.Is(err, media.ErrInvalidAudio):
		return http.StatusUnprocessableEntity, "bad_audio"
	case errors.Is(err, asr.ErrUnsupportedLanguage), errors.Is(err, asr.ErrUnsupportedMode):
		return http.StatusBadRequest, "unsupported"
	case errors.Is(err, asr.ErrModelMissing):
		return http.StatusServiceUnavailable, "model_missing"
	}
	return http.StatusInternalServerError, "internal"
}

// handleTranscribe runs a posted WAV file through the listening stage and
// returns the transcript. It is the simplest ingress: a recorded call.
func (s *server) handleTranscribe(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		s.refuseDraining(w)
		return
	}
	release, ok := s.admitUpload(w, r)
	if !ok {
		return
	}
	defer release()
	callID := call.NewID(time.Now())
	log := s.log.With("call_id", callID)
	s.metrics.ActiveCalls.Inc()
	defer s.metrics.ActiveCalls.Dec()
	start := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpload))
	if err != nil {
		status, code := statusOf(err)
		httpError(w, status, code, fmt.Sprintf("reading the upload: %v (limit %d MiB)", err, maxUpload>>20))
		return
	}
	a, err := media.ReadWAV(bytes.NewReader(body))
	if err == nil {
		var pcm []int16
		pcm, err = a.PCM16(vad.SampleRate)
		if err == nil {
			var det vad.Detector
			det, err = s.eng.NewDetector()
			if err == nil {
				var tr call.Transcript
				var st pipeline.FileStats
				cfg := pipeline.ListenConfig{Endpoint: s.cfg.VAD.Endpoint, Stream: asr.StreamConfig{Language: call.Language(r.URL.Query().Get("lang"))}}
				tr, st, err = pipeline.Transcribe(r.Context(), pcm, det, s.rec, cfg, pipeline.FileOptions{}, log)
				s.metrics.Observe("listen", s.rec.Name(), time.Since(start), err)
				if err == nil {
					tr.CallID = callID
					log.Info("transcribed upload", "segments", len(tr.Segments), "audio_s", st.Audio.Seconds(), "rtf", st.RTF())
					writeJSON(w, http.StatusOK, map[string]any{"transcript": tr, "text": tr.Text(), "audio_s": st.Audio.Seconds(), "rtf": st.RTF()})
					return
				}
			}
		}
	}
	status, code := statusOf(err)
	log.Warn("transcribe failed", "status", status, "err", err)
	httpError(w, status, code, err.Error())
}

// admitUpload takes a place for a recorded call in recognition, or
// answers 503 with Retry-After (and false) when the node is full. The
// body's read deadline is set too: a slow sender must not hold a place.
func (s *server) admitUpload(w http.ResponseWriter, r *http.Request) (func(), bool) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Admit.Wait)
	defer cancel()
	release, err := s.admit.Acquire(ctx)
	s.metrics.Observe("admission", "uploads", 0, err)
	if err != nil {
		var o *admit.Overloaded
		if errors.As(err, &o) {
			w.Header().Set("Retry-After", strconv.Itoa(int(o.RetryAfter/time.Second)))
			httpError(w, http.StatusServiceUnavailable, "overloaded", "this node is recognising as many calls as it can ("+o.Reason+"); retry later or on another node")
			return nil, false
		}
		httpError(w, http.StatusServiceUnavailable, "cancelled", "the request ended while waiting for a place")
		return nil, false
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.Admit.BodyTimeout))
	return release, true
}
