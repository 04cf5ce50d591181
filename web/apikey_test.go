package web

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAPIKeys(t *testing.T) {
	const calls, both = "calls-key-0123456789abcdefgh", "both-key-0123456789abcdefghi"
	h := sha256.Sum256([]byte(both))
	k1, err := ParseAPIKey("ops", calls, []string{ScopeCalls})
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParseAPIKey("ci", "sha256:"+hex.EncodeToString(h[:]), []string{ScopeCalls, ScopeTranscribe})
	if err != nil {
		t.Fatal(err)
	}
	ks := NewAPIKeys([]APIKey{k1, k2})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret brief") })
	srv := httptest.NewServer(ks.Require(ScopeTranscribe, ok))
	defer srv.Close()
	for _, tc := range []struct {
		auth string
		code int
	}{
		{"", 401},
		{"Bearer", 401},
		{"Bearer " + both[:len(both)-1], 401},
		{"Basic " + both, 401},
		{"Bearer " + calls, 403}, // a valid key without the scope
		{"Bearer " + both, 200},
		{"bearer  " + both, 200},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"?token="+both, nil) // the query string is never read
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%q: %d %s; want %d", tc.auth, resp.StatusCode, body, tc.code)
		}
		if tc.code != 200 && (strings.Contains(string(body), "secret") || strings.Contains(string(body), both[:8])) {
			t.Errorf("%q: refusal leaks: %s", tc.auth, body)
		}
	}
	for _, bad := range []string{"short", "sha256:abcd", "sha256:" + strings.Repeat("z", 64)} {
		if _, err := ParseAPIKey("x", bad, nil); err == nil || strings.Contains(err.Error(), bad) {
			t.Errorf("ParseAPIKey(%q): %v", bad, err)
		}
	}
	key, dev := NewDevAPIKey()
	if h := sha256.Sum256([]byte(key)); h != dev.Hash || len(key) < 24 {
		t.Errorf("development key %d chars, hash mismatch %v", len(key), h != dev.Hash)
	}
}
