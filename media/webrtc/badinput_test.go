package webrtc

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media"
)

const sdpHead = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

func TestBadOffers(t *testing.T) {
	checkLeaks(t)
	ts := newTestServer(t, Config{}, nil)
	tests := []struct {
		name, contentType, body string
		status                  int
		mention                 string // the error body must say this
	}{
		{"not sdp content type", "text/plain", sdpHead, http.StatusUnsupportedMediaType, "application/sdp"},
		{"garbage", "application/sdp", "hello, is anyone there?", http.StatusBadRequest, "malformed SDP"},
		{"empty", "application/sdp", "", http.StatusBadRequest, "malformed SDP"},
		{"video only", "application/sdp", sdpHead + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n",
			http.StatusBadRequest, "no audio"},
		{"only unsupported codecs", "application/sdp", sdpHead +
			"m=audio 9 UDP/TLS/RTP/SAVPF 9 8 102\r\na=rtpmap:9 G722/8000\r\na=rtpmap:102 iLBC/8000\r\n",
			http.StatusUnsupportedMediaType, "offered G722/8000, PCMA/8000, iLBC/8000"},
		{"bad rtpmap", "application/sdp", sdpHead + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111\r\n",
			http.StatusBadRequest, "rtpmap"},
		{"opus without ICE or DTLS", "application/sdp", sdpHead +
			"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n",
			http.StatusBadRequest, "malformed SDP"},
		{"too large", "application/sdp", sdpHead + strings.Repeat("a=x:y\r\n", MaxOfferBytes/7+1),
			http.StatusRequestEntityTooLarge, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, loc := ts.post(t, tt.contentType, tt.body)
			if status != tt.status || !strings.Contains(body, tt.mention) || loc != "" {
				t.Fatalf("got %d %q (Location %q), want %d mentioning %q", status, body, loc, tt.status, tt.mention)
			}
			if n := ts.srv.Active(); n != 0 {
				t.Fatalf("%d calls left after a refused offer", n)
			}
		})
	}
	if code := ts.delete(t, "/v1/whip/nosuchcall"); code != http.StatusNotFound {
		t.Fatalf("DELETE unknown call: %d, want 404", code)
	}
}

// TestICETimeout: a peer that posts an offer and never connects is ended
// with ErrICETimeout and its resources freed.
func TestICETimeout(t *testing.T) {
	checkLeaks(t)
	ts := newTestServer(t, Config{ICETimeout: 300 * time.Millisecond}, nil)
	cl := newClient(t, CodecOpus)
	status, body, _ := ts.post(t, "application/sdp", cl.offer(t))
	if status != http.StatusCreated {
		t.Fatalf("POST: %d %s", status, body)
	}
	// The client never applies the answer, so ICE cannot complete.
	call := ts.nextCall(t)
	waitDone(t, call)
	if !errors.Is(call.Err(), ErrICETimeout) {
		t.Fatalf("call ended with %v, want ErrICETimeout", call.Err())
	}
	if _, err := call.Next(context.Background()); !errors.Is(err, ErrICETimeout) {
		t.Fatalf("Next: %v", err)
	}
	if ts.srv.Active() != 0 {
		t.Fatal("timed-out call still registered")
	}
}

// TestGarbageRTP: undecodable payloads, short telephone-events and
// unnegotiated payload types are counted and concealed; the call stays up
// and later audio decodes.
func TestGarbageRTP(t *testing.T) {
	checkLeaks(t)
	ts := newTestServer(t, Config{QueueFrames: 1000}, nil)
	cl := newClient(t, CodecOpus)
	loc := cl.dial(t, ts)
	call := ts.nextCall(t)
	pt := audioPT(t, cl.track)
	for i := range 20 {
		switch i % 3 {
		case 0:
			cl.send(t, pt, []byte{0x03, 0x00}, false) // Opus code 3 with no frames
		case 1:
			cl.send(t, cl.eventPT, []byte{1}, false) // telephone-event too short
		case 2:
			cl.send(t, 77, []byte{1, 2, 3}, false) // never negotiated
		}
		cl.ts += 960
	}
	cl.sendAudio(t, tone16k(time.Second, 300))
	cl.sendDigit(t, 5)
	cl.sendAudio(t, tone16k(100*time.Millisecond, 300))
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	for {
		ev, err := call.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v (stats %+v)", err, call.Stats())
		}
		if ev.Kind == EventDTMF {
			if ev.Digit != '5' {
				t.Fatalf("key %q, want '5'", ev.Digit)
			}
			break
		}
	}
	st := call.Stats()
	// 7 undecodable Opus packets, 7 short events, 6 unnegotiated ones
	// (whose sequence numbers are then concealed as lost).
	if st.Malformed != 20 || st.PacketsLost != 6 || call.Err() != nil {
		t.Fatalf("after garbage: err %v, stats %+v", call.Err(), st)
	}
	// The call id alone, or with a wrong secret, opens nothing: agents,
	// logs and briefs see call ids.
	id, secret, _ := strings.Cut(loc[strings.LastIndexByte(loc, '/')+1:], ".")
	if id != call.ID() || len(secret) != 32 {
		t.Fatalf("Location %q: want /v1/whip/%s.SECRET", loc, call.ID())
	}
	for _, bad := range []string{"/v1/whip/" + id, "/v1/whip/" + id + ".00000000000000000000000000000000", "/v1/whip/" + id + "."} {
		if code := ts.delete(t, bad); code != http.StatusNotFound {
			t.Fatalf("DELETE %s: %d, want 404", bad, code)
		}
		if _, ok := ts.srv.CallOfResource(strings.TrimPrefix(bad, "/v1/whip/")); ok {
			t.Fatalf("%s resolved", bad)
		}
	}
	if got, ok := ts.srv.CallOfResource(id + "." + secret); !ok || got != id {
		t.Fatalf("the call's own resource: %q %v", got, ok)
	}
	if code := ts.delete(t, loc); code != http.StatusOK {
		t.Fatalf("DELETE: %d", code)
	}
	waitDone(t, call)
}

// TestBargeIn: Interrupt stops a prompt within a frame or two: far inside
// the 200 ms budget, counted in frames sent rather than timed.
func TestBargeIn(t *testing.T) {
	checkLeaks(t)
	ts := newTestServer(t, Config{}, nil)
	cl := newClient(t, CodecOpus)
	loc := cl.dial(t, ts)
	call := ts.nextCall(t)
	spoke := make(chan error, 1)
	go func() { spoke <- call.Speak(context.Background(), tone16k(10*time.Second, 440), media.Rate16k) }()
	tr := <-cl.prompts
	for range 5 { // the prompt is flowing
		if _, _, err := tr.ReadRTP(); err != nil {
			t.Fatal(err)
		}
	}
	sent := call.Stats().SpokenFrames
	call.Interrupt()
	if err := <-spoke; !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Speak returned %v, want ErrInterrupted", err)
	}
	st := call.Stats()
	if extra := st.SpokenFrames - sent; extra > 2 || st.Interrupted != 1 {
		t.Fatalf("%d frames (%d ms) sent after Interrupt, want at most 2; stats %+v", extra, 20*extra, st)
	}
	// A cancelled context stops a prompt the same way.
	pctx, pcancel := context.WithCancel(context.Background())
	pcancel()
	if err := call.Speak(pctx, tone16k(time.Second, 440), media.Rate16k); !errors.Is(err, context.Canceled) {
		t.Fatalf("Speak with a cancelled context: %v", err)
	}
	if code := ts.delete(t, loc); code != http.StatusOK {
		t.Fatalf("DELETE: %d", code)
	}
	waitDone(t, call)
}

// TestICEServersOffered: WHIP clients learn the STUN and TURN servers
// from OPTIONS (RFC 9725 Link headers); pages get them as JSON.
func TestICEServersOffered(t *testing.T) {
	ice := []ICEServer{{URLs: []string{"stun:stun.example.net:3478"}},
		{URLs: []string{"turn:turn.example.net:3478?transport=udp"}, Username: "u1", Credential: "p1"}}
	ts := newTestServer(t, Config{ICEServers: ice}, nil)
	req, _ := http.NewRequest(http.MethodOptions, ts.http.URL+"/v1/whip/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	links := resp.Header.Values("Link")
	want := []string{`<stun:stun.example.net:3478>; rel="ice-server"`,
		`<turn:turn.example.net:3478?transport=udp>; rel="ice-server"; username="u1"; credential="p1"; credential-type="password"`}
	if !slices.Equal(links, want) {
		t.Fatalf("Link headers %q, want %q", links, want)
	}
	if got := ts.srv.ICEServers(); len(got) != 2 || got[1].Username != "u1" {
		t.Fatalf("ICEServers %+v", got)
	}
	none := newTestServer(t, Config{}, nil)
	if got := none.srv.ICEServers(); got == nil || len(got) != 0 {
		t.Fatalf("no servers: %#v (want an empty list, JSON [])", got)
	}
}

// TestTURNCredentialsMinted: with a secret shared with the TURN server,
// each peer gets its own credential that expires, in the scheme TURN
// servers check (username "<expiry>:<id>", credential
// base64(HMAC-SHA1(secret, username))); the secret itself is never handed
// out.
func TestTURNCredentialsMinted(t *testing.T) {
	ice := []ICEServer{{URLs: []string{"turn:turn.example.net:3478?transport=udp"}, Secret: "shared-with-coturn", TTL: time.Hour}}
	ts := newTestServer(t, Config{ICEServers: ice}, nil)
	a, b := ts.srv.ICEServers(), ts.srv.ICEServers()
	if len(a) != 1 || len(b) != 1 || a[0].Username == b[0].Username {
		t.Fatalf("two peers got %+v and %+v: each needs its own credential", a, b)
	}
	exp, id, ok := strings.Cut(a[0].Username, ":")
	at, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || id == "" {
		t.Fatalf("username %q is not <expiry>:<id>", a[0].Username)
	}
	if d := time.Until(time.Unix(at, 0)); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("credential expires in %s, want the configured hour", d)
	}
	mac := hmac.New(sha1.New, []byte("shared-with-coturn"))
	mac.Write([]byte(a[0].Username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); a[0].Credential != want {
		t.Fatalf("credential %q, want %q", a[0].Credential, want)
	}
	js, _ := json.Marshal(a)
	if strings.Contains(string(js), "shared-with-coturn") {
		t.Fatalf("the secret is handed out: %s", js)
	}
	req, _ := http.NewRequest(http.MethodOptions, ts.http.URL+"/v1/whip/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if l := resp.Header.Get("Link"); !strings.Contains(l, `credential-type="password"`) || strings.Contains(l, "shared-with-coturn") {
		t.Fatalf("Link %q", l)
	}
	for _, bad := range []ICEServer{
		{URLs: []string{"turn:t.example.net"}, Secret: "s", Username: "u", Credential: "p"},
		{URLs: []string{"turn:t.example.net"}, Secret: "s", TTL: -time.Second},
	} {
		if _, err := NewServer(Config{ICEServers: []ICEServer{bad}}); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
}
