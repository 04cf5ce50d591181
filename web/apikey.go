package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// API key scopes: what an operator or integration key may call.
const (
	ScopeCalls      = "calls"      // POST /v1/calls: run a recorded call, read its brief
	ScopeTranscribe = "transcribe" // POST /v1/transcribe
)

// ErrAPIKey wraps configuration errors of API keys.
var ErrAPIKey = errors.New("web: api key")

// APIKey is one configured key. Only its SHA-256 is kept, so a memory dump
// or a configuration file written back holds no usable key.
type APIKey struct {
	Name   string
	Hash   [sha256.Size]byte
	Scopes []string
}

// ParseAPIKey reads a key as configured: the key itself (24 characters or
// more) or "sha256:" and its 64-digit hex digest. Errors never repeat the
// key.
func ParseAPIKey(name, key string, scopes []string) (APIKey, error) {
	k := APIKey{Name: name, Scopes: scopes}
	if h, ok := strings.CutPrefix(key, "sha256:"); ok {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return APIKey{}, fmt.Errorf("%w %q: sha256: must be followed by 64 hex digits", ErrAPIKey, name)
		}
		copy(k.Hash[:], b)
		return k, nil
	}
	if len(key) < 24 {
		return APIKey{}, fmt.Errorf("%w %q: must be at least 24 characters", ErrAPIKey, name)
	}
	k.Hash = sha256.Sum256([]byte(key))
	return k, nil
}

// NewDevAPIKey makes a random key with every scope, for a development node
// that has none configured. The key is returned once, to be printed.
func NewDevAPIKey() (string, APIKey) {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	key := "cbdev_" + base64.RawURLEncoding.EncodeToString(b)
	k, _ := ParseAPIKey("development", key, []string{ScopeCalls, ScopeTranscribe})
	return key, k
}

// APIKeys authenticates requests to the operator and integration
// endpoints by `Authorization: Bearer KEY`. Safe for concurrent use.
type APIKeys struct {
	keys []APIKey
}

// NewAPIKeys returns an authenticator over keys.
func NewAPIKeys(keys []APIKey) *APIKeys { return &APIKeys{keys: keys} }

// match returns the key the request presents, comparing its digest with
// every configured one in constant time (all of them, so the time taken
// does not tell which one matched, or how many there are before it).
func (a *APIKeys) match(r *http.Request) (APIKey, bool) {
	tok, ok := bearer(r)
	if !ok {
		return APIKey{}, false
	}
	h := sha256.Sum256([]byte(tok))
	found := -1
	for i := range a.keys {
		if subtle.ConstantTimeCompare(h[:], a.keys[i].Hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return APIKey{}, false
	}
	return a.keys[found], true
}

// bearer reads `Authorization: Bearer TOKEN`. Tokens in the query string
// are not accepted anywhere: they end up in access logs and browser
// history.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Require wraps h: a request without a key that has scope gets 401 (no key
// or an unknown one: the same answer, so probing tells nothing) or 403 (a
// valid key without the scope), with a body that says only that.
func (a *APIKeys) Require(scope string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := a.match(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="callbrief"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "an API key is required: Authorization: Bearer KEY")
			return
		}
		if !slices.Contains(k.Scopes, scope) {
			writeError(w, http.StatusForbidden, "forbidden", "this API key may not call this endpoint")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// writeError writes {"error": {"code": ..., "message": ...}}, the shape of
// the /v1 endpoints' errors.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}
