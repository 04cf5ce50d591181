package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/callbrief/callbrief/handoff"
)

// uploadAnswer is what POST /v1/calls answers: the call's result and its
// times as the caller sees them.
type uploadAnswer struct {
	CallID string        `json:"call_id"`
	Brief  handoff.Brief `json:"brief"`
	Timing struct {
		QueuedMS         *float64 `json:"queued_ms"`
		ToTranscriptMS   *float64 `json:"speech_end_to_transcript_ms"`
		ToIntentMS       *float64 `json:"speech_end_to_intent_ms"`
		HandoffToBriefMS *float64 `json:"handoff_to_brief_ms"`
	} `json:"timing"`
}

// apiErr is the error body every callbrief endpoint answers with.
type apiErr struct {
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

// upload places rec as a recorded call on o.Target. It returns a refusal
// (and how long it asks to wait) for 503/429; every other end is set on o.
func (r *runner) upload(ctx context.Context, o *Outcome, rec *Recording) (*Refusal, time.Duration) {
	q := url.Values{}
	if rec.Caller != "" {
		q.Set("caller", rec.Caller)
	}
	if len(rec.Answers) > 0 {
		q.Set("answers", strings.Join(rec.Answers, ","))
	}
	var wrote atomic.Bool
	tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) }})
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, o.Target+"/v1/calls?"+q.Encode(), bytes.NewReader(rec.WAV))
	if err != nil {
		o.Class, o.Error = ClassClientError, err.Error()
		return nil, 0
	}
	req.Header.Set("Content-Type", "audio/wav")
	if r.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+r.cfg.APIKey)
	}
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		transportFailure(ctx, o, err, wrote.Load())
		return nil, 0
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		o.Status = resp.StatusCode
		transportFailure(ctx, o, err, true)
		return nil, 0
	}
	var e apiErr
	if resp.StatusCode != http.StatusOK {
		_ = json.Unmarshal(body, &e)
	}
	if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
		o.Status = resp.StatusCode
		return refusal(resp.StatusCode, e.Error.Code, resp.Header.Get("Retry-After"))
	}
	classify(o, resp.StatusCode, e.Error.Code)
	if o.Class != ClassOK {
		o.Error = truncate(strings.TrimSpace(string(body)), 300)
		return nil, 0
	}
	var a uploadAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		o.Class, o.Error = ClassServerError, fmt.Sprintf("reading the result: %v", err)
		return nil, 0
	}
	o.CallID = a.CallID
	o.QueuedMS, o.ToTranscriptMS, o.ToIntentMS, o.HandoffToBriefMS = a.Timing.QueuedMS, a.Timing.ToTranscriptMS, a.Timing.ToIntentMS, a.Timing.HandoffToBriefMS
	o.Transcript = a.Brief.Transcript.Text()
	if len(a.Brief.Transcript.Segments) > 0 {
		o.Engine = a.Brief.Transcript.Segments[0].Engine
	}
	return nil, 0
}

// transportFailure classes a request that got no answer: never sent
// whole (the node is down or not accepting: unreachable) or sent and never
// answered (lost).
func transportFailure(ctx context.Context, o *Outcome, err error, wrote bool) {
	o.Error = truncate(err.Error(), 300)
	reason := "connection"
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		reason = "deadline"
	} else if isRefused(err) {
		reason = "connection refused"
	}
	o.Class, o.Reason = ClassLost, reason
	if !wrote {
		o.Class = ClassUnreachable
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
