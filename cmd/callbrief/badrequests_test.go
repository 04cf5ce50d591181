package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/phone"
)

// TestRandomRequests sends 10,000 bounded random requests to every HTTP
// endpoint of a running serve (the handler `serve` builds, in-process
// store): no sign-in, wrong and right keys and tokens, tokens where they
// are refused, oversized and malformed bodies, bad JSON, bad WAV, bad SDP,
// random paths and methods. No request may crash a handler or the node;
// a 5xx must say why; no response may carry a demo account's name, id,
// number, IMEI, serial, order or ticket (nothing here reaches a level that
// shows them); no error body may show an address, a stack or a file path.
// Seeded: CBTEST_RANDOM_SEED and CBTEST_RANDOM_REQUESTS reproduce or
// lengthen a run; a failure names the request's number and what it was.
func TestRandomRequests(t *testing.T) {
	seed, n := uint64(20251203), 10000
	if v := os.Getenv("CBTEST_RANDOM_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	if v := os.Getenv("CBTEST_RANDOM_REQUESTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	// net/http reports a handler's panic on the standard logger.
	var stdlog lockedBuffer
	log.SetOutput(&stdlog)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })

	// Pocketsphinx alone: the recognizer is not what is probed here, and
	// the speech server would make each accepted upload slow.
	// The per-address limits of the anonymous endpoints are off here, so
	// that the offers and page requests reach their parsers (every request
	// comes from one address); TestAnonymousLimits checks the limits.
	ls := startLive(t, "--set", "asr.engine=sphinx", "--set", "log.level=warn",
		"--set", "webrtc.offers_per_minute=0", "--set", "webrtc.page_per_minute=0")
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()
	agentToken := ls.login(t, ctx, "wang.jian", "demo-token-wang-jian-0003")
	pii := demoPII(t)
	g := &reqGen{rng: rand.New(rand.NewPCG(seed, 7)), apiKey: testAPIKey, agentToken: agentToken, pii: pii}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	start := time.Now()
	statuses := map[int]int{}
	uploads, streams := 0, 0
	for i := range n {
		rq := g.next()
		if rq.upload {
			uploads++
		}
		req, err := http.NewRequestWithContext(ctx, rq.method, ls.base+rq.path, bytes.NewReader(rq.body))
		if err != nil {
			continue // a method or path net/http itself refuses to send
		}
		for k, v := range rq.header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil && strings.Contains(err.Error(), "net/http: invalid") {
			continue // refused by the client before sending
		}
		if err != nil {
			t.Fatalf("seed %d request %d (%s): no answer: %v", seed, i, rq, err)
		}
		var body []byte
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode == http.StatusSwitchingProtocols || strings.HasPrefix(ct, "text/event-stream") {
			// A stream (captions, the desk's feed) stays open: its
			// headers are the answer, and closing it ends the handler.
			streams++
		} else if body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20)); err != nil {
			t.Fatalf("seed %d request %d (%s): %d, reading the answer: %v", seed, i, rq, resp.StatusCode, err)
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
		if msg := judge(rq, resp, body, pii); msg != "" {
			t.Fatalf("seed %d request %d (%s): %d %s\n%.600s", seed, i, rq, resp.StatusCode, msg, body)
		}
	}
	took := time.Since(start)
	t.Logf("seed %d: %d requests (%d audio uploads with the right key, %d streams opened) in %s; statuses %v", seed, n, uploads, streams, took.Round(time.Millisecond), statuses)
	if s := stdlog.String(); strings.Contains(s, "panic") {
		t.Fatalf("a handler panicked:\n%s", s)
	}
	if s := ls.stderr.String(); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
		t.Fatalf("the node logged a panic:\n%s", s)
	}
	if code, err := ls.do(ctx, http.MethodGet, "/healthz", "", nil, nil); err != nil || code != http.StatusOK {
		t.Fatalf("after the requests: healthz %d %v", code, err)
	}
}

// TestAnonymousLimits: the caller page and its WHIP offers, reached
// without signing in, are limited per address: past the burst, 429 with
// Retry-After and a reason; a hang-up (DELETE) is not held up by the offer
// limit, and the desk is not limited by them.
func TestAnonymousLimits(t *testing.T) {
	ls := startLive(t, "--set", "asr.engine=sphinx", "--set", "webrtc.offers_per_minute=1", "--set", "webrtc.page_per_minute=1")
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()
	send := func(method, path, ctype string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, method, ls.base+path, strings.NewReader("v=0\r\n"))
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, c := range []struct {
		method, path string
		burst        int
	}{{"POST", "/v1/whip", 5}, {"GET", "/call/", 60}} {
		for i := range c.burst {
			if resp := send(c.method, c.path, "application/sdp"); resp.StatusCode == http.StatusTooManyRequests {
				t.Fatalf("%s %s: 429 at request %d of a burst of %d", c.method, c.path, i+1, c.burst)
			}
		}
		resp := send(c.method, c.path, "application/sdp")
		if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != http.StatusTooManyRequests || ra < 1 {
			t.Fatalf("%s %s past the burst: %d Retry-After %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if resp := send("DELETE", "/v1/whip/nope", ""); resp.StatusCode == http.StatusTooManyRequests {
		t.Fatal("a hang-up was refused by the offer limit")
	}
	if code, err := ls.do(ctx, http.MethodGet, "/desk/", "", nil, nil); err != nil || code != http.StatusOK {
		t.Fatalf("the desk page: %d %v", code, err)
	}
}

// internalDetail is what an error body must never show: addresses, stacks,
// source and file paths, store names.
var internalDetail = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?\b|localhost:\d+|goroutine \d+|\.go:\d+|runtime error|panic|` +
	`(/home|/work|/tmp|/usr|/root|/var|/etc)/|redis|dial tcp`)

// judge returns what is wrong with one answer, or "".
func judge(rq genReq, resp *http.Response, body []byte, pii []string) string {
	sent := rq.path + "\n" + string(rq.body)
	if u, err := url.PathUnescape(rq.path); err == nil {
		sent += "\n" + u
	}
	if q, err := url.QueryUnescape(rq.path); err == nil {
		sent += "\n" + q
	}
	text := string(body)
	if resp.StatusCode >= 500 && !saysWhy(resp, body) {
		return "a 5xx without a reason"
	}
	for _, p := range pii {
		// What the request itself carried may come back (a caller's own
		// number in its refusal); anything else of an account may not.
		if strings.Contains(text, p) && !strings.Contains(sent, p) {
			return fmt.Sprintf("the answer shows %q of a demo account", p)
		}
	}
	if resp.StatusCode >= 400 {
		for _, m := range internalDetail.FindAllString(text, -1) {
			if !strings.Contains(sent, m) {
				return fmt.Sprintf("the error shows internal detail %q", m)
			}
		}
	}
	return ""
}

// saysWhy: a JSON error with a code and message, a readiness report, or a
// plain sentence (not just the status text).
func saysWhy(resp *http.Response, body []byte) bool {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Status string `json:"status"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Error.Code != "" && e.Error.Message != "" || e.Status != "") {
		return true
	}
	s := strings.TrimSpace(string(body))
	return len(s) > 12 && !strings.EqualFold(s, http.StatusText(resp.StatusCode))
}

// demoPII is every identifying value of the demo accounts, in the forms a
// response could carry them.
func demoPII(t *testing.T) []string {
	t.Helper()
	accts, err := accounts.DemoAccounts()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			if len(v) >= 2 {
				out = append(out, v)
			}
		}
	}
	for _, a := range accts {
		add(a.ID, a.Name, a.NameEn)
		for _, p := range a.Phones {
			add(p)
			if e, err := phone.Normalize(p); err == nil {
				add(e, strings.TrimPrefix(e, "+86"))
			}
		}
		for _, d := range a.Devices {
			add(d.IMEI, d.Serial)
		}
		for _, o := range a.Orders {
			add(o.Number)
		}
		for _, s := range a.Service {
			add(s.Ticket)
		}
	}
	return out
}

// genReq is one random request.
type genReq struct {
	method, path string
	header       map[string]string
	body         []byte
	upload       bool   // a well-formed WAV with the right key: runs a call
	what         string // how it was made, for the failure message
}

func (r genReq) String() string {
	return fmt.Sprintf("%s %.120s, %s, %d-byte body", r.method, r.path, r.what, len(r.body))
}

// reqGen makes random requests from a seeded source.
type reqGen struct {
	rng        *rand.Rand
	apiKey     string
	agentToken string
	pii        []string
}

// endpoints are the node's routes, with {id} for a path value.
var endpoints = []struct{ method, path string }{
	{"GET", "/"}, {"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"},
	{"POST", "/v1/transcribe"}, {"POST", "/v1/calls"}, {"GET", "/v1/otp/recent"}, {"GET", "/v1/ice-servers"},
	{"POST", "/v1/whip"}, {"OPTIONS", "/v1/whip"}, {"PATCH", "/v1/whip/{id}"}, {"DELETE", "/v1/whip/{id}"},
	{"GET", "/call/"}, {"GET", "/call/static/app.js"}, {"GET", "/call/captions/{id}"},
	{"GET", "/desk/"}, {"POST", "/desk/api/login"}, {"GET", "/desk/api/queue"}, {"GET", "/desk/api/calls/{id}/brief"},
	{"POST", "/desk/api/calls/{id}/accept"}, {"POST", "/desk/api/calls/{id}/decline"}, {"POST", "/desk/api/calls/{id}/kb-feedback"},
	{"POST", "/desk/api/calls/{id}/outcome"}, {"GET", "/desk/api/drafts"}, {"POST", "/desk/api/ready"},
	{"POST", "/desk/api/calls/{id}/called-back"}, {"GET", "/desk/api/wallboard"}, {"POST", "/desk/api/live-ticket"},
	{"GET", "/desk/api/live"}, {"GET", "/desk/api/calls/{id}/media"}, {"POST", "/desk/api/calls/{id}/media"},
	{"DELETE", "/desk/api/calls/{id}/media"},
}

var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "X"}

func (g *reqGen) pick(n int) int { return g.rng.IntN(n) }

func (g *reqGen) chance(p float64) bool { return g.rng.Float64() < p }

func (g *reqGen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.UintN(256))
	}
	return b
}

func (g *reqGen) id() string {
	ids := []string{
		"20250303T100000-" + strconv.Itoa(g.pick(1000)), "1", "0", "-1", "c-" + strconv.Itoa(g.pick(100)),
		"..%2F..%2Fetc%2Fpasswd", "%00", strings.Repeat("a", 1+g.pick(3000)), "%E4%BD%A0%E5%A5%BD", "A10001", "%ZZ",
		url.PathEscape(string(g.bytes(1 + g.pick(16)))),
	}
	return ids[g.pick(len(ids))]
}

// number is a caller number: a demo account's (a spoofed victim), a
// random one, or junk.
func (g *reqGen) number() string {
	switch g.pick(4) {
	case 0:
		accts, _ := accounts.DemoAccounts()
		a := accts[g.pick(len(accts))]
		return a.Phones[0]
	case 1:
		return fmt.Sprintf("+86139%08d", g.pick(100000000))
	case 2:
		return string(g.bytes(1 + g.pick(30)))
	}
	return "anonymous"
}

// auth sets an Authorization (or a token where tokens are refused).
func (g *reqGen) auth(rq *genReq, path string) {
	switch g.pick(9) {
	case 0, 1:
		rq.what += "no sign-in"
	case 2:
		rq.header["Authorization"] = "Bearer " + g.apiKey
		rq.what += "the API key"
	case 3:
		rq.header["Authorization"] = "Bearer " + g.agentToken
		rq.what += "an agent's token"
	case 4:
		tok := []byte(g.agentToken)
		tok[g.pick(len(tok))] ^= 1 + byte(g.pick(7))
		rq.header["Authorization"] = "Bearer " + string(tok)
		rq.what += "a tampered token"
	case 5:
		rq.header["Authorization"] = "Bearer " + strings.Repeat("x", 1+g.pick(64))
		rq.what += "a wrong key"
	case 6:
		rq.header["Authorization"] = []string{"Basic " + g.apiKey, "Bearer", "bearer " + g.apiKey, "Bearer  " + g.apiKey + " x", "Bearer\t" + g.apiKey}[g.pick(5)]
		rq.what += "a malformed Authorization"
	case 7:
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		rq.path += sep + "token=" + url.QueryEscape([]string{g.agentToken, g.apiKey}[g.pick(2)])
		rq.what += "a token in the query"
	case 8:
		rq.header["Authorization"] = "Bearer " + g.apiKey
		rq.header["X-Forwarded-For"] = fmt.Sprintf("10.%d.%d.%d", g.pick(256), g.pick(256), g.pick(256))
		rq.what += "the API key and a forwarded address"
	}
}

// wav builds a WAV file; broken chooses one way to spoil it.
func (g *reqGen) wav(broken int) []byte {
	rate := []uint32{8000, 16000, 44100, 48000, 0, 1, 4294967295}[g.pick(7)]
	ch := []uint16{1, 1, 2, 0, 9}[g.pick(5)]
	bits := []uint16{16, 16, 8, 24, 32, 0, 12}[g.pick(7)]
	format := []uint16{1, 1, 3, 6, 7, 0xFFFE, 99}[g.pick(7)]
	if broken == 0 {
		rate, ch, bits, format = 16000, 1, 16, 1
	}
	samples := 1600 + g.pick(6400) // 0.1 to 0.5 s at 16 kHz
	data := make([]byte, samples*2)
	for i := 0; i < samples; i++ {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(int16(g.rng.NormFloat64()*3000)))
	}
	var b bytes.Buffer
	dataLen := uint32(len(data))
	if broken == 1 {
		dataLen = []uint32{0xFFFFFFFF, 0x7FFFFFFF, 0, 3}[g.pick(4)] // claims more (or less) than is sent
	}
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, format)
	binary.Write(&b, binary.LittleEndian, ch)
	binary.Write(&b, binary.LittleEndian, rate)
	binary.Write(&b, binary.LittleEndian, rate*uint32(ch)*uint32(bits)/8)
	binary.Write(&b, binary.LittleEndian, ch*bits/8)
	binary.Write(&b, binary.LittleEndian, bits)
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, dataLen)
	b.Write(data)
	out := b.Bytes()
	switch broken {
	case 2: // truncated anywhere
		out = out[:g.pick(len(out))]
	case 3: // bytes flipped
		for range 1 + g.pick(8) {
			out[g.pick(len(out))] = byte(g.pick(256))
		}
	}
	return out
}

// jsonBody is bad or odd JSON for the desk's endpoints.
func (g *reqGen) jsonBody() ([]byte, string) {
	switch g.pick(8) {
	case 0:
		return []byte(`{"agent":"wang.jian","token":"` + strings.Repeat("x", g.pick(40)) + `"}`), "a wrong sign-in"
	case 1:
		return []byte(`{"agent":"` + []string{"li.na", "nobody", "", "wang.jian\u0000"}[g.pick(4)] + `","token":"demo-token-wang-jian-0003"}`), "another agent's token"
	case 2:
		return []byte(`{"article_id":"` + g.id() + `","helpful":` + []string{"true", "1", `"yes"`, "null"}[g.pick(4)] + `}`), "feedback"
	case 3:
		return []byte(`{"resolution":"` + strings.Repeat("好", g.pick(200)) + `","notes":` + []string{`"x"`, "[]", "{}", "1e999"}[g.pick(4)] + `}`), "an outcome"
	case 4:
		return bytes.Repeat([]byte("["), 1+g.pick(100000)), "deep brackets"
	case 5:
		return []byte(`{"agent":"wang.jian","token":"x","extra":` + strings.Repeat(`"a"`, 1) + `}`), "an unknown field"
	case 6:
		return append([]byte(`{"a":"`), bytes.Repeat([]byte("a"), 70<<10)...), "an oversized body"
	}
	return g.bytes(g.pick(2048)), "random bytes"
}

// sdp is an offer-shaped body, broken one way or another.
func (g *reqGen) sdp() []byte {
	lines := []string{"v=0", "o=- 1 2 IN IP4 0.0.0.0", "s=-", "t=0 0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0",
		"a=rtpmap:111 opus/48000/2", "a=ice-ufrag:" + string(g.bytes(g.pick(8))), "a=setup:actpass", "a=mid:0", "a=sendrecv",
		"a=fingerprint:sha-256 " + strings.Repeat("AB:", g.pick(40)), "a=candidate:1 1 UDP 1 999.1.1.1 0 typ host", "m=video 0 RTP/AVP 0"}
	g.rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	return []byte(strings.Join(lines[:g.pick(len(lines)+1)], "\r\n"))
}

func (g *reqGen) next() genReq {
	rq := genReq{header: map[string]string{}}
	if g.chance(0.08) {
		// Anything at all: a random method on a random path.
		rq.method = methods[g.pick(len(methods))]
		rq.path = "/" + url.PathEscape(string(g.bytes(g.pick(40))))
		if g.chance(0.5) {
			rq.path = []string{"/v1/", "/desk/api/", "/call/", "/desk/api/calls/", "/v1/whip/"}[g.pick(5)] + g.id()
		}
		rq.what = "a random path, "
		g.auth(&rq, rq.path)
		if g.chance(0.5) {
			rq.body = g.bytes(g.pick(4096))
		}
		return rq
	}
	ep := endpoints[g.pick(len(endpoints))]
	rq.method, rq.path = ep.method, strings.ReplaceAll(ep.path, "{id}", g.id())
	if g.chance(0.1) {
		rq.method = methods[g.pick(len(methods))]
	}
	switch {
	case ep.path == "/v1/calls" || ep.path == "/v1/transcribe":
		if ep.path == "/v1/calls" {
			q := url.Values{}
			if g.chance(0.8) {
				q.Set("caller", g.number())
			}
			// A call that runs waits two seconds for each answer it
			// lacks: calls get keys for every question (wrong ones), and
			// some get junk that is refused before the call.
			keys := make([]string, 4+g.pick(4))
			for k := range keys {
				keys[k] = strconv.Itoa(g.pick(1000000)) + "#"
			}
			q.Set("answers", strings.Join(keys, ","))
			if g.chance(0.3) {
				q.Set("answers", []string{"abc", strings.Repeat("9", g.pick(40)) + "x", ",a,", "12 34"}[g.pick(4)])
			}
			if g.chance(0.2) {
				q.Set("region", string(g.bytes(g.pick(10))))
			}
			rq.path += "?" + q.Encode()
		}
		g.auth(&rq, rq.path)
		// A well-formed short WAV with the right key runs a whole call:
		// kept rare so the run stays short; the rest are refused early.
		broken := 1 + g.pick(4) // 4: odd header fields, which may still be a WAV
		if strings.HasSuffix(rq.what, "the API key") && rq.method == "POST" && g.chance(0.08) {
			broken, rq.upload = 0, true
		}
		switch g.pick(6) {
		case 0:
			rq.body, rq.what = g.bytes(g.pick(8192)), rq.what+", random bytes"
		case 1:
			rq.body, rq.what = []byte(`{"audio":"`+strings.Repeat("A", g.pick(500))+`"}`), rq.what+", JSON instead of WAV"
		default:
			rq.body, rq.what = g.wav(broken), rq.what+fmt.Sprintf(", WAV (spoilt way %d)", broken)
		}
		if rq.upload {
			rq.body = g.wav(0)
		}
		rq.header["Content-Type"] = []string{"audio/wav", "application/json", "", "multipart/form-data; boundary=x"}[g.pick(4)]
	case strings.HasPrefix(ep.path, "/v1/whip"):
		g.auth(&rq, rq.path)
		rq.body, rq.what = g.sdp(), rq.what+", an SDP"
		if g.chance(0.1) {
			rq.body = bytes.Repeat([]byte("a=x\r\n"), 14<<10) // over the offer limit
			rq.what += " (oversized)"
		}
		rq.header["Content-Type"] = []string{"application/sdp", "application/trickle-ice-sdpfrag", "text/plain", ""}[g.pick(4)]
	case strings.HasPrefix(ep.path, "/desk/api/"):
		g.auth(&rq, rq.path)
		var what string
		rq.body, what = g.jsonBody()
		rq.what += ", " + what
		rq.header["Content-Type"] = "application/json"
		if ep.path == "/desk/api/live" && g.chance(0.5) {
			rq.header["Connection"], rq.header["Upgrade"] = "Upgrade", "websocket"
			rq.header["Sec-WebSocket-Version"], rq.header["Sec-WebSocket-Key"] = "13", "dGhlIHNhbXBsZSBub25jZQ=="
			rq.path += "?ticket=" + url.QueryEscape(g.id())
		}
	default:
		g.auth(&rq, rq.path)
		if g.chance(0.3) {
			rq.body = g.bytes(g.pick(1024))
		}
	}
	return rq
}

// TestJudgeCatches: the checks of TestRandomRequests fail on what they
// are meant to catch, and not on a caller's own input echoed back.
func TestJudgeCatches(t *testing.T) {
	pii := demoPII(t)
	rq := genReq{method: "POST", path: "/v1/calls?caller=%2B8613812345678"}
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code, Header: http.Header{}} }
	for _, c := range []struct {
		code int
		body string
		bad  bool
	}{
		{200, `{"caller":{"identity":{"name":"王小明"}}}`, true},
		{200, `{"devices":[{"imei":"867693067951602"}]}`, true},
		{400, `{"error":{"code":"bad","message":"caller +8613812345678 is locked"}}`, false}, // the request's own number
		{500, ``, true},
		{500, `Internal Server Error`, true},
		{503, `{"error":{"code":"overloaded","message":"busy; retry"}}`, false},
		{502, `{"error":{"code":"x","message":"dial tcp 10.0.0.7:6379: refused"}}`, true},
		{404, `open /work/app/static/x.js: no such file`, true},
		{422, `{"error":{"code":"bad_audio","message":"media: not a WAV file"}}`, false},
	} {
		if got := judge(rq, resp(c.code), []byte(c.body), pii); (got != "") != c.bad {
			t.Errorf("%d %s: judged %q, want bad=%v", c.code, c.body, got, c.bad)
		}
	}
}
