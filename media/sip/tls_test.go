package sip

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/sip/siptest"
	"github.com/callbrief/callbrief/media/webrtc"
)

// tlsServer is testServer with a TLS listener whose certificate a test
// CA signed, and the trunk at 127.0.0.1 requiring TLS.
func tlsServer(t *testing.T, onCall func(*Call)) (*Server, siptest.Certs) {
	t.Helper()
	certs, err := siptest.MakeCerts(t.TempDir(), net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certs.CertFile, certs.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	s := testServer(t, func(c *Config) {
		c.TLSAddr, c.TLS = "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		c.Trunks[0].RequireTLS = true
		c.Trunks[0].NumberHeader = "from"
	}, onCall)
	return s, certs
}

// TestTLSCallFromBaresip: a real phone (baresip) that trusts the test CA
// calls over SIP over TLS a trunk that requires TLS; the call is taken
// (its signalling over TLS, its audio RTP as ever), the caller's speech
// is heard, and the service's BYE reaches the phone over the same TLS
// connection, closing its call. (Debian's baresip 1.0.0 connects even
// to a certificate it cannot verify: TestTLSContactAndVia's client is
// the one that checks the chain.)
func TestTLSCallFromBaresip(t *testing.T) {
	if _, err := siptest.BaresipBin(); err != nil {
		t.Skip(err)
	}
	f, err := os.Open(speechWAV)
	if err != nil {
		t.Skip("pocketsphinx test recordings are not installed")
	}
	a, err := media.ReadWAV(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wav := filepath.Join(dir, "mic.wav")
	if _, err := siptest.WriteWAV(wav, media.Float32ToInt16(nil, a.Data), a.Format.SampleRate, 500*time.Millisecond, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	var (
		mu        sync.Mutex
		transport string
		caller    Caller
		speech    int
	)
	s, certs := tlsServer(t, func(c *Call) {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		mu.Lock()
		transport, caller = c.transport, c.Caller()
		mu.Unlock()
		// Two seconds of the caller's speech, then the service hangs up.
		for n := 0; n < 100; {
			ev, err := c.Next(ctx)
			if err != nil {
				return
			}
			if ev.Kind == webrtc.EventAudio && rms(ev.Frame.Samples) > 300 {
				n++
				mu.Lock()
				speech = n
				mu.Unlock()
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	phone, err := siptest.StartPhone(ctx, dir, "+8613812345678", wav, siptest.PhoneOptions{CAFile: certs.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	defer func() {
		if t.Failed() {
			t.Logf("baresip said:\n%s", phone.Output())
		}
	}()
	if _, err := phone.Command(ctx, "dial", fmt.Sprintf("sip:2000@%s;transport=tls", s.TLSAddr())); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Await(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatal(err)
	}
	// The service's BYE, over TLS, is what closes the phone's call
	// (baresip says "Connection reset by peer" for a BYE from the far
	// end).
	e, err := phone.Await(ctx, "CALL_CLOSED")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Param, "reset by peer") {
		t.Errorf("the phone's call closed (%s), not by the service's BYE", e.Param)
	}
	mu.Lock()
	defer mu.Unlock()
	if transport != "tls" || caller.Number != "+8613812345678" || speech < 100 {
		t.Errorf("call over %q from %+v, %d speech frames heard", transport, caller, speech)
	}
	if c := s.Counters(); c.Answered.Load() != 1 || c.Refused403.Load() != 0 {
		t.Errorf("answered %d, refused 403 %d", c.Answered.Load(), c.Refused403.Load())
	}
}

// TestTLSRequiredRefusesPlain: a trunk that requires TLS gets 403, with
// a Reason saying so, for an INVITE over UDP or TCP (sipp), and no call.
func TestTLSRequiredRefusesPlain(t *testing.T) {
	needSipp(t)
	for _, tr := range []string{"u1", "t1"} {
		t.Run(map[string]string{"u1": "udp", "t1": "tcp"}[tr], func(t *testing.T) {
			s, _ := tlsServer(t, func(*Call) { t.Error("a call was taken over a plain transport") })
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			runScenario(t, ctx, s, siptest.RefusedCallScenario, map[string]string{
				"HEADERS": "      Subject: a call over a plain transport", "CODE": "403", "HDR": "Reason",
				"RE": `text=.trunk carrier requires TLS.`}, "-t", tr)
			if c := s.Counters(); c.Refused403.Load() != 1 || c.Invites.Load() != 0 {
				t.Errorf("refused 403 %d, invites %d", c.Refused403.Load(), c.Invites.Load())
			}
		})
	}
}

// readSIP reads one message from a stream transport: its header lines,
// then Content-Length bytes of body.
func readSIP(r *bufio.Reader) (string, error) {
	var b strings.Builder
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return b.String(), err
		}
		b.WriteString(line)
		l := strings.TrimSpace(line)
		if l == "" {
			if b.Len() == len(line) {
				b.Reset() // a keep-alive CRLF before the message
				continue
			}
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok && (strings.EqualFold(k, "Content-Length") || k == "l") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return b.String(), err
	}
	return b.String() + string(body), nil
}

// TestTLSContactAndVia: over a TLS connection that verifies the service
// with the test CA, the 200 to an INVITE gives a Contact on the TLS port
// with transport=tls, and the service's BYE comes back over the same
// connection with a TLS Via.
func TestTLSContactAndVia(t *testing.T) {
	s, certs := tlsServer(t, func(*Call) {}) // the call ends at once: BYE
	ca, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	conn, err := tls.Dial("tcp", s.TLSAddr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(guard))
	local := conn.LocalAddr().String()
	rtp := freeUDPPort(t, true)
	sdp := strings.ReplaceAll(fmt.Sprintf(offerPCMU, rtp, "sendrecv"), "\n", "\r\n")
	hdr := fmt.Sprintf("Via: SIP/2.0/TLS %s;branch=z9hG4bK-tls1\r\nFrom: <sip:+8613812345678@127.0.0.1>;tag=tls1\r\nTo: <sip:2000@127.0.0.1>\r\nCall-ID: tls-contact@test\r\n", local)
	invite := fmt.Sprintf("INVITE sip:2000@%s;transport=tls SIP/2.0\r\n%sCSeq: 1 INVITE\r\nContact: <sip:caller@%s;transport=tls>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		s.TLSAddr(), hdr, local, len(sdp), sdp)
	if _, err := conn.Write([]byte(invite)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	var ok string
	for ok == "" {
		m, err := readSIP(r)
		if err != nil {
			t.Fatalf("%v after %q", err, m)
		}
		if strings.HasPrefix(m, "SIP/2.0 200 ") {
			ok = m
		} else if !strings.HasPrefix(m, "SIP/2.0 1") {
			t.Fatalf("want 200, got:\n%s", m)
		}
	}
	want := fmt.Sprintf("<sip:callbrief@127.0.0.1:%d;transport=tls>", s.TLSAddr().Port())
	if !strings.Contains(ok, "Contact: "+want) {
		t.Errorf("200 without Contact %s:\n%s", want, ok)
	}
	toTag := ""
	for _, l := range strings.Split(ok, "\r\n") {
		if strings.HasPrefix(l, "To: ") {
			toTag = strings.TrimPrefix(l, "To: ")
		}
	}
	ack := fmt.Sprintf("ACK sip:callbrief@127.0.0.1:%d;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS %s;branch=z9hG4bK-tls2\r\nFrom: <sip:+8613812345678@127.0.0.1>;tag=tls1\r\nTo: %s\r\nCall-ID: tls-contact@test\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		s.TLSAddr().Port(), local, toTag)
	if _, err := conn.Write([]byte(ack)); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := readSIP(r)
		if err != nil {
			t.Fatalf("no BYE over the TLS connection: %v", err)
		}
		if !strings.HasPrefix(m, "BYE ") {
			continue // a retransmitted 200
		}
		if !strings.Contains(m, "Via: SIP/2.0/TLS ") {
			t.Errorf("BYE without a TLS Via:\n%s", m)
		}
		var res strings.Builder
		res.WriteString("SIP/2.0 200 OK\r\n")
		for _, l := range strings.Split(m, "\r\n") {
			for _, h := range []string{"Via:", "From:", "To:", "Call-ID:", "CSeq:"} {
				if strings.HasPrefix(l, h) {
					res.WriteString(l + "\r\n")
				}
			}
		}
		res.WriteString("Content-Length: 0\r\n\r\n")
		if _, err := conn.Write([]byte(res.String())); err != nil {
			t.Fatal(err)
		}
		break
	}
	if c := s.Counters(); c.Answered.Load() != 1 {
		t.Errorf("answered %d", c.Answered.Load())
	}
}
