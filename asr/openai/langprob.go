package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"mime"
	"net/http"
)

// Whisper servers can say how sure their spoken-language detection was
// (speechserver's verbose_json "language_probability", faster-whisper's
// info.language_probability). go-openai's AudioResponse has no field for
// it, so the recognizer's transport reads it from the JSON body on the way
// through: the body is small and go-openai reads all of it anyway.

// maxProbeBody bounds the body read for the probe; a longer one (hours of
// words) is passed through unread.
const maxProbeBody = 4 << 20

type langProbKey struct{}

// langProb receives the reported probability of one request.
type langProb struct {
	p  float64
	ok bool
}

// withLangProb returns ctx carrying slot for the transport to fill.
func withLangProb(ctx context.Context, slot *langProb) context.Context {
	return context.WithValue(ctx, langProbKey{}, slot)
}

// probeTransport fills the request's langProb slot from a JSON response.
type probeTransport struct{ base http.RoundTripper }

func (t probeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	slot, _ := req.Context().Value(langProbKey{}).(*langProb)
	if err != nil || slot == nil || resp.StatusCode != http.StatusOK || resp.ContentLength > maxProbeBody {
		return resp, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody+1))
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if len(body) > maxProbeBody {
		// Too long to hold: hand on what was read followed by the rest.
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return resp, nil
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	slot.p, slot.ok = parseLangProb(body)
	return resp, nil
}

// parseLangProb reads "language_probability" from a JSON object; ok is
// false when it is absent, not a number, or outside 0..1.
func parseLangProb(body []byte) (float64, bool) {
	var v struct {
		P *float64 `json:"language_probability"`
	}
	if json.Unmarshal(body, &v) != nil || v.P == nil || math.IsNaN(*v.P) || *v.P < 0 || *v.P > 1 {
		return 0, false
	}
	return *v.P, true
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the base.
func (t probeTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
