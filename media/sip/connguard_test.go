package sip

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A stream connection that never speaks is closed at the first-message
// deadline; past the cap a new one is closed at once; one that has spoken
// stays open past the deadline and is answered.
func TestStreamGuardCapsAndDeadlines(t *testing.T) {
	s := testServer(t, func(c *Config) {
		c.Transports = []string{"udp", "tcp"}
		c.MaxConnections = 2
		c.FirstMessage = 500 * time.Millisecond
	}, func(*Call) {})
	addr := s.Addr().String()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closedWithin reports whether the node closes c within d.
	closedWithin := func(c net.Conn, d time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(d))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}

	silent := dial()
	if !closedWithin(silent, 10*time.Second) {
		t.Fatal("a connection that never spoke was still open 10 s after a 500 ms first-message deadline")
	}

	// One that speaks is answered and kept past the deadline.
	talker := dial()
	opts := func(n int) string {
		return fmt.Sprintf("OPTIONS sip:callbrief@%s SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-guard-%d\r\n"+
			"From: <sip:probe@127.0.0.1>;tag=g%d\r\nTo: <sip:callbrief@%s>\r\nCall-ID: guard-%d@127.0.0.1\r\nCSeq: %d OPTIONS\r\n"+
			"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", addr, n, n, addr, n, n)
	}
	r := bufio.NewReader(talker)
	for n := 1; n <= 2; n++ {
		if _, err := io.WriteString(talker, opts(n)); err != nil {
			t.Fatal(err)
		}
		talker.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "SIP/2.0 ") {
			t.Fatalf("OPTIONS %d over TCP: %q, %v", n, line, err)
		}
		for line != "\r\n" && err == nil { // the rest of the answer
			line, err = r.ReadString('\n')
		}
		if n == 1 {
			time.Sleep(time.Second) // past the first-message deadline: the connection must stay
		}
	}

	// The talker holds one place; a second silent one takes the other; a
	// third is closed at once. Another node with a long deadline, so that
	// only the cap can close it.
	s = testServer(t, func(c *Config) {
		c.Transports = []string{"udp", "tcp"}
		c.MaxConnections = 2
		c.FirstMessage = time.Minute
	}, func(*Call) {})
	addr = s.Addr().String()
	dial()
	hold := dial()
	deadline := time.Now().Add(10 * time.Second)
	for s.tcp.(*streamGuard).Open() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the guard holds %d connections, want 2", s.tcp.(*streamGuard).Open())
		}
		time.Sleep(5 * time.Millisecond)
	}
	over := dial()
	if !closedWithin(over, 10*time.Second) {
		t.Fatal("a connection past the cap of 2 was not closed (the deadline is a minute)")
	}
	_ = hold
}
