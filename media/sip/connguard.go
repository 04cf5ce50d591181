package sip

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// streamGuard is put in front of the TCP and TLS listeners: sipgo's stream
// transport takes every connection and reads it with no deadline, so a
// peer that connects and never speaks (or stalls a TLS handshake) would
// hold a descriptor and a goroutine for as long as it likes, and enough of
// them would exhaust the node. The guard caps the connections held at once
// (past it a new one is closed at once) and gives each a deadline for its
// first message, the TLS handshake included; once the peer has spoken the
// connection is the transport's (trunks keep theirs open for hours).
type streamGuard struct {
	net.Listener
	max   int64
	first time.Duration
	open  atomic.Int64
	log   *slog.Logger
	// refused counts connections closed at the cap; logged at the first
	// and then at most every 10 s.
	refused atomic.Int64
	mu      sync.Mutex
	logged  time.Time
}

func newStreamGuard(l net.Listener, max int, first time.Duration, log *slog.Logger) *streamGuard {
	return &streamGuard{Listener: l, max: int64(max), first: first, log: log}
}

// Accept returns the next connection under the cap.
func (g *streamGuard) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if g.max > 0 && g.open.Load() >= g.max {
			c.Close()
			n := g.refused.Add(1)
			g.mu.Lock()
			if time.Since(g.logged) >= 10*time.Second {
				g.logged = time.Now()
				g.log.Warn("sip: stream connection refused at the cap", "max_connections", g.max, "refused_total", n,
					"transport", g.Addr().Network())
			}
			g.mu.Unlock()
			continue
		}
		g.open.Add(1)
		gc := &guardedConn{Conn: c, g: g}
		if g.first > 0 {
			gc.armed.Store(true)
			_ = c.SetReadDeadline(time.Now().Add(g.first))
		}
		return gc, nil
	}
}

// Open is how many connections the guard holds now.
func (g *streamGuard) Open() int { return int(g.open.Load()) }

type guardedConn struct {
	net.Conn
	g      *streamGuard
	armed  atomic.Bool // the first-message deadline is ours and still set
	closed sync.Once
}

func (c *guardedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && c.armed.CompareAndSwap(true, false) {
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
	return n, err
}

// SetReadDeadline and SetDeadline from the transport replace ours.
func (c *guardedConn) SetReadDeadline(t time.Time) error {
	c.armed.Store(false)
	return c.Conn.SetReadDeadline(t)
}

func (c *guardedConn) SetDeadline(t time.Time) error {
	c.armed.Store(false)
	return c.Conn.SetDeadline(t)
}

func (c *guardedConn) Close() error {
	c.closed.Do(func() { c.g.open.Add(-1) })
	return c.Conn.Close()
}
