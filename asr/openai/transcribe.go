package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	openaiapi "github.com/sashabaranov/go-openai"

	"github.com/callbrief/callbrief/call"
)

// Error is a failed transcription. It wraps ErrTranscription and the
// underlying cause (an *openai.APIError or *openai.RequestError from
// go-openai, a network error, context.DeadlineExceeded for a per-attempt
// timeout, the caller's context error, a JSON decoding error).
type Error struct {
	// StatusCode is the HTTP status of the last attempt, 0 when there was
	// no HTTP error response (network failure, timeout, bad body).
	StatusCode int
	// Message is the server's error message, or a description of the failure.
	Message string
	// Attempts is how many requests were made.
	Attempts int
	// Err is the cause.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v after %d attempt(s)", ErrTranscription, e.Attempts)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap lets errors.Is/As see ErrTranscription and the cause.
func (e *Error) Unwrap() []error { return []error{ErrTranscription, e.Err} }

// request builds the go-openai request for one utterance.
func (r *Recognizer) request(wav []byte, lang string) openaiapi.AudioRequest {
	req := openaiapi.AudioRequest{
		Model:    r.cfg.Model,
		FilePath: "utterance.wav", // names the multipart file; servers sniff the extension
		Reader:   bytes.NewReader(wav),
		Prompt:   r.cfg.Prompt,
		Language: lang,
		Format:   openaiapi.AudioResponseFormatJSON,
	}
	if r.verbose {
		req.Format = openaiapi.AudioResponseFormatVerboseJSON
		req.TimestampGranularities = []openaiapi.TranscriptionTimestampGranularity{
			openaiapi.TranscriptionTimestampGranularityWord,
			openaiapi.TranscriptionTimestampGranularitySegment,
		}
	}
	return req
}

// transcribe uploads wav, retrying retryable failures, until success, a
// permanent failure, the last attempt, or ctx is done.
// The language probability the server reported, if any, comes with it.
func (r *Recognizer) transcribe(ctx context.Context, wav []byte, lang string) (openaiapi.AudioResponse, langProb, error) {
	attempts := r.cfg.Retries + 1
	var last *server
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return openaiapi.AudioResponse{}, langProb{}, &Error{Attempts: attempt - 1, Message: err.Error(), Err: err}
		}
		if r.slots != nil {
			select {
			case r.slots <- struct{}{}:
			case <-ctx.Done():
				return openaiapi.AudioResponse{}, langProb{}, &Error{Attempts: attempt - 1, Message: "waiting for a free server: " + ctx.Err().Error(), Err: ctx.Err()}
			}
		}
		// Choosing and counting the request are one step, so that pieces
		// of one turn (or calls) starting together spread over the pool
		// rather than all see the same least-loaded server.
		r.pickMu.Lock()
		srv := r.pick(last)
		done := srv.begin()
		r.pickMu.Unlock()
		began := time.Now()
		actx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		var lp langProb
		resp, err := srv.client.CreateTranscription(withLangProb(actx, &lp), r.request(wav, lang))
		cancel()
		if r.slots != nil {
			<-r.slots
		}
		if err == nil {
			done(true)
			r.log.Debug("openai asr: transcribed", "attempt", attempt, "latency", time.Since(began), "bytes", len(wav), "server", srv.index)
			return resp, lp, nil
		}
		e, retryable := r.classify(ctx, err, attempt)
		// Only the server's own failures set it aside, not the caller's
		// giving up or a request it refused as malformed.
		done(!retryable || ctx.Err() != nil)
		last = srv
		if !retryable || attempt >= attempts {
			return openaiapi.AudioResponse{}, langProb{}, e
		}
		if next := r.pick(srv); next != srv {
			// Another server is there: fail over to it at once.
			r.log.Warn("openai asr: attempt failed, trying another server",
				"attempt", attempt, "attempts", attempts, "status", e.StatusCode, "error", e.Message, "server", srv.index, "next", next.index)
			continue
		}
		delay := r.delay(attempt)
		r.log.Warn("openai asr: attempt failed, retrying",
			"attempt", attempt, "attempts", attempts, "status", e.StatusCode, "error", e.Message, "backoff", delay)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			// Sleeping would outlive ctx: give up now.
			return openaiapi.AudioResponse{}, langProb{}, &Error{
				StatusCode: e.StatusCode, Attempts: attempt, Err: errors.Join(context.DeadlineExceeded, err),
				Message: "context deadline before next retry; last error: " + e.Message,
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return openaiapi.AudioResponse{}, langProb{}, &Error{
				StatusCode: e.StatusCode, Attempts: attempt, Err: errors.Join(ctx.Err(), err),
				Message: ctx.Err().Error() + " during backoff; last error: " + e.Message,
			}
		case <-t.C:
		}
	}
}

// delay is the backoff before retry number attempt (1-based): base*2^(n-1)
// capped, minus up to half of it at random so that many calls failing
// together do not retry together.
func (r *Recognizer) delay(attempt int) time.Duration {
	d := r.backoff
	for i := 1; i < attempt && d < r.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.maxBackoff)
	return d - time.Duration(rand.Int64N(int64(d/2)+1))
}

// classify wraps err and reports whether another attempt may succeed.
func (r *Recognizer) classify(ctx context.Context, err error, attempt int) (*Error, bool) {
	e := &Error{Attempts: attempt, Err: err, Message: err.Error()}
	if ctx.Err() != nil { // the caller gave up: never retry
		e.Message = ctx.Err().Error() + ": " + err.Error()
		return e, false
	}
	var apiErr *openaiapi.APIError
	var reqErr *openaiapi.RequestError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &apiErr):
		e.StatusCode = apiErr.HTTPStatusCode
		e.Message = apiErr.Message
		if apiErr.Type != "" {
			e.Message = apiErr.Type + ": " + apiErr.Message
		}
		return e, retryableStatus(e.StatusCode)
	case errors.As(err, &reqErr):
		e.StatusCode = reqErr.HTTPStatusCode
		e.Message = strings.TrimSpace(string(reqErr.Body))
		if len(e.Message) > 512 {
			e.Message = e.Message[:512] + "..."
		}
		if e.Message == "" {
			e.Message = reqErr.HTTPStatus
		}
		return e, retryableStatus(e.StatusCode)
	case errors.Is(err, context.DeadlineExceeded):
		e.Message = fmt.Sprintf("attempt timed out after %v: %v", r.cfg.Timeout, err)
		return e, true
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr):
		e.Message = "malformed response body: " + err.Error()
		return e, false
	}
	// Anything else from go-openai after the request was built is the HTTP
	// round trip or reading the body: transient.
	return e, true
}

func retryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusConflict, code == http.StatusTooManyRequests:
		return true
	case code >= 500:
		return true
	}
	return false
}

// utterance is the audio a Flush sends, in stream time.
type utterance struct {
	start, end time.Duration
	hint       call.Language // the stream's language hint, for mapping the reply
	engine     string
}

// segment builds the final segment from a response. ok is false when the
// response has no text. Times are offset by u.start and clamped to the
// utterance (whisper may report a segment end past the audio).
func (u utterance) segment(resp openaiapi.AudioResponse, lp langProb) (call.Segment, bool) {
	text := strings.TrimSpace(resp.Text)
	if text == "" && len(resp.Segments) > 0 {
		parts := make([]string, 0, len(resp.Segments))
		for _, s := range resp.Segments {
			if t := strings.TrimSpace(s.Text); t != "" {
				parts = append(parts, t)
			}
		}
		text = strings.Join(parts, " ")
	}
	if text == "" {
		return call.Segment{}, false
	}
	seg := call.Segment{
		Text:     text,
		Start:    u.start,
		End:      u.end,
		Language: responseLanguage(resp.Language, u.hint),
		Final:    true,
		Engine:   u.engine,
	}
	if lp.ok && seg.Language != call.LangUndetermined && seg.Language != "" {
		seg.LanguageConfidence = lp.p
	}
	for _, w := range resp.Words {
		t := strings.TrimSpace(w.Word)
		if t == "" {
			continue
		}
		ws, we := u.clamp(w.Start), u.clamp(w.End)
		seg.Words = append(seg.Words, call.Word{Text: t, Start: ws, End: max(ws, we)})
	}
	var first, last float64
	timed := true
	switch {
	case len(resp.Segments) > 0:
		first, last = resp.Segments[0].Start, resp.Segments[0].End
		for _, s := range resp.Segments {
			first, last = math.Min(first, s.Start), math.Max(last, s.End)
		}
	case len(resp.Words) > 0:
		first, last = resp.Words[0].Start, resp.Words[len(resp.Words)-1].End
	default:
		timed = false
	}
	if timed && last > first {
		seg.Start, seg.End = u.clamp(first), u.clamp(last)
		if seg.End <= seg.Start {
			seg.Start, seg.End = u.start, u.end
		}
	}
	// avg_logprob is per segment; 0 is taken as "not reported" (a real
	// average log probability of exactly 0 does not occur).
	var sum float64
	var n int
	for _, s := range resp.Segments {
		if s.AvgLogprob != 0 {
			sum += s.AvgLogprob
			n++
		}
	}
	if n > 0 {
		seg.Confidence = math.Min(1, math.Max(0, math.Exp(sum/float64(n))))
	}
	return seg, true
}

// clamp converts seconds from the start of the upload to stream time
// within the utterance.
func (u utterance) clamp(sec float64) time.Duration {
	ns := sec * float64(time.Second)
	switch {
	case math.IsNaN(ns) || ns <= 0:
		return u.start
	case ns >= float64(u.end-u.start):
		return u.end
	}
	return u.start + time.Duration(math.Round(ns))
}
