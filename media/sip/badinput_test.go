package sip

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBadInputDuringCall: while sipp's call is up (speech and keys), the
// port gets garbage and truncated SIP, a flood of INVITEs from one
// stranger over UDP and another over TCP, a flood of INVITEs from the
// trunk's own address, and RTP for the call from an address that is not
// the caller's. Each is answered or dropped, counted and logged (a line
// per kind and source, not per message); the call hears all its speech
// and keys and ends normally.
func TestBadInputDuringCall(t *testing.T) {
	needSipp(t)
	pcap, length := speechPCAP(t, "PCMU")
	var l listened
	var logs lockedLog
	s := testServer(t, func(c *Config) {
		c.SourceRate, c.SetupRate = 20, 5
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}, hearKeys(&l, "129#", 50))
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := runSipp(t, ctx, s, map[string]string{"PT": "0", "CODEC": "PCMU", "WAV": pcap, "PAUSE": fmt.Sprint(length.Milliseconds())})
		done <- result{out, err}
	}()
	await(t, "the call", func() bool { return s.Active() == 1 })

	trunk := newUAC(t, s, "127.0.0.1")
	for _, junk := range []string{"\x00\x01\x02 not sip at all", "INVITE sip:2000@x SIP/2.0\r\nVia: SIP/2.0/UDP", "SIP/2.0 200\r\n\r\n", "HELLO\r\n\r\n"} {
		trunk.send(junk)
	}
	// A stranger over TCP: its first 40 INVITEs (two seconds' worth) get
	// 403, the rest are dropped unanswered.
	const tcpFlood = 200
	tcpForbidden := tcpInviteFlood(t, s, "127.0.0.5", tcpFlood)
	await(t, "the TCP flood answered or dropped", func() bool {
		cn := s.Counters()
		return cn.Refused403.Load()+cn.DroppedFlood.Load() == tcpFlood
	})
	await(t, "the TCP flood's 403s read", func() bool { return uint64(tcpForbidden()) == s.Counters().Refused403.Load() })
	if n := tcpForbidden(); n < 40 || n > 45 {
		t.Errorf("TCP flood: %d answered 403 of %d", n, tcpFlood)
	}
	tcp403, tcpDropped := s.Counters().Refused403.Load(), s.Counters().DroppedFlood.Load()

	// The trunk's own address floods INVITEs (to a number it has no
	// line at): past the set-up rate they get 503 with Retry-After, the
	// first (the bucket's burst) get on as far as the 404.
	const trunkFlood = 300
	n503, n404 := floodFromTrunk(t, s, trunkFlood)

	// A stranger over UDP, 50 INVITEs at once and the next 50 once
	// those are answered or dropped (so that loopback's socket buffer,
	// which the trunk's flood of retransmitted 503s also fills, loses
	// none).
	flooder := newUAC(t, s, "127.0.0.3")
	const flood = 400
	for sent := 0; sent < flood; {
		for range 50 {
			flooder.send(flooder.invite(fmt.Sprint("f", sent), "2000", "", 1, fmt.Sprintf(offerPCMU, 4010, "sendrecv")))
			sent++
		}
		await(t, "the stranger's INVITEs answered or dropped", func() bool {
			cn := s.Counters()
			return cn.Refused403.Load()-tcp403+cn.DroppedFlood.Load()-tcpDropped >= uint64(sent)
		})
	}
	// RTP for the call from a stranger: the call's port is in our SDP.
	var c *Call
	s.mu.Lock()
	for _, cc := range s.calls {
		c = cc
	}
	s.mu.Unlock()
	if c == nil {
		t.Fatal("no call registered")
	}
	port := c.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	rogue, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.4:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	pkt := make([]byte, 172)
	pkt[0], pkt[1] = 0x80, 0
	for i := range 50 {
		pkt[3] = byte(i)
		_, _ = rogue.WriteToUDPAddrPort(pkt, port)
	}
	await(t, "the rogue RTP counted", func() bool { return c.WrongSource() >= 50 })

	r := <-done
	if r.err != nil {
		t.Fatalf("sipp: %v\n%s", r.err, r.out)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys != "129#" || l.speech < int(length/(20*time.Millisecond))/2 || !l.spokeOK {
		t.Errorf("call disturbed: keys %q, speech %d of %d, spoke %v", l.keys, l.speech, l.frames, l.spokeOK)
	}
	cn := s.Counters()
	if cn.DroppedMalformed.Load() < 3 {
		t.Errorf("malformed dropped: %d", cn.DroppedMalformed.Load())
	}
	// The stranger's first INVITEs (its burst: two seconds' worth, and
	// what the rate adds while it floods) get 403, the rest of the flood
	// is dropped unanswered.
	udp403, udpDropped := cn.Refused403.Load()-tcp403, cn.DroppedFlood.Load()-tcpDropped
	if udp403 < 40 || udp403 > 60 || udp403+udpDropped != flood {
		t.Errorf("flood: 403 %d, dropped %d of %d", udp403, udpDropped, flood)
	}
	if n503 < trunkFlood-10 || n404 > 10 || n503+n404 != trunkFlood {
		t.Errorf("trunk flood: 503 %d, 404 %d of %d", n503, n404, trunkFlood)
	}
	// Logged, but not once per message.
	out := logs.String()
	if n := strings.Count(out, `why="call set-up rate exceeded"`); n < 1 || n > 3 {
		t.Errorf("%d log lines for the trunk's flood:\n%s", n, out)
	}
	if n := strings.Count(out, `msg="sip flood`); n < 2 || n > 6 {
		t.Errorf("%d flood log lines for two flooders:\n%s", n, out)
	}
	if cn.Answered.Load() != 1 {
		t.Errorf("answered %d", cn.Answered.Load())
	}
	t.Logf("malformed %d; UDP flood 403 %d dropped %d; TCP flood 403 %d dropped %d; trunk flood 503 %d 404 %d; rogue RTP %d; call stats %+v",
		cn.DroppedMalformed.Load(), udp403, udpDropped, tcp403, tcpDropped, n503, n404, c.WrongSource(), l.stats)
}

// tcpInviteFlood sends n INVITEs over one TCP connection from the
// address from, and returns a function giving how many were answered 403.
func tcpInviteFlood(t *testing.T, s *Server, from string, n int) func() int {
	t.Helper()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(from + ":0"))}
	conn, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var forbidden atomic.Int64
	go func() {
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "SIP/2.0 403 ") {
				forbidden.Add(1)
			}
		}
	}()
	b := newUAC(t, s, from) // only to write the messages
	var all strings.Builder
	for i := range n {
		m := b.invite(fmt.Sprint("tcp", i), "2000", "", 1, fmt.Sprintf(offerPCMU, 4014, "sendrecv"))
		all.WriteString(strings.ReplaceAll(strings.Replace(m, "SIP/2.0/UDP", "SIP/2.0/TCP", 1), "\n", "\r\n"))
	}
	if _, err := conn.Write([]byte(all.String())); err != nil {
		t.Fatal(err)
	}
	return func() int { return int(forbidden.Load()) }
}

// floodFromTrunk sends n INVITEs from the trunk's address to a number
// with no line, 50 at once (so that loopback's socket buffer loses none)
// and the next 50 as soon as those are answered, and returns the 503s
// (each with a Retry-After) and the 404s, each Call-ID once (503s are
// retransmitted until ACKed, which this flooder never does).
func floodFromTrunk(t *testing.T, s *Server, n int) (n503, n404 int) {
	t.Helper()
	u := newUAC(t, s, "127.0.0.1")
	seen := map[string]int{}
	buf := make([]byte, 8192)
	deadline := time.Now().Add(guard)
	for sent := 0; sent < n; {
		for range min(50, n-sent) {
			u.send(u.invite(fmt.Sprint("t", sent), "9999", "", 1, fmt.Sprintf(offerPCMU, 4016, "sendrecv")))
			sent++
		}
		for len(seen) < sent {
			_ = u.conn.SetReadDeadline(deadline)
			k, _, err := u.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("trunk flood: %d of %d answered: %v", len(seen), sent, err)
			}
			m := string(buf[:k])
			switch {
			case strings.HasPrefix(m, "SIP/2.0 503 "):
				if header(m, "Retry-After") == "" {
					t.Errorf("503 without Retry-After:\n%s", m)
				}
				seen[header(m, "Call-ID")] = 503
			case strings.HasPrefix(m, "SIP/2.0 404 "):
				seen[header(m, "Call-ID")] = 404
			}
		}
	}
	for _, code := range seen {
		if code == 503 {
			n503++
		} else {
			n404++
		}
	}
	return n503, n404
}

// lockedLog is a log sink tests read while the server writes.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
