package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestBadInputDuringCall: while sipp's call is up (speech and keys), the
// port gets garbage and truncated SIP, a flood of INVITEs from one
// stranger, and RTP for the call from an address that is not the
// caller's. Each is answered or dropped and counted; the call hears all
// its speech and keys and ends normally.
func TestBadInputDuringCall(t *testing.T) {
	needSipp(t)
	pcap, length := speechPCAP(t, "PCMU")
	var l listened
	s := testServer(t, func(c *Config) { c.SourceRate = 20 }, hearKeys(&l, "129#", 50))
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
	flooder := newUAC(t, s, "127.0.0.3")
	const flood = 400
	for i := range flood {
		flooder.send(flooder.invite(fmt.Sprint("f", i), "2000", "", 1, fmt.Sprintf(offerPCMU, 4010, "sendrecv")))
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
	// The stranger's first INVITEs (its burst: two seconds' worth) get
	// 403, the rest of the flood is dropped unanswered. The kernel may
	// drop a few of 400 datagrams sent at once before we read them.
	if n := cn.Refused403.Load(); n == 0 || n > 60 || cn.DroppedFlood.Load() < flood/2 || n+cn.DroppedFlood.Load() > flood {
		t.Errorf("flood: 403 %d, dropped %d of %d", cn.Refused403.Load(), cn.DroppedFlood.Load(), flood)
	}
	if cn.Answered.Load() != 1 {
		t.Errorf("answered %d", cn.Answered.Load())
	}
	t.Logf("malformed %d, flood 403 %d dropped %d, rogue RTP %d; call stats %+v", cn.DroppedMalformed.Load(),
		cn.Refused403.Load(), cn.DroppedFlood.Load(), c.WrongSource(), l.stats)
}
