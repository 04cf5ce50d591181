package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/media/webrtc"
)

// serverMedia answers the desk's media requests with a real WebRTC server
// that has no live calls: offers are parsed for real, then the call is
// not found.
type serverMedia struct{ s *webrtc.Server }

func (m serverMedia) Status(string) MediaStatus { return MediaStatus{State: MediaNone} }
func (m serverMedia) Join(ctx context.Context, id, _ string, offer []byte) (string, error) {
	_, answer, err := m.s.Join(ctx, id, offer)
	return answer, err
}
func (m serverMedia) Hangup(_ context.Context, id, _ string) error { return m.s.Hangup(id) }
func (m serverMedia) Subscribe() (<-chan struct{}, func()) {
	return make(chan struct{}), func() {}
}
func (m serverMedia) Elsewhere(context.Context, string, *http.Request) http.Handler { return nil }

const audioOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n" +
	"a=rtpmap:111 opus/48000/2\r\na=sendrecv\r\n"

// TestDeskMediaErrors: joining a call's audio needs a signed-in agent who
// accepted the call, an SDP offer we can answer, and a caller on the line;
// each refusal says which is missing.
func TestDeskMediaErrors(t *testing.T) {
	d, eng, srv, clk := newDesk(t)
	ctx := context.Background()
	tok := d.Token("li.na", clk.now().Add(time.Hour))
	other := d.Token("sam.taylor", clk.now().Add(time.Hour))
	if _, err := eng.Handoff(ctx, handoff.Request{CallID: "c1", Intent: call.IntentResult{Intent: "device_power_boot"}}); err != nil {
		t.Fatal(err)
	}
	if err := eng.Online(ctx, "li.na"); err != nil {
		t.Fatal(err)
	}
	media := func(method, token, ctype, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+"/desk/api/calls/c1/media", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m["error"]
	}
	check := func(name string, code int, msg string, wantCode int, want string) {
		t.Helper()
		if code != wantCode || !strings.Contains(msg, want) {
			t.Errorf("%s: %d %q, want %d containing %q", name, code, msg, wantCode, want)
		}
	}
	c, m := media("POST", "", "application/sdp", audioOffer)
	check("no token", c, m, 401, "sign in")
	c, m = media("GET", tok, "", "")
	check("before accepting", c, m, 409, "not accepted")
	if err := eng.Accept(ctx, "li.na", "c1"); err != nil {
		t.Fatal(err)
	}
	c, m = media("POST", other, "application/sdp", audioOffer)
	check("another agent", c, m, 403, "not held")
	c, m = media("POST", tok, "application/sdp", audioOffer)
	check("no live audio on this node", c, m, 404, "no live audio")

	ws, err := webrtc.NewServer(webrtc.Config{OnCall: func(webrtc.Call) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close(ctx)
	d.WithMedia(serverMedia{ws})
	c, m = media("GET", tok, "", "")
	check("status", c, m, 200, "")
	c, m = media("POST", tok, "application/json", audioOffer)
	check("not SDP", c, m, 415, "application/sdp")
	c, m = media("POST", tok, "application/sdp", "v=0\r\nbogus")
	check("malformed SDP", c, m, 400, "malformed SDP")
	c, m = media("POST", tok, "application/sdp", audioOffer+strings.Repeat("a=x\r\n", webrtc.MaxOfferBytes/5))
	check("oversized offer", c, m, 413, "too large")
	c, m = media("POST", tok, "application/sdp", strings.ReplaceAll(audioOffer, "opus/48000/2", "G722/8000"))
	check("no codec we take", c, m, 415, "G722/8000")
	c, m = media("POST", tok, "application/sdp", audioOffer)
	check("caller gone", c, m, 404, "no such call")
	c, m = media("DELETE", tok, "", "")
	check("hang up a call gone", c, m, 404, "no such call")
}
