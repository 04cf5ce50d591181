package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media/sip/siptest"
)

// TestSIPBaresipCallReachesDesk: a real SIP phone (baresip) calls the
// service over a trunk that vouches for its From number. Its microphone
// is a LibriSpeech recording (8 kHz, after four seconds of listening to
// the greeting); it then presses 1 2 # on its keypad (RFC 4733 events).
// The call runs the live pipeline and its brief reaches the desk with the
// transcript and the caller's number; the caller holds until the hold
// timeout and the service hangs up, which the phone sees as the call
// closing.
//
// The phone offers one codec: G.711 mu-law, G.722 (wideband, its 16 kHz
// audio on an 8000 RTP clock) or Opus (48 kHz), and the call runs in it.
func TestSIPBaresipCallReachesDesk(t *testing.T) {
	if _, err := siptest.BaresipBin(); err != nil {
		t.Skip(err)
	}
	clips := testenv.SharedData(t, "speech-clips")
	codecs := []siptest.PhoneCodec{siptest.PhonePCMU}
	if os.Getenv("CALLBRIEF_SIP_ALL_CODECS") != "" {
		// Opus through a real phone end to end (about a minute): by hand;
		// the regular run covers Opus on SIP legs in media/sip (offer and
		// answer, decoding to 16 kHz, prompts back) to stay within CI's time.
		codecs = append(codecs, siptest.PhoneOpus)
	}
	for _, c := range codecs {
		t.Run(c.Name, func(t *testing.T) { baresipCall(t, clips, siptest.PhoneOptions{Codec: c}, nil) })
	}
	// G.722 over SIP over TLS (sip.tls, a test CA the phone trusts) on a
	// trunk that requires it; the audio is RTP as ever. One call for both
	// keeps the package's run within CI's budget; each is also tested on
	// its own in media/sip.
	t.Run("G722-over-TLS", func(t *testing.T) {
		certs, err := siptest.MakeCerts(t.TempDir(), net.IPv4(127, 0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		baresipCall(t, clips, siptest.PhoneOptions{Codec: siptest.PhoneG722, CAFile: certs.CAFile}, &certs)
	})
}

// baresipCall is one phone's call through the service, to the desk;
// with certs, over TLS to a trunk that requires it.
func baresipCall(t *testing.T, clips string, o siptest.PhoneOptions, certs *siptest.Certs) {
	checkLiveLeaks(t)
	pcm := testenv.PCM16(t, filepath.Join(clips, "librispeech-1995-1837-0001.wav"))
	dir := t.TempDir()
	wav := filepath.Join(dir, "mic.wav")
	const lead = 4 * time.Second
	length, err := siptest.WriteWAVAt(wav, pcm, 16000, o.Codec.Rate, lead, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sipAddr := fmt.Sprintf("127.0.0.1:%d", sipPort(t))
	rtp := mustPort(t, true)
	conf := filepath.Join(dir, "callbrief.yaml")
	yaml := fmt.Sprintf(`sip:
  addr: %s
  rtp_port_min: %d
  rtp_port_max: %d
  trunks:
    - name: pbx
      sources: [127.0.0.1/32]
      number_header: from
      trusted: true
      numbers: {"2000": en}
`, sipAddr, rtp, rtp+20)
	dialled, transport := "sip:2000@"+sipAddr, "udp"
	if certs != nil {
		tlsAddr := fmt.Sprintf("127.0.0.1:%d", sipPort(t))
		yaml += fmt.Sprintf("      require_tls: true\n  tls: {addr: %q, cert: %q, key: %q}\n", tlsAddr, certs.CertFile, certs.KeyFile)
		dialled, transport = "sip:2000@"+tlsAddr+";transport=tls", "tls"
	}
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ls := startLive(t, "--config", conf, "--set", "webrtc.hold_timeout=8s")
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()
	phone, err := siptest.StartPhone(ctx, dir, "+8613812345678", wav, o)
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	defer func() {
		if t.Failed() {
			t.Logf("baresip said:\n%s", phone.Output())
		}
	}()
	if _, err := phone.Command(ctx, "dial", dialled); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Await(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatal(err)
	}
	established := time.Now()
	answered := regexp.MustCompile(`msg="sip call answered" component=sip call_id=(\S+) .*number_header=From trusted=true number_known=true codec=` + o.Codec.Name + ` .* transport=` + transport)
	var id string
	for id == "" {
		if m := answered.FindStringSubmatch(ls.stderr.String()); m != nil {
			id = m[1]
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no call answered with the caller's number")
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The caller presses keys once they have said their piece, as the
	// sipp caller does (a caller's script, not a wait for the service).
	keysAt := time.NewTimer(time.Until(established.Add(lead + length + 500*time.Millisecond)))
	select {
	case <-keysAt.C:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if err := phone.Keys(ctx, "12#", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	b := ls.awaitBrief(t, ctx, id)
	tok := ls.briefReader(t, ctx, id)
	// "it was the first great sorrow of his life it was not so much the
	// loss of the cotton itself but the fantasy the hopes the dreams
	// built around it": most of its words must be heard over G.711 from a
	// real phone, whichever recognizer serves.
	ref := strings.Fields("it was the first great sorrow of his life it was not so much the loss of the cotton itself but the fantasy the hopes the dreams built around it")
	heard := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(b.text()), func(r rune) bool { return !('a' <= r && r <= 'z') }) {
		heard[w] = true
	}
	found := 0
	for _, w := range ref {
		if heard[w] {
			found++
		}
	}
	if found*2 < len(ref) || b.Route.Group == "" || strings.HasPrefix(b.Reason, "abandoned") {
		t.Errorf("brief heard %d of %d words: %+v", found, len(ref), b)
	}
	var raw map[string]any
	if code, err := ls.do(ctx, http.MethodGet, "/desk/api/calls/"+id+"/brief", tok, nil, &raw); err != nil || code != http.StatusOK {
		t.Fatalf("brief: %d %v", code, err)
	}
	js, _ := json.Marshal(raw)
	// The phone's number (+8613812345678, masked as any caller's).
	if !strings.Contains(string(js), "5678") {
		t.Errorf("brief has not the caller's number:\n%s", js)
	}
	t.Logf("brief: %q (%d of %d words), reason %q, verification %s, group %s", b.text(), found, len(ref), b.Reason, b.Verification.Status, b.Route.Group)
	// The caller holds; at the hold timeout the service says goodbye and
	// sends BYE, which closes the phone's call.
	// (baresip reports a BYE from the far end as "Connection reset by
	// peer"; its own end of file, were the service silent, as "end of
	// file".)
	if e, err := phone.Await(ctx, "CALL_CLOSED"); err != nil {
		t.Fatal(err)
	} else if !strings.Contains(e.Param, "reset by peer") {
		t.Errorf("the phone's call closed (%s), not by the service's BYE", e.Param)
	}
	ended := regexp.MustCompile(`msg="sip call ended" component=sip call_id=` + id + ` .* keys=(\d+) `)
	for {
		if m := ended.FindStringSubmatch(ls.stderr.String()); m != nil {
			if m[1] != "3" {
				t.Errorf("the call ended with %s keys, want 3 (1 2 #)", m[1])
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the call did not end")
		case <-time.After(50 * time.Millisecond):
		}
	}
	ls.awaitMetric(t, ctx, `callbrief_sip_answered_total 1`)
}
