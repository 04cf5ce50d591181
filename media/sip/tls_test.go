package sip

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
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
// connection, closing its call.
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
