package otp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The SMS provider is a remote service that cannot run here: these tests
// stand in for it with a local HTTP server that checks what a provider
// would be sent.
func TestHTTPGatewaySends(t *testing.T) {
	var got map[string]string
	var auth string
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "json please", http.StatusUnsupportedMediaType)
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer provider.Close()
	g := &HTTPGateway{URL: provider.URL, Token: "tok-123456", Sender: "HOTLINE"}
	if err := g.Send(context.Background(), "+8613812345678", "Your code is 482913"); err != nil {
		t.Fatal(err)
	}
	if auth != "Bearer tok-123456" || got["to"] != "+8613812345678" || got["from"] != "HOTLINE" || got["text"] != "Your code is 482913" {
		t.Fatalf("provider got %v with %q", got, auth)
	}
}

func TestHTTPGatewayErrorsSayNoSecret(t *testing.T) {
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "quota exceeded for tok-123456", http.StatusTooManyRequests)
	}))
	defer provider.Close()
	g := &HTTPGateway{URL: provider.URL, Token: "tok-123456"}
	err := g.Send(context.Background(), "+8613812345678", "Your code is 482913")
	if !errors.Is(err, ErrSMS) || !strings.Contains(err.Error(), "429") {
		t.Fatalf("err %v: want ErrSMS naming 429", err)
	}
	for _, secret := range []string{"482913", "tok-123456", "13812345678", provider.URL} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q shows %q", err, secret)
		}
	}
	// A provider that does not answer in time: the caller's context ends it.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release) // before Close, which waits for the handler
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	g = &HTTPGateway{URL: slow.URL, Token: "tok-123456"}
	if err := g.Send(ctx, "+8613812345678", "Your code is 482913"); !errors.Is(err, ErrSMS) || !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "482913") {
		t.Fatalf("slow provider: %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://sms.example.com/v1/send": true,
		"http://127.0.0.1:8080/send":      true,
		"http://localhost/send":           true,
		"http://sms.example.com/send":     false,
		"ftp://sms.example.com":           false,
		"sms.example.com/send":            false,
		"":                                false,
	} {
		if err := CheckURL(raw); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v, want ok %v", raw, err, ok)
		}
	}
}
