package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callbrief/callbrief/media/webrtc"
)

// Session timers (RFC 4028): a call whose caller (or a proxy on the way)
// asks for them is refreshed every interval by one side, the refresher;
// when no refresh comes, the other side takes the call for dead (a
// caller's phone lost, a proxy restarted) and ends it with a BYE, rather
// than holding an agent's desk and a place in the node's limit until the
// media timeout, which a caller on hold does not trigger.

var (
	// ErrSessionExpired: the caller was the refresher and sent no
	// refresh in the session interval; the node sent BYE.
	ErrSessionExpired = fmt.Errorf("sip: session expired without a refresh (RFC 4028): %w", webrtc.ErrPeerGone)
	// ErrRefreshFailed: the node was the refresher and the caller
	// answered its refresh with an error or not at all.
	ErrRefreshFailed = fmt.Errorf("sip: session refresh failed (RFC 4028): %w", webrtc.ErrPeerGone)
)

// errSessionHeader is a Session-Expires or Min-SE header that is not
// delta-seconds (400).
var errSessionHeader = errors.New("session timer header")

// sessionTimer is a call's session interval and which side refreshes.
type sessionTimer struct {
	interval time.Duration
	// weRefresh: the node sends the refreshes; otherwise the caller does
	// and the node watches for them.
	weRefresh bool
	// required: the caller supports timers (Supported: timer), so the
	// answer says Require: timer.
	required bool
}

// sessionExpires parses a Session-Expires value (RFC 4028 section 4):
// delta-seconds, then parameters of which refresher (uac or uas) is
// read.
func sessionExpires(v string) (time.Duration, string, error) {
	delta, params, _ := strings.Cut(v, ";")
	d, err := deltaSeconds(delta)
	if err != nil {
		return 0, "", fmt.Errorf("%w: Session-Expires %q: %w", errSessionHeader, v, err)
	}
	refresher := ""
	for _, p := range strings.Split(params, ";") {
		k, val, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "refresher") {
			switch r := strings.ToLower(strings.TrimSpace(val)); r {
			case "uac", "uas":
				refresher = r
			default:
				return 0, "", fmt.Errorf("%w: Session-Expires refresher %q is not uac or uas", errSessionHeader, val)
			}
		}
	}
	return d, refresher, nil
}

// deltaSeconds parses RFC 3261 delta-seconds; values past a day are
// taken as a day (no session needs a longer interval, and the product
// stays far from overflowing).
func deltaSeconds(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" || strings.TrimLeft(v, "0123456789") != "" {
		return 0, fmt.Errorf("not delta-seconds")
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n > 86400 {
		n = 86400
	}
	if n == 0 {
		return 0, fmt.Errorf("zero seconds")
	}
	return time.Duration(n) * time.Second, nil
}

// firstHeader returns the first of req's headers by either of its names
// (full and compact form).
func firstHeader(m sip.Message, names ...string) sip.Header {
	for _, n := range names {
		if hs := m.GetHeaders(n); len(hs) > 0 {
			return hs[0]
		}
	}
	return nil
}

// hasOption reports whether an option tag is listed in m's headers name
// (Supported, Require; in their full or compact forms).
func hasOption(m sip.Message, tag string, names ...string) bool {
	for _, n := range names {
		for _, h := range m.GetHeaders(n) {
			for _, t := range strings.Split(h.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(t), tag) {
					return true
				}
			}
		}
	}
	return false
}

// timerRefusal is why a request's session timer is refused: a 422 (its
// interval below our Min-SE) or a 400 (a header that does not parse).
type timerRefusal struct {
	code int
	why  string
}

// negotiateTimer reads a dialog-forming or refreshing request's session
// timer headers (RFC 4028 section 9). on is false when neither the
// caller nor a proxy asked for timers: the call runs without one, as
// before.
func (s *Server) negotiateTimer(req *sip.Request) (st sessionTimer, on bool, refused *timerRefusal) {
	supports := hasOption(req, "timer", "Supported", "k")
	seH := firstHeader(req, "Session-Expires", "x")
	if seH == nil && !supports {
		return sessionTimer{}, false, nil
	}
	interval, refresher := s.cfg.SessionExpires, ""
	if seH != nil {
		d, r, err := sessionExpires(seH.Value())
		if err != nil {
			return sessionTimer{}, false, &timerRefusal{400, err.Error()}
		}
		if d < s.cfg.MinSE {
			return sessionTimer{}, false, &timerRefusal{422, fmt.Sprintf("session interval %ds is below our Min-SE", int(d/time.Second))}
		}
		// The caller's interval, or ours when it is longer: the caller
		// may not ask for a call unwatched longer than we allow.
		interval, refresher = min(d, s.cfg.SessionExpires), r
	}
	if h := firstHeader(req, "Min-SE"); h != nil {
		// The interval must not go below what a proxy on the way takes.
		m, err := deltaSeconds(h.Value())
		if err != nil {
			return sessionTimer{}, false, &timerRefusal{400, fmt.Sprintf("Min-SE %q: %v", h.Value(), err)}
		}
		interval = max(interval, m)
	}
	switch {
	case !supports:
		// A caller that does not support timers cannot refresh: only a
		// proxy asked, and we refresh (section 9).
		refresher = "uas"
	case refresher == "":
		// The caller supports timers and left the choice to us: the
		// caller refreshes, so a lost phone is what ends the session.
		refresher = "uac"
	}
	return sessionTimer{interval: interval, weRefresh: refresher == "uas", required: supports}, true, nil
}

// headers are the answer's session timer headers: the interval and who
// refreshes (relative to the request answered, whose UAC is the caller).
func (st sessionTimer) headers() []sip.Header {
	r := "uac"
	if st.weRefresh {
		r = "uas"
	}
	hs := []sip.Header{sip.NewHeader("Session-Expires", fmt.Sprintf("%d;refresher=%s", int(st.interval/time.Second), r))}
	if st.required {
		hs = append(hs, sip.NewHeader("Require", "timer"))
	}
	return hs
}

// refuseTimer answers a request whose session timer is refused.
func (s *Server) refuseTimer(req *sip.Request, tx sip.ServerTransaction, r *timerRefusal) {
	if r.code == 422 {
		s.refuse(req, tx, 422, "Session Interval Too Small", r.why,
			sip.NewHeader("Min-SE", strconv.Itoa(int(s.cfg.MinSE/time.Second))))
		return
	}
	s.refuse(req, tx, 400, "Bad Request", r.why)
}

// renewTimer hands the call's session loop a new negotiation (a refresh
// from the caller, or the answer to ours); the latest wins.
func (c *Call) renewTimer(st sessionTimer) {
	for {
		select {
		case c.timers <- st:
			return
		default:
		}
		select {
		case <-c.timers:
		default:
		}
	}
}

// sessionLoop keeps the call's session timer until the call ends: as
// refresher it refreshes at half the interval; otherwise it ends the call
// when no refresh came by the interval less a third of it (at most 32 s
// less), as RFC 4028 section 10 says, so the BYE leaves before the
// caller's own timer runs out.
func (c *Call) sessionLoop(st sessionTimer) {
	for {
		wait := st.interval / 2
		if !st.weRefresh {
			wait = st.interval - min(32*time.Second, st.interval/3)
		}
		t := time.NewTimer(wait)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case st = <-c.timers:
			t.Stop()
			continue
		case <-t.C:
		}
		if !st.weRefresh {
			c.log.Info("sip session expired: the caller sent no refresh", "interval", st.interval)
			c.cancel(ErrSessionExpired)
			return
		}
		next, err := c.refresh(st)
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.log.Warn("sip session refresh failed: ending the call", "err", err)
			c.cancel(ErrRefreshFailed)
			return
		}
		select {
		case st = <-c.timers: // the caller refreshed meanwhile
		default:
			st = next
		}
	}
}

// refresh sends the node's session refresh: an UPDATE without a body
// when the caller allows UPDATE (nothing to offer, nothing to ACK),
// otherwise a re-INVITE offering the call's media unchanged. It returns
// the session timer the caller's answer sets.
func (c *Call) refresh(st sessionTimer) (sessionTimer, error) {
	ctx, cancel := context.WithTimeout(c.ctx, max(st.interval/4, 4*time.Second))
	defer cancel()
	inv := c.dlg.InviteRequest
	target := inv.Recipient
	if ct := inv.Contact(); ct != nil {
		target = ct.Address
	}
	method := sip.INVITE
	if hasOption(inv, "UPDATE", "Allow") {
		method = sip.UPDATE
	}
	req := sip.NewRequest(method, *target.Clone())
	// In the refresh's own terms the node is the UAC.
	req.AppendHeader(sip.NewHeader("Session-Expires", fmt.Sprintf("%d;refresher=uac", int(st.interval/time.Second))))
	req.AppendHeader(sip.NewHeader("Supported", "timer"))
	req.AppendHeader(sip.NewHeader("Min-SE", strconv.Itoa(int(c.srv.cfg.MinSE/time.Second))))
	if method == sip.INVITE {
		c.mu.Lock()
		ans := c.offered
		c.mu.Unlock()
		port := c.conn.LocalAddr().(*net.UDPAddr).Port
		// The same session version: the session description has not
		// changed (RFC 4028 section 7.4 asks for no change).
		req.SetBody(answerSDP(ans, c.srv.cfg.MediaIP, port, c.sessID, c.version.Load()))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res, err := c.dlg.Do(ctx, req)
	if err != nil {
		return st, fmt.Errorf("%s: %w", method, err)
	}
	if method == sip.INVITE && res.IsSuccess() {
		ack := sip.NewRequest(sip.ACK, *target.Clone())
		ack.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.ACK})
		if err := c.dlg.WriteRequest(ack); err != nil {
			return st, fmt.Errorf("ACK of the refresh: %w", err)
		}
	}
	if !res.IsSuccess() {
		return st, fmt.Errorf("%s answered %d %s", method, res.StatusCode, res.Reason)
	}
	c.log.Debug("sip session refreshed", "method", method.String())
	next := st
	if h := firstHeader(res, "Session-Expires", "x"); h != nil {
		d, r, err := sessionExpires(h.Value())
		if err != nil {
			return st, fmt.Errorf("%s answer: %w", method, err)
		}
		// The caller may shorten the interval, not below our Min-SE,
		// and may take the refreshing over (refresher=uas: the caller,
		// the UAS of this refresh).
		next.interval = max(d, c.srv.cfg.MinSE)
		next.weRefresh = r != "uas"
	}
	return next, nil
}
