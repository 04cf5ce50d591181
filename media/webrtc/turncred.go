package webrtc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"
)

// DefaultCredentialTTL is how long minted TURN credentials last: a whole
// call, however long, since a relay whose credential expired cannot be
// refreshed.
const DefaultCredentialTTL = 12 * time.Hour

// ICEServer is a STUN or TURN server offered to ICE.
type ICEServer struct {
	URLs       []string `json:"urls"`                 // stun:host:port, turn:host:port?transport=udp, turns:...
	Username   string   `json:"username,omitempty"`   // TURN only
	Credential string   `json:"credential,omitempty"` // TURN only

	// Secret, when set, is shared with the TURN server (coturn's
	// static-auth-secret, the "TURN REST API" scheme): every peer then
	// gets its own credential, valid for TTL (DefaultCredentialTTL when
	// zero), instead of one long-lived password handed to every caller's
	// page. Username and Credential are then left empty.
	Secret string        `json:"-"`
	TTL    time.Duration `json:"-"`
}

// mint returns the server as a peer is given it at now: with a fresh
// time-limited credential when it has a secret. The username is
// "<expiry unix time>:<random id>", the credential base64(HMAC-SHA1(secret,
// username)), as TURN servers check it.
func (v ICEServer) mint(now time.Time) ICEServer {
	out := ICEServer{URLs: v.URLs, Username: v.Username, Credential: v.Credential}
	if v.Secret == "" {
		return out
	}
	ttl := v.TTL
	if ttl <= 0 {
		ttl = DefaultCredentialTTL
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	out.Username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + hex.EncodeToString(id)
	out.Credential = turnCredential(v.Secret, out.Username)
	return out
}

func turnCredential(secret, username string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
