package sip

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callbrief/callbrief/media/sip/siptest"
)

// ended is what a test's call saw of its own end.
type ended struct {
	mu       sync.Mutex
	answered time.Time
	end      time.Time
	cause    error
	done     chan struct{}
}

// waitEnd is an OnCall that holds the call until it ends by itself (the
// caller's BYE, the session timer) and records when and why.
func (e *ended) waitEnd(c *Call) {
	e.mu.Lock()
	e.answered = time.Now()
	e.mu.Unlock()
	select {
	case <-c.Ended():
	case <-time.After(guard):
	}
	e.mu.Lock()
	e.end, e.cause = time.Now(), c.Err()
	e.mu.Unlock()
	close(e.done)
}

func (e *ended) wait(t *testing.T, ctx context.Context) (time.Duration, error) {
	t.Helper()
	select {
	case <-e.done:
	case <-ctx.Done():
		t.Fatal("the call did not end")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.end.Sub(e.answered), e.cause
}

// timerServer is testServer with short session timers: Min-SE 3 s,
// at most se.
func timerServer(t *testing.T, se time.Duration, onCall func(*Call)) *Server {
	return testServer(t, func(c *Config) {
		c.ShortTimers, c.MinSE, c.SessionExpires = true, 3*time.Second, se
	}, onCall)
}

func runScenario(t *testing.T, ctx context.Context, s *Server, scenario []byte, vars map[string]string, extra ...string) {
	t.Helper()
	needSipp(t)
	out, err := siptest.Run(ctx, t.TempDir(), scenario, vars, s.Addr().String(), extra...)
	if err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("sipp said:\n%s", out)
	}
}

// TestSessionTimerTooShort: a caller asking for a session interval below
// Min-SE gets 422 with our Min-SE (RFC 4028 section 8.1), and no call.
func TestSessionTimerTooShort(t *testing.T) {
	e := &ended{done: make(chan struct{})}
	s := timerServer(t, 30*time.Second, e.waitEnd)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	runScenario(t, ctx, s, siptest.RefusedCallScenario, map[string]string{
		"HEADERS": "      Supported: timer\n      Session-Expires: 2;refresher=uac",
		"CODE":    "422", "HDR": "Min-SE", "RE": "^ *3 *$"})
	c := s.Counters()
	if c.Refused422.Load() != 1 || c.Answered.Load() != 0 {
		t.Errorf("422 refusals %d, answered %d", c.Refused422.Load(), c.Answered.Load())
	}
}

// TestSessionTimerCallerRefreshes: a caller that refreshes (UPDATE,
// re-INVITE, UPDATE, every half interval of 6 s) keeps its call twice the
// interval, and hangs up itself: no BYE from the service in between
// (sipp would fail on it), the call ends by the caller's BYE.
func TestSessionTimerCallerRefreshes(t *testing.T) {
	e := &ended{done: make(chan struct{})}
	s := timerServer(t, 30*time.Second, e.waitEnd)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	runScenario(t, ctx, s, siptest.TimerKeepScenario, map[string]string{"SE": "6", "HALF": "3000"})
	d, cause := e.wait(t, ctx)
	if !errors.Is(cause, ErrHangup) || d < 12*time.Second-500*time.Millisecond {
		t.Errorf("call ended after %s by %v, want the caller's BYE after 12 s", d, cause)
	}
	if n := s.Counters().ReInvites.Load(); n != 1 {
		t.Errorf("re-INVITEs %d, want 1", n)
	}
}

// TestSessionTimerExpires: a caller that asked to refresh and never does
// gets the service's BYE at the session interval less a third (RFC 4028
// section 10: 4 s of 6 s), and the call ends as the caller's being gone.
func TestSessionTimerExpires(t *testing.T) {
	e := &ended{done: make(chan struct{})}
	s := timerServer(t, 30*time.Second, e.waitEnd)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	start := time.Now()
	runScenario(t, ctx, s, siptest.TimerIdleScenario, map[string]string{"SE": "6", "BYEWAIT": "15000", "PLAY": ""})
	d, cause := e.wait(t, ctx)
	if !errors.Is(cause, ErrSessionExpired) {
		t.Errorf("call ended by %v, want the session's expiry", cause)
	}
	// The BYE went at 4 s, before the caller's own timer ran out at 6 s
	// and long before the media timeout (20 s) would have ended it.
	if d < 4*time.Second-200*time.Millisecond || d > 5*time.Second {
		t.Errorf("call ended %s after the answer, want 4 s", d)
	}
	t.Logf("BYE %s after the answer (sipp ran %s)", d.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestSessionTimerServiceRefreshes: a caller that asks the service to
// refresh gets two refreshes at half its 4 s interval, as UPDATE when it
// allows UPDATE and as re-INVITE (ACKed) when not, and keeps its call
// until it hangs up.
func TestSessionTimerServiceRefreshes(t *testing.T) {
	for name, sc := range map[string][]byte{"update": siptest.TimerServiceScenario, "reinvite": siptest.TimerServiceInviteScenario} {
		t.Run(name, func(t *testing.T) {
			e := &ended{done: make(chan struct{})}
			s := timerServer(t, 30*time.Second, e.waitEnd)
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			runScenario(t, ctx, s, sc, map[string]string{"SE": "4", "WAIT": "4000"})
			d, cause := e.wait(t, ctx)
			// Two refreshes at 2 s each: the caller hung up after 4 s.
			if !errors.Is(cause, ErrHangup) || d < 4*time.Second-500*time.Millisecond {
				t.Errorf("call ended after %s by %v, want the caller's BYE after two refreshes", d, cause)
			}
		})
	}
}

// TestNegotiateTimer: what the answer says for each way a request asks
// for (or does not ask for) session timers.
func TestNegotiateTimer(t *testing.T) {
	s := &Server{cfg: Config{SessionExpires: 1800 * time.Second, MinSE: 90 * time.Second}}
	for _, tc := range []struct {
		name    string
		headers [][2]string
		on      bool
		want    sessionTimer
		code    int
	}{
		{"none", nil, false, sessionTimer{}, 0},
		{"supported only", [][2]string{{"Supported", "100rel, timer"}}, true, sessionTimer{1800 * time.Second, false, true}, 0},
		{"compact", [][2]string{{"k", "timer"}, {"x", "600"}}, true, sessionTimer{600 * time.Second, false, true}, 0},
		{"caller asks us", [][2]string{{"Supported", "timer"}, {"Session-Expires", "300;refresher=uas"}}, true, sessionTimer{300 * time.Second, true, true}, 0},
		{"proxy asks, caller cannot", [][2]string{{"Session-Expires", "300;refresher=uac"}}, true, sessionTimer{300 * time.Second, true, false}, 0},
		{"longer than ours", [][2]string{{"Supported", "timer"}, {"Session-Expires", "7200"}}, true, sessionTimer{1800 * time.Second, false, true}, 0},
		{"Min-SE raises", [][2]string{{"Supported", "timer"}, {"Session-Expires", "7200"}, {"Min-SE", "3600"}}, true, sessionTimer{3600 * time.Second, false, true}, 0},
		{"too short", [][2]string{{"Supported", "timer"}, {"Session-Expires", "60"}}, false, sessionTimer{}, 422},
		{"not a number", [][2]string{{"Session-Expires", "soon"}}, false, sessionTimer{}, 400},
		{"bad refresher", [][2]string{{"Session-Expires", "300;refresher=both"}}, false, sessionTimer{}, 400},
		{"bad Min-SE", [][2]string{{"Supported", "timer"}, {"Min-SE", "-1"}}, false, sessionTimer{}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "2000", Host: "127.0.0.1"})
			for _, h := range tc.headers {
				req.AppendHeader(sip.NewHeader(h[0], h[1]))
			}
			st, on, ref := s.negotiateTimer(req)
			code := 0
			if ref != nil {
				code = ref.code
			}
			if on != tc.on || st != tc.want || code != tc.code {
				t.Errorf("got %+v on %v refused %d, want %+v on %v refused %d", st, on, code, tc.want, tc.on, tc.code)
			}
		})
	}
}

// FuzzSessionExpires: any Session-Expires value parses or is refused,
// and one taken is a positive interval of at most a day with a known
// refresher.
func FuzzSessionExpires(f *testing.F) {
	for _, s := range []string{"1800", "90;refresher=uac", "300 ; refresher = UAS", "x", "", "99999999999999999999", "0", "10;foo;refresher"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, r, err := sessionExpires(v)
		if err != nil {
			if !errors.Is(err, errSessionHeader) {
				t.Errorf("%q: error %v is not a header error", v, err)
			}
			return
		}
		if d <= 0 || d > 24*time.Hour || (r != "" && r != "uac" && r != "uas") {
			t.Errorf("%q: %s %q", v, d, r)
		}
	})
}

// TestSessionTimerRefreshRefused: the caller answers the service's
// refresh 481 (it lost the call): the service ends the call with BYE.
func TestSessionTimerRefreshRefused(t *testing.T) {
	e := &ended{done: make(chan struct{})}
	s := timerServer(t, 30*time.Second, e.waitEnd)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	runScenario(t, ctx, s, siptest.TimerRefusedScenario, map[string]string{"SE": "4", "WAIT": "4000"})
	d, cause := e.wait(t, ctx)
	if !errors.Is(cause, ErrRefreshFailed) || d < 2*time.Second-200*time.Millisecond {
		t.Errorf("call ended after %s by %v, want the refused refresh at 2 s", d, cause)
	}
}
