package sip

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// nonceTTL bounds how long a challenge can be answered.
const nonceTTL = 5 * time.Minute

// nonce is stateless: the time it was issued and a MAC of it under the
// server's key, so any answer can be checked without a table of nonces.
func (s *Server) nonce(now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 16)
	m := hmac.New(sha256.New, s.nonceKey[:])
	m.Write([]byte(ts))
	return ts + "." + hex.EncodeToString(m.Sum(nil)[:16])
}

func (s *Server) nonceValid(n string, now time.Time) bool {
	ts, mac, ok := strings.Cut(n, ".")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, s.nonceKey[:])
	m.Write([]byte(ts))
	want := hex.EncodeToString(m.Sum(nil)[:16])
	age := now.Sub(time.Unix(sec, 0))
	return hmac.Equal([]byte(mac), []byte(want)) && age >= -time.Minute && age <= nonceTTL
}

func realmOf(t *Trunk) string {
	if t.Realm != "" {
		return t.Realm
	}
	return "callbrief"
}

// authorized checks the INVITE's digest credentials (RFC 2617 MD5, with
// or without qop=auth) against the trunk's; when they are missing or
// wrong it returns the challenge to send.
func (s *Server) authorized(req *sip.Request, t *Trunk) (bool, string) {
	now := time.Now()
	realm := realmOf(t)
	chal := (&digest.Challenge{Realm: realm, Nonce: s.nonce(now), Algorithm: "MD5", QOP: []string{"auth"}}).String()
	h := req.GetHeader("Authorization")
	if h == nil {
		return false, chal
	}
	cr, err := digest.ParseCredentials(h.Value())
	if err != nil || cr.Realm != realm || !s.nonceValid(cr.Nonce, now) {
		return false, chal
	}
	if cr.Algorithm != "" && !strings.EqualFold(cr.Algorithm, "MD5") {
		return false, chal
	}
	md := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	ha1 := md(t.Username + ":" + realm + ":" + t.Password)
	ha2 := md(req.Method.String() + ":" + cr.URI)
	var want string
	switch cr.QOP {
	case "":
		want = md(ha1 + ":" + cr.Nonce + ":" + ha2)
	case "auth":
		want = md(fmt.Sprintf("%s:%s:%08x:%s:%s:%s", ha1, cr.Nonce, cr.Nc, cr.Cnonce, cr.QOP, ha2))
	default:
		return false, chal
	}
	// The username is compared too, in constant time with the response.
	okUser := subtle.ConstantTimeCompare([]byte(cr.Username), []byte(t.Username)) == 1
	okResp := subtle.ConstantTimeCompare([]byte(strings.ToLower(cr.Response)), []byte(want)) == 1
	return okUser && okResp, chal
}
