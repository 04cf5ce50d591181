package sip

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icholy/digest"

	"github.com/callbrief/callbrief/call"
)

// uac is a bare SIP client over UDP: the tests write requests by hand so
// that they can be as wrong as they like.
type uac struct {
	t    *testing.T
	conn *net.UDPConn
	to   netip.AddrPort
}

var seq atomic.Int64

func newUAC(t *testing.T, s *Server, from string) *uac {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(from+":0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &uac{t: t, conn: c, to: s.Addr()}
}

func (u *uac) local() string { return u.conn.LocalAddr().String() }

func (u *uac) send(msg string) {
	u.t.Helper()
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	if _, err := u.conn.WriteToUDPAddrPort([]byte(msg), u.to); err != nil {
		u.t.Fatal(err)
	}
}

// recv waits for a response with status want (provisional ones before it
// skipped) and returns it; "" when none came before the deadline.
func (u *uac) recv(want int, within time.Duration) string {
	u.t.Helper()
	deadline := time.Now().Add(within)
	buf := make([]byte, 8192)
	for {
		_ = u.conn.SetReadDeadline(deadline)
		n, _, err := u.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return ""
		}
		m := string(buf[:n])
		if strings.HasPrefix(m, fmt.Sprintf("SIP/2.0 %d ", want)) {
			return m
		}
		if strings.HasPrefix(m, "SIP/2.0 1") || strings.HasPrefix(m, "BYE ") {
			continue
		}
		u.t.Errorf("want %d, got:\n%s", want, m)
		return m
	}
}

const offerPCMU = `v=0
o=t 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio %d RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=%s
`

// invite builds an INVITE (or, with toTag, a re-INVITE) from u.
func (u *uac) invite(callID, dialled, toTag string, cseq int, sdp string, extra ...string) string {
	to := fmt.Sprintf("<sip:%s@%s>", dialled, u.to)
	if toTag != "" {
		to += ";tag=" + toTag
	}
	hdr := strings.Join(extra, "\n")
	if hdr != "" {
		hdr += "\n"
	}
	body := strings.ReplaceAll(sdp, "\n", "\r\n")
	return fmt.Sprintf(`INVITE sip:%s@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-%d
From: <sip:+85290000000@%s>;tag=caller
To: %s
Call-ID: %s
CSeq: %d INVITE
Contact: <sip:caller@%s>
Max-Forwards: 70
%sContent-Type: application/sdp
Content-Length: %d

`, dialled, u.to, u.local(), seq.Add(1), u.local(), to, callID, cseq, u.local(), hdr, len(body)) + sdp
}

func (u *uac) request(method, callID, toTag string, cseq int) string {
	to := fmt.Sprintf("<sip:2000@%s>", u.to)
	if toTag != "" {
		to += ";tag=" + toTag
	}
	return fmt.Sprintf(`%s sip:2000@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-%d
From: <sip:+85290000000@%s>;tag=caller
To: %s
Call-ID: %s
CSeq: %d %s
Max-Forwards: 70
Content-Length: 0

`, method, u.to, u.local(), seq.Add(1), u.local(), to, callID, cseq, method)
}

func header(msg, name string) string {
	for _, l := range strings.Split(msg, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func toTag(msg string) string {
	_, tag, _ := strings.Cut(header(msg, "To"), "tag=")
	tag, _, _ = strings.Cut(tag, ";")
	return tag
}

// await polls cond until it holds or the guard passes.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRefusals: each request the server will not take gets its final
// answer with a Reason, and is counted.
func TestRefusals(t *testing.T) {
	s := testServer(t, nil, func(c *Call) { <-c.Done() })
	trunk := newUAC(t, s, "127.0.0.1")
	stranger := newUAC(t, s, "127.0.0.2")
	cases := []struct {
		name string
		u    *uac
		msg  string
		code int
		why  string
	}{
		{"not a trunk", stranger, stranger.invite("r1", "2000", "", 1, fmt.Sprintf(offerPCMU, 4000, "sendrecv")), 403, "not on a trunk"},
		{"unknown number", trunk, trunk.invite("r2", "9999", "", 1, fmt.Sprintf(offerPCMU, 4000, "sendrecv")), 404, "no hotline"},
		{"no audio", trunk, trunk.invite("r3", "2000", "", 1, "v=0\no=t 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 4000 RTP/AVP 96\na=rtpmap:96 H264/90000\n"), 488, "no audio"},
		{"no common codec", trunk, trunk.invite("r4", "2000", "", 1, "v=0\no=t 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 18 4\na=rtpmap:18 G729/8000\n"), 488, "G729/8000"},
		{"SRTP only", trunk, trunk.invite("r5", "2000", "", 1, "v=0\no=t 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/SAVP 0\n"), 488, "RTP/SAVP"},
		{"malformed SDP", trunk, trunk.invite("r6", "2000", "", 1, "this is not SDP\n"), 400, "malformed SDP"},
		{"no offer", trunk, trunk.invite("r7", "2000", "", 1, ""), 488, "SDP offer is required"},
		{"unknown method", trunk, trunk.request("FOO", "r8", "", 1), 405, "FOO"},
		{"BYE of no call", trunk, trunk.request("BYE", "r9", "x", 2), 481, "no such call"},
		{"INFO of no call", trunk, trunk.request("INFO", "r10", "x", 2), 481, "no such call"},
		{"OPTIONS from a stranger", stranger, stranger.request("OPTIONS", "r11", "", 1), 403, "not on a trunk"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.u.t = t
			c.u.send(c.msg)
			res := c.u.recv(c.code, 5*time.Second)
			if res == "" {
				t.Fatalf("no %d", c.code)
			}
			if r := header(res, "Reason") + header(res, "Allow"); !strings.Contains(r, c.why) && !strings.Contains(res, c.why) {
				t.Errorf("%d without %q:\n%s", c.code, c.why, res)
			}
		})
	}
	trunk.t = t
	trunk.send(trunk.request("OPTIONS", "o1", "", 1))
	if res := trunk.recv(200, 5*time.Second); !strings.Contains(header(res, "Allow"), "INVITE") {
		t.Errorf("OPTIONS: %s", res)
	}
	c := s.Counters()
	if c.Refused403.Load() != 2 || c.Refused404.Load() != 1 || c.Refused488.Load() != 4 || c.Refused400.Load() != 1 || c.Refused405.Load() != 1 || c.Refused481.Load() != 2 {
		t.Errorf("counters 403 %d 404 %d 488 %d 400 %d 405 %d 481 %d", c.Refused403.Load(), c.Refused404.Load(), c.Refused488.Load(),
			c.Refused400.Load(), c.Refused405.Load(), c.Refused481.Load())
	}
	if s.Active() != 0 {
		t.Errorf("%d calls up", s.Active())
	}
}

// TestHoldAndHangup: a whole call by hand: INVITE, 200 with our answer,
// ACK, re-INVITE to hold (answered recvonly) and back, BYE from the
// caller, which the call sees as a hang-up.
func TestHoldAndHangup(t *testing.T) {
	got := make(chan *Call, 1)
	s := testServer(t, nil, func(c *Call) { got <- c; <-c.Done() })
	u := newUAC(t, s, "127.0.0.1")
	u.send(u.invite("h1", "2001", "", 1, fmt.Sprintf(offerPCMU, 4002, "sendrecv")))
	ok := u.recv(200, 5*time.Second)
	tag := toTag(ok)
	if tag == "" || !strings.Contains(ok, "a=sendrecv") || !strings.Contains(ok, "PCMU/8000") || !strings.Contains(ok, "telephone-event") {
		t.Fatalf("200:\n%s", ok)
	}
	u.send(u.request("ACK", "h1", tag, 1))
	var c *Call
	select {
	case c = <-got:
	case <-time.After(guard):
		t.Fatal("no call")
	}
	if cl := c.Caller(); cl.Line != call.LangCantonese || cl.Number != "+85290000000" || cl.Trusted || cl.Header != "From" {
		// The trunk wants P-Asserted-Identity; without one the From
		// number is a claim.
		t.Errorf("caller %+v", cl)
	}
	u.send(u.invite("h1", "2001", tag, 2, fmt.Sprintf(offerPCMU, 4002, "sendonly")))
	if res := u.recv(200, 5*time.Second); !strings.Contains(res, "a=recvonly") {
		t.Fatalf("hold answer:\n%s", res)
	}
	u.send(u.request("ACK", "h1", tag, 2))
	if !c.Held() {
		t.Error("not held")
	}
	// A prompt while held is paced but not sent.
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := c.Speak(ctx, make([]int16, 1600), 16000); err != nil || c.Stats().PacketsSent != 0 {
		t.Errorf("speak on hold: %v, %+v", err, c.Stats())
	}
	u.send(u.invite("h1", "2001", tag, 3, fmt.Sprintf(offerPCMU, 4002, "sendrecv")))
	if res := u.recv(200, 5*time.Second); !strings.Contains(res, "a=sendrecv") {
		t.Fatalf("unhold answer:\n%s", res)
	}
	u.send(u.request("ACK", "h1", tag, 3))
	if c.Held() {
		t.Error("still held")
	}
	u.send(u.request("BYE", "h1", tag, 4))
	u.recv(200, 5*time.Second)
	select {
	case <-c.Done():
	case <-time.After(guard):
		t.Fatal("call did not end")
	}
	if err := c.Err(); err != ErrHangup {
		t.Errorf("ended with %v", err)
	}
	await(t, "no calls", func() bool { return s.Active() == 0 })
}

// TestCancelWhileRinging: a CANCEL before the answer gets 200, the INVITE
// 487, and no call runs.
func TestCancelWhileRinging(t *testing.T) {
	var ran atomic.Bool
	s := testServer(t, func(c *Config) { c.Ring = 30 * time.Second }, func(c *Call) { ran.Store(true) })
	u := newUAC(t, s, "127.0.0.1")
	inv := u.invite("c1", "2000", "", 1, fmt.Sprintf(offerPCMU, 4004, "sendrecv"))
	u.send(inv)
	u.recv(180, 5*time.Second)
	// CANCEL carries the INVITE's Via branch.
	via := header(strings.ReplaceAll(inv, "\n", "\r\n"), "Via")
	u.send(fmt.Sprintf(`CANCEL sip:2000@%s SIP/2.0
Via: %s
From: <sip:+85290000000@%s>;tag=caller
To: <sip:2000@%s>
Call-ID: c1
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

`, u.to, via, u.local(), u.to))
	u.recv(200, 5*time.Second)
	u.recv(487, 5*time.Second)
	await(t, "the cancel counted", func() bool { return s.Counters().Cancelled.Load() == 1 && s.Active() == 0 })
	if ran.Load() {
		t.Error("a cancelled call ran")
	}
}

// TestDigestAuth: a trunk with credentials challenges, then takes a
// correct answer (the unknown number shows the INVITE got past the
// check) and refuses a wrong one.
func TestDigestAuth(t *testing.T) {
	s := testServer(t, func(c *Config) {
		c.Trunks[0].Username, c.Trunks[0].Password = "pbx", "s3cret"
	}, func(c *Call) {})
	u := newUAC(t, s, "127.0.0.1")
	sdp := fmt.Sprintf(offerPCMU, 4006, "sendrecv")
	u.send(u.invite("d1", "9999", "", 1, sdp))
	res := u.recv(401, 5*time.Second)
	chal, err := digest.ParseChallenge(header(res, "WWW-Authenticate"))
	if err != nil {
		t.Fatalf("challenge: %v\n%s", err, res)
	}
	for _, pw := range []string{"wrong", "s3cret"} {
		cr, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:9999@" + u.to.String(), Username: "pbx", Password: pw, Count: 1, Cnonce: "abcdef"})
		if err != nil {
			t.Fatal(err)
		}
		u.send(u.invite("d1", "9999", "", 2, sdp, "Authorization: "+cr.String()))
		want := 404
		if pw == "wrong" {
			want = 401
		}
		u.recv(want, 5*time.Second)
	}
	// Without qop, as older PBXs answer.
	md := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	uri := "sip:9999@" + u.to.String()
	resp := md(md("pbx:"+chal.Realm+":s3cret") + ":" + chal.Nonce + ":" + md("INVITE:"+uri))
	u.send(u.invite("d1", "9999", "", 3, sdp, fmt.Sprintf(`Authorization: Digest username="pbx", realm=%q, nonce=%q, uri=%q, response=%q`, chal.Realm, chal.Nonce, uri, resp)))
	u.recv(404, 5*time.Second)
}

// TestOverload: past the set-up rate INVITEs get 503 with Retry-After.
func TestOverload(t *testing.T) {
	s := testServer(t, func(c *Config) { c.SetupRate = 2; c.RetryAfter = 7 * time.Second }, func(c *Call) {})
	u := newUAC(t, s, "127.0.0.1")
	sdp := fmt.Sprintf(offerPCMU, 4008, "sendrecv")
	for i := range 10 {
		u.send(u.invite(fmt.Sprint("o", i), "9999", "", 1, sdp))
	}
	var n404, n503 int
	buf := make([]byte, 8192)
	for n404+n503 < 10 {
		_ = u.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := u.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			break
		}
		m := string(buf[:n])
		switch {
		case strings.HasPrefix(m, "SIP/2.0 404"):
			n404++
		case strings.HasPrefix(m, "SIP/2.0 503"):
			n503++
			if header(m, "Retry-After") != "7" {
				t.Errorf("503 without Retry-After 7:\n%s", m)
			}
		}
	}
	if n404 != 2 || n503 != 8 {
		t.Errorf("404 %d, 503 %d; want 2 and 8", n404, n503)
	}
}

// TestCallLimit: past max_calls an INVITE gets 503 with Retry-After (the
// admission limiter's place is held from the INVITE to the call's end);
// once a call ends its place is given back and the next is answered.
func TestCallLimit(t *testing.T) {
	s := testServer(t, func(c *Config) { c.MaxCalls = 1; c.RetryAfter = 3 * time.Second }, func(c *Call) { <-c.Done() })
	u := newUAC(t, s, "127.0.0.1")
	sdp := fmt.Sprintf(offerPCMU, 4012, "sendrecv")
	u.send(u.invite("l1", "2000", "", 1, sdp))
	tag := toTag(u.recv(200, 5*time.Second))
	u.send(u.request("ACK", "l1", tag, 1))
	u.send(u.invite("l2", "2000", "", 1, sdp))
	res := u.recv(503, 5*time.Second)
	if ra, err := strconv.Atoi(header(res, "Retry-After")); err != nil || ra < 3 || !strings.Contains(header(res, "Reason"), "call limit") {
		t.Errorf("503 at the limit:\n%s", res)
	}
	u.send(u.request("BYE", "l1", tag, 2))
	u.recv(200, 5*time.Second)
	await(t, "the place given back", func() bool { return s.limit.Stats().Running == 0 })
	u.send(u.invite("l3", "2000", "", 1, sdp))
	tag = toTag(u.recv(200, 5*time.Second))
	u.send(u.request("ACK", "l3", tag, 1))
	u.send(u.request("BYE", "l3", tag, 2))
	u.recv(200, 5*time.Second)
	if n := s.Counters().Refused503.Load(); n != 1 {
		t.Errorf("503s: %d", n)
	}
}
