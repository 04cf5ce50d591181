package sip

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Transfer is a blind transfer (RFC 3515 REFER) of a call to another SIP
// address: the caller's side (the carrier or PBX that sent the call) is
// asked to call Target instead, and reports how that went in NOTIFYs.
type Transfer struct {
	// Target is a sip: URI without headers (sip:queue@acd.example:5060).
	Target string
	// UUI is user-to-user data for the target (RFC 7433): it is sent
	// hex-encoded, with Purpose, in a User-to-User header.
	UUI     []byte
	Purpose string
	// Headers are more headers for the target, in order (X-...).
	// Like User-to-User they travel as headers of the Refer-To URI,
	// which the transferee copies into its INVITE to Target.
	Headers [][2]string
	// Timeout bounds the wait for the transferee's final report once it
	// accepted the REFER; default 30 s.
	Timeout time.Duration
}

// Why a transfer did not happen. A refused or failed transfer leaves the
// call up, as it was: the caller is still ours.
var (
	// ErrTransferRefused: the REFER was answered with an error (the
	// trunk does not do transfers, or not to that address).
	ErrTransferRefused = errors.New("sip: transfer refused")
	// ErrTransferFailed: the transferee accepted the REFER but could not
	// reach the target (a final NOTIFY above 299, or none in time).
	ErrTransferFailed = errors.New("sip: transfer failed")
	// ErrTransferred ends a call transferred elsewhere.
	ErrTransferred = errors.New("sip: call transferred")
)

// notifyReport is one NOTIFY of a REFER's implicit subscription: the
// status line of its sipfrag body, and whether the subscription ended.
type notifyReport struct {
	code       int
	reason     string
	terminated bool
}

// UUIValue is the User-to-User header value (RFC 7433) for data: hex, with
// the encoding and purpose parameters.
func UUIValue(data []byte, purpose string) string {
	v := hex.EncodeToString(data) + ";encoding=hex"
	if purpose != "" {
		v += ";purpose=" + purpose
	}
	return v
}

// ReferTo builds a Refer-To value for t: its target with the headers the
// transferee is to send there, escaped as URI headers (RFC 3261 19.1.1).
func ReferTo(t Transfer) (string, error) {
	var u sip.Uri
	if err := sip.ParseUri(t.Target, &u); err != nil {
		return "", fmt.Errorf("sip: transfer target %q: %w", t.Target, err)
	}
	if u.Scheme != "sip" && u.Scheme != "sips" {
		return "", fmt.Errorf("sip: transfer target %q is not a sip: URI", t.Target)
	}
	if u.Host == "" {
		return "", fmt.Errorf("sip: transfer target %q has no host", t.Target)
	}
	if strings.Contains(t.Target, "?") || strings.ContainsAny(t.Target, "<>") {
		return "", fmt.Errorf("sip: transfer target %q must not carry headers or brackets", t.Target)
	}
	var hs []string
	if len(t.UUI) > 0 {
		hs = append(hs, "User-to-User="+escapeHeaderValue(UUIValue(t.UUI, t.Purpose)))
	}
	for _, h := range t.Headers {
		if h[0] == "" || strings.ContainsAny(h[0], " :=&?;<>\r\n") {
			return "", fmt.Errorf("sip: transfer header name %q", h[0])
		}
		hs = append(hs, h[0]+"="+escapeHeaderValue(h[1]))
	}
	v := "<" + t.Target
	if len(hs) > 0 {
		v += "?" + strings.Join(hs, "&")
	}
	return v + ">", nil
}

// escapeHeaderValue escapes s as an hvalue: unreserved and hnv-unreserved
// characters stay, everything else is %XX.
func escapeHeaderValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			strings.IndexByte("-_.!~*'()[]/?:+$", ch) >= 0:
			b.WriteByte(ch)
		default:
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// Transfer asks the caller's side to take the call to t.Target (blind
// transfer) and waits for its report. On success the call ends (BYE, as
// RFC 5589 has the transferor do) with ErrTransferred. When the REFER is
// refused (ErrTransferRefused) or the transferee reports a failure
// (ErrTransferFailed) the call stays up and the caller is still ours; if
// the caller's side ends the call before reporting, the error wraps the
// call's end.
func (c *Call) Transfer(ctx context.Context, t Transfer) error {
	referTo, err := ReferTo(t)
	if err != nil {
		return err
	}
	if t.Timeout <= 0 {
		t.Timeout = 30 * time.Second
	}
	if err := c.Err(); err != nil {
		return err
	}
	reports := make(chan notifyReport, 16)
	c.mu.Lock()
	if c.notify != nil {
		c.mu.Unlock()
		return errors.New("sip: a transfer of this call is already under way")
	}
	c.notify = reports
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.notify = nil
		c.mu.Unlock()
	}()

	req := sip.NewRequest(sip.REFER, c.dlg.InviteRequest.Contact().Address)
	req.SetTransport(c.dlg.InviteRequest.Transport())
	req.AppendHeader(sip.NewHeader("Refer-To", referTo))
	req.AppendHeader(sip.NewHeader("Referred-By", "<sip:callbrief@"+c.srv.cfg.MediaIP.String()+">"))
	c.log.Info("sip transfer", "target", t.Target, "headers", len(t.Headers), "uui_bytes", len(t.UUI))
	rctx, cancel := context.WithTimeout(ctx, 32*time.Second) // Timer F: the REFER's transaction
	res, err := c.dlg.Do(rctx, req)
	cancel()
	if err != nil {
		if cerr := c.Err(); cerr != nil {
			return fmt.Errorf("sip: call ended during the transfer: %w", cerr)
		}
		return fmt.Errorf("%w: REFER not answered: %w", ErrTransferRefused, err)
	}
	if !res.IsSuccess() {
		c.srv.count(&c.srv.counters.TransfersRefused)
		c.log.Info("sip transfer refused", "code", res.StatusCode, "reason", res.Reason)
		return fmt.Errorf("%w: %d %s", ErrTransferRefused, res.StatusCode, res.Reason)
	}
	deadline := time.NewTimer(t.Timeout)
	defer deadline.Stop()
	for {
		select {
		case r := <-reports:
			switch {
			case r.code >= 200 && r.code < 300:
				c.srv.count(&c.srv.counters.Transferred)
				c.log.Info("sip call transferred", "target", t.Target, "report", r.code)
				c.cancel(ErrTransferred)
				return nil
			case r.code >= 300:
				c.srv.count(&c.srv.counters.TransfersFailed)
				c.log.Info("sip transfer failed", "target", t.Target, "report", r.code, "reason", r.reason)
				return fmt.Errorf("%w: the transferee reported %d %s", ErrTransferFailed, r.code, r.reason)
			case r.terminated:
				c.srv.count(&c.srv.counters.TransfersFailed)
				return fmt.Errorf("%w: the transferee ended the subscription without a final report", ErrTransferFailed)
			}
		case <-deadline.C:
			c.srv.count(&c.srv.counters.TransfersFailed)
			return fmt.Errorf("%w: no final report within %s", ErrTransferFailed, t.Timeout)
		case <-c.ctx.Done():
			return fmt.Errorf("sip: call ended during the transfer: %w", context.Cause(c.ctx))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// onNotify takes the transferee's reports on a REFER (RFC 3515): a
// message/sipfrag body whose status line says how its INVITE to the
// target went.
func (s *Server) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	c := s.dialog(req)
	if c == nil {
		s.refuse(req, tx, 481, "Call/Transaction Does Not Exist", "no such call")
		return
	}
	ev := ""
	if h := req.GetHeader("Event"); h != nil {
		ev = strings.ToLower(strings.TrimSpace(h.Value()))
	}
	if name, _, _ := strings.Cut(ev, ";"); strings.TrimSpace(name) != "refer" {
		s.refuse(req, tx, 489, "Bad Event", fmt.Sprintf("event %q is not refer", ev))
		return
	}
	r, err := parseSipfrag(req.Body())
	if err != nil {
		s.refuse(req, tx, 400, "Bad Request", err.Error())
		return
	}
	if h := req.GetHeader("Subscription-State"); h != nil {
		st, _, _ := strings.Cut(strings.ToLower(h.Value()), ";")
		r.terminated = strings.TrimSpace(st) == "terminated"
	}
	s.respond(req, tx, 200, "OK", "")
	c.mu.Lock()
	ch := c.notify
	c.mu.Unlock()
	if ch == nil {
		c.log.Debug("NOTIFY with no transfer under way", "report", r.code)
		return
	}
	select {
	case ch <- r:
	default:
		c.log.Warn("transfer report dropped: too many", "report", r.code)
	}
}

// parseSipfrag reads the status line of a message/sipfrag body
// ("SIP/2.0 200 OK").
func parseSipfrag(body []byte) (notifyReport, error) {
	line, _, _ := strings.Cut(string(body), "\n")
	line = strings.TrimSpace(line)
	ver, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.EqualFold(ver, "SIP/2.0") {
		return notifyReport{}, fmt.Errorf("sipfrag %q is not a SIP status line", truncate(line, 40))
	}
	code, reason, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 699 {
		return notifyReport{}, fmt.Errorf("sipfrag status %q is not a SIP status code", truncate(code, 10))
	}
	return notifyReport{code: n, reason: truncate(strings.TrimSpace(reason), 80)}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
