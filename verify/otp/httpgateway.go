package otp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/callbrief/callbrief/verify/phone"
)

// HTTPGateway sends one-time codes through an SMS provider's HTTP API: a
// POST of {"to": E.164, "from": sender, "text": message} as JSON with the
// provider's token as a bearer credential, answered 2xx when the provider
// took the message. Providers' own APIs differ in field names; one that
// cannot take this request is put behind a small relay that can.
type HTTPGateway struct {
	URL    string // https, or http to a loopback relay
	Token  string
	Sender string
	Client *http.Client // default: a client with a 10 s timeout
	Log    *slog.Logger
}

// ErrSMS wraps every failure to hand a message to the provider.
var ErrSMS = errors.New("otp: sms provider")

// CheckURL refuses a provider URL that would send codes in the clear over
// a network: https anywhere, http only to this machine (a relay).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || h == "127.0.0.1" || h == "::1" {
			return nil
		}
		return fmt.Errorf("%q: plain http only to a relay on this machine (localhost); a provider needs https", raw)
	}
	return fmt.Errorf("%q: scheme %q is not https", raw, u.Scheme)
}

// Send implements Gateway. Errors name the provider's status, never the
// message (it holds the code) nor the token.
func (g *HTTPGateway) Send(ctx context.Context, toE164, text string) error {
	body, err := json.Marshal(map[string]string{"to": toE164, "from": g.Sender, "text": text})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSMS, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: request: %w", ErrSMS, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.Token)
	c := g.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is configuration, not news; the cause is
		}
		return fmt.Errorf("%w: sending to %s: %w", ErrSMS, phone.Mask(toE164), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	log := g.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if resp.StatusCode/100 != 2 {
		log.Warn("sms provider refused a message", "to", phone.Mask(toE164), "status", resp.StatusCode, "took", time.Since(start))
		return fmt.Errorf("%w: provider answered %d for %s", ErrSMS, resp.StatusCode, phone.Mask(toE164))
	}
	log.Info("one-time code handed to the sms provider", "to", phone.Mask(toE164), "took", time.Since(start))
	return nil
}
