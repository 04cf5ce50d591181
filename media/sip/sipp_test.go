package sip

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/sip/siptest"
	"github.com/callbrief/callbrief/media/webrtc"
)

// guard bounds every wait of these tests: reaching it is a hang.
const guard = 90 * time.Second

const speechWAV = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"

func needSipp(t *testing.T) {
	t.Helper()
	if _, err := siptest.Sipp(); err != nil {
		t.Skip(err)
	}
}

func freeUDPPort(t *testing.T, even bool) int {
	t.Helper()
	p, err := siptest.FreeUDPPort(even)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// speechPCAP writes the recorded speech as G.711 RTP for sipp.
func speechPCAP(t *testing.T, law string) (string, time.Duration) {
	t.Helper()
	f, err := os.Open(speechWAV)
	if err != nil {
		t.Skip("pocketsphinx test recordings are not installed")
	}
	defer f.Close()
	a, err := media.ReadWAV(f)
	if err != nil || a.Format.Channels != 1 {
		t.Fatalf("%v %+v", err, a.Format)
	}
	p := filepath.Join(t.TempDir(), "speech-"+law+".pcap")
	d, err := siptest.WritePCAP(p, media.Float32ToInt16(nil, a.Data), a.Format.SampleRate, law)
	if err != nil {
		t.Fatal(err)
	}
	return p, d
}

// testServer starts a Server on loopback with one trusted trunk at
// 127.0.0.1 whose numbers come from P-Asserted-Identity.
func testServer(t *testing.T, mod func(*Config), onCall func(*Call)) *Server {
	t.Helper()
	rtp := freeUDPPort(t, true)
	cfg := Config{Addr: "127.0.0.1:0", MediaIP: netip.MustParseAddr("127.0.0.1"), RTPPortMin: rtp, RTPPortMax: rtp + 40,
		Trunks: []Trunk{{Name: "carrier", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			NumberHeader: "p-asserted-identity", Trusted: true,
			Numbers: map[string]call.Language{"2000": call.LangEnglish, "2001": call.LangCantonese}}},
		OnCall: onCall, MediaTimeout: 20 * time.Second}
	if testing.Verbose() {
		cfg.Logger = testLogger(t)
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// runSipp runs sipp's caller against s.
func runSipp(t *testing.T, ctx context.Context, s *Server, vars map[string]string, extra ...string) (string, error) {
	t.Helper()
	needSipp(t)
	vars["KEYS"] = siptest.KeyPCAPs
	if vars["LISTEN"] == "" {
		vars["LISTEN"] = "0"
	}
	return siptest.Run(ctx, t.TempDir(), siptest.CallerScenario, vars, s.Addr().String(), extra...)
}

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}

// listened is what a test's call heard.
type listened struct {
	mu      sync.Mutex
	caller  Caller
	codec   webrtc.Codec
	speech  int // frames with speech-level audio
	frames  int
	keys    string
	stats   webrtc.Stats
	spokeOK bool
}

// hearKeys is an OnCall that listens until the caller has pressed want
// (and spoken at least minSpeech frames), says a short tone back, then
// hangs up.
func hearKeys(l *listened, want string, minSpeech int) func(*Call) {
	return func(c *Call) {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		l.mu.Lock()
		l.caller, l.codec = c.Caller(), c.Codec()
		l.mu.Unlock()
		for {
			l.mu.Lock()
			done := l.keys == want && l.speech >= minSpeech
			l.mu.Unlock()
			if done {
				break
			}
			ev, err := c.Next(ctx)
			if err != nil {
				return
			}
			l.mu.Lock()
			switch ev.Kind {
			case webrtc.EventDTMF:
				l.keys += string(ev.Digit)
			case webrtc.EventAudio:
				l.frames++
				if rms(ev.Frame.Samples) > 300 {
					l.speech++
				}
			}
			l.mu.Unlock()
		}
		tone := make([]int16, 8000)
		for i := range tone {
			tone[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/16000))
		}
		err := c.Speak(ctx, tone, 16000)
		l.mu.Lock()
		l.spokeOK = err == nil
		l.stats = c.Stats()
		l.mu.Unlock()
	}
}

// TestSippCallSpeechAndKeys: sipp places a call over G.711 (both laws;
// UDP and TCP)
// with recorded speech, RFC 4733 keys and an INFO key; the call sees the
// caller's number from P-Asserted-Identity on the trusted trunk, the
// dialled number's line, the speech and the keys in order, speaks back,
// and ends the call with a BYE that sipp answers.
func TestSippCallSpeechAndKeys(t *testing.T) {
	needSipp(t)
	for _, tc := range []struct{ law, transport string }{{"PCMU", "u1"}, {"PCMA", "u1"}, {"PCMU", "t1"}} {
		law := tc.law
		t.Run(law+"/"+map[string]string{"u1": "udp", "t1": "tcp"}[tc.transport], func(t *testing.T) {
			wav, length := speechPCAP(t, law)
			var l listened
			s := testServer(t, nil, hearKeys(&l, "129#", 50))
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			pt := map[string]string{"PCMU": "0", "PCMA": "8"}[law]
			out, err := runSipp(t, ctx, s, map[string]string{"PT": pt, "CODEC": law, "WAV": wav, "PAUSE": fmt.Sprint(length.Milliseconds())}, "-t", tc.transport)
			if err != nil {
				t.Fatalf("sipp: %v\n%s", err, out)
			}
			if testing.Verbose() {
				t.Logf("sipp said:\n%s", out)
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.caller.Number != "+8613812345678" || l.caller.Header != "P-Asserted-Identity" || !l.caller.Trusted || l.caller.Line != call.LangEnglish {
				t.Errorf("caller %+v", l.caller)
			}
			if string(l.codec) != law {
				t.Errorf("codec %s, want %s", l.codec, law)
			}
			if l.keys != "129#" {
				t.Errorf("keys %q", l.keys)
			}
			// At least half the recording heard at speech level.
			if min := int(length/(20*time.Millisecond)) / 2; l.speech < min {
				t.Errorf("speech frames %d of %d, want at least %d", l.speech, l.frames, min)
			}
			if !l.spokeOK || l.stats.PacketsSent < 20 {
				t.Errorf("prompt: ok %v, stats %+v", l.spokeOK, l.stats)
			}
			t.Logf("heard %d frames (%d speech), keys %q; stats %+v", l.frames, l.speech, l.keys, l.stats)
			c := s.Counters()
			if c.Answered.Load() != 1 || c.InfoKeys.Load() != 1 {
				t.Errorf("answered %d, info keys %d", c.Answered.Load(), c.InfoKeys.Load())
			}
		})
	}
}
