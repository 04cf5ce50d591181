package verify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/internal/leakcheck"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/otp"
	"github.com/callbrief/callbrief/verify/phone"
	"github.com/callbrief/callbrief/verify/policy"
)

func TestMain(m *testing.M) { leakcheck.Main(m, "go-redis", "callbrief/verify", "callbrief/store") }

// clock is a settable clock shared by the verifier and the memory store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func day() time.Time   { return time.Date(2025, 3, 3, 10, 0, 0, 0, shanghai) }
func night() time.Time { return time.Date(2025, 3, 3, 23, 30, 0, 0, shanghai) }

type fixture struct {
	v    *Verifier
	gw   *otp.DevGateway
	dir  *accounts.Memory
	acct []accounts.Account
	clk  *clock
	st   store.Store
}

type backend struct {
	name string
	new  func(t *testing.T, clk *clock) store.Store
}

// backends: every verification test runs on the in-process store and on
// a real Redis.
func backends(t *testing.T) []backend {
	srv := redistest.Start(t)
	return []backend{
		{"memory", func(t *testing.T, clk *clock) store.Store { return memory.New(memory.WithClock(clk.Now)) }},
		{"redis", func(t *testing.T, clk *clock) store.Store {
			s, err := redis.New(redis.Config{Addr: srv.Addr, Prefix: t.Name() + ":"})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
}

func newFixture(t *testing.T, b backend, at time.Time) *fixture {
	t.Helper()
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	accts, err := accounts.DemoAccounts()
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: at}
	st := b.new(t, clk)
	t.Cleanup(func() { st.Close() })
	gw := otp.NewDevGateway(nil, 0)
	dir := accounts.NewMemory(accts)
	v, err := New(Config{Policy: pol, Directory: dir, Store: st, Gateway: gw, Now: clk.Now, Secret: []byte("test-secret-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{v: v, gw: gw, dir: dir, acct: accts, clk: clk, st: st}
}

// genuine answers a challenge as the account holder would.
func (f *fixture) genuine(t *testing.T, a accounts.Account, ch Challenge) string {
	t.Helper()
	switch ch.Method {
	case call.MethodIMEI:
		for _, d := range a.Devices {
			if d.Model == ch.Hint && d.IMEI != "" {
				return d.IMEI[len(d.IMEI)-ch.Digits:]
			}
		}
	case call.MethodOrder:
		return a.Orders[0].Number
	case call.MethodPhoneDigits:
		for _, p := range a.Phones {
			if strings.HasPrefix(phone.Mask(p), ch.Hint[:3]) {
				return phone.Last(p, ch.Digits)
			}
		}
	case call.MethodOTP:
		text, ok := f.gw.LastTo(a.Phones[0])
		if !ok {
			t.Fatalf("no code sent to %s", phone.Mask(a.Phones[0]))
		}
		return regexp.MustCompile(fmt.Sprintf(`\d{%d}`, ch.Digits)).FindString(text)
	}
	t.Fatalf("cannot answer %+v", ch)
	return ""
}

// run answers every challenge with answer(ch) until the verification ends.
func run(t *testing.T, ctx context.Context, vf *Verification, answer func(Challenge) (Source, string)) []Challenge {
	t.Helper()
	var asked []Challenge
	for range 20 {
		st := vf.Next()
		if st.Kind != StepChallenge {
			return asked
		}
		asked = append(asked, st.Challenge)
		src, text := answer(st.Challenge)
		if _, err := vf.Answer(ctx, src, text); err != nil {
			t.Fatalf("Answer: %v", err)
		}
	}
	t.Fatal("verification did not end")
	return nil
}

func TestVerification(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Run("GenuineOrderStatus", func(t *testing.T) { testGenuineOrderStatus(t, b) })
			t.Run("SensitiveDayAndNight", func(t *testing.T) { testSensitive(t, b) })
			t.Run("WrongAnswersLockCaller", func(t *testing.T) { testLockCaller(t, b) })
			t.Run("ManyNumbersLockAccount", func(t *testing.T) { testLockAccount(t, b) })
			t.Run("OTPReplay", func(t *testing.T) { testOTPReplay(t, b) })
			t.Run("EmergencyAtNight", func(t *testing.T) { testEmergency(t, b) })
			t.Run("WithheldIdentifies", func(t *testing.T) { testWithheld(t, b) })
			t.Run("SpoofedNumberSensitive", func(t *testing.T) { testSpoofed(t, b) })
			t.Run("AuditHasNoSecrets", func(t *testing.T) { testAudit(t, b) })
		})
	}
}

func testGenuineOrderStatus(t *testing.T, b backend) {
	f := newFixture(t, b, day())
	ctx := t.Context()
	a := f.acct[0]
	vf, err := f.v.Start(ctx, Request{CallID: "c1", Caller: strings.TrimPrefix(a.Phones[0], "+86"), Intent: "order_status"})
	if err != nil {
		t.Fatal(err)
	}
	asked := run(t, ctx, vf, func(ch Challenge) (Source, string) { return DTMF, f.genuine(t, a, ch) + "#" })
	o := vf.Outcome()
	if !o.Verified() || len(asked) != 1 || o.Identity.AccountID != a.ID {
		t.Fatalf("outcome %+v after %d questions", o, len(asked))
	}
	if o.Passed[0] != call.MethodANIMatch || !o.Passed[1].Knowledge() || o.Identity.CallerMasked != "138****5678" {
		t.Errorf("outcome %+v", o)
	}
}

func testSensitive(t *testing.T, b backend) {
	for _, tc := range []struct {
		name      string
		at        time.Time
		questions int
	}{{"day", day(), 3}, {"night", night(), 2}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, b, tc.at)
			ctx := t.Context()
			a := f.acct[1]
			vf, err := f.v.Start(ctx, Request{CallID: "s-" + tc.name, Caller: a.Phones[0], Intent: "account_unlock"})
			if err != nil {
				t.Fatal(err)
			}
			asked := run(t, ctx, vf, func(ch Challenge) (Source, string) { return Speech, spell(f.genuine(t, a, ch)) })
			o := vf.Outcome()
			if !o.Verified() || len(asked) != tc.questions || o.Night != (tc.name == "night") {
				t.Fatalf("outcome %+v after %d questions; want verified after %d", o, len(asked), tc.questions)
			}
			if asked[len(asked)-1].Method != call.MethodOTP {
				t.Errorf("the code must be asked, last: %+v", asked)
			}
		})
	}
}

// spell writes digits as a Mandarin speaker reads them out, with 幺 for 1.
func spell(d string) string {
	r := strings.NewReplacer("0", "零", "1", "幺", "2", "二", "3", "三", "4", "四", "5", "五", "6", "六", "7", "七", "8", "八", "9", "九")
	return r.Replace(d)
}

func wrong(ch Challenge) (Source, string) {
	n := ch.Digits
	if n == 0 {
		n = 8
	}
	return DTMF, strings.Repeat("0", n-1) + "1"
}

func testLockCaller(t *testing.T, b backend) {
	f := newFixture(t, b, day())
	ctx := t.Context()
	a := f.acct[3]
	lim := f.v.pol.Lockout.Caller.Failures
	var failures int
	for i := range 10 {
		vf, err := f.v.Start(ctx, Request{CallID: fmt.Sprint("w", i), Caller: a.Phones[0], Intent: "order_status"})
		if err != nil {
			t.Fatal(err)
		}
		failures += len(run(t, ctx, vf, func(ch Challenge) (Source, string) { return wrong(ch) }))
		o := vf.Outcome()
		if o.Verified() {
			t.Fatalf("wrong answers verified: %+v", o)
		}
		if failures >= lim && o.Status != call.StatusLocked {
			t.Fatalf("call %d after %d wrong answers: status %s; want locked", i, failures, o.Status)
		}
	}
	// The genuine caller, on the same number, is locked out too until
	// the lock expires (memory clock only: Redis keeps real time).
	vf, _ := f.v.Start(ctx, Request{CallID: "g", Caller: a.Phones[0], Intent: "order_status"})
	if vf.Outcome().Status != call.StatusLocked || vf.Next().Kind != StepDone {
		t.Fatalf("locked number got %+v", vf.Outcome())
	}
}

func testLockAccount(t *testing.T, b backend) {
	f := newFixture(t, b, day())
	ctx := t.Context()
	a := f.acct[4]
	lim := f.v.pol.Lockout.Account.Failures
	var failures int
	for i := range 30 {
		caller := fmt.Sprintf("+86139%08d", 10000000+i)
		vf, err := f.v.Start(ctx, Request{CallID: fmt.Sprint("m", i), Caller: caller, Intent: "order_status"})
		if err != nil {
			t.Fatal(err)
		}
		if vf.Next().Kind == StepIdentify {
			if _, err := vf.Identify(ctx, accounts.KindAccountID, a.ID); err != nil {
				t.Fatal(err)
			}
		}
		failures += len(run(t, ctx, vf, wrong))
		o := vf.Outcome()
		if o.Verified() {
			t.Fatalf("verified: %+v", o)
		}
		if failures >= lim && o.Status != call.StatusLocked {
			t.Fatalf("after %d wrong answers from %d numbers: %s; want locked", failures, i+1, o.Status)
		}
		if i == 0 && !strings.Contains(strings.Join(o.Risk, ";"), "not registered") {
			t.Errorf("risk notes %q lack the unregistered number", o.Risk)
		}
	}
}

func testOTPReplay(t *testing.T, b backend) {
	f := newFixture(t, b, day())
	ctx := t.Context()
	a := f.acct[5]
	vf, _ := f.v.Start(ctx, Request{CallID: "r1", Caller: a.Phones[0], Intent: "data_recovery"})
	var code string
	run(t, ctx, vf, func(ch Challenge) (Source, string) {
		ans := f.genuine(t, a, ch)
		if ch.Method == call.MethodOTP {
			code = ans
		}
		return DTMF, ans
	})
	if !vf.Outcome().Verified() || code == "" {
		t.Fatalf("genuine: %+v", vf.Outcome())
	}
	// Same call: the code was consumed.
	if err := f.v.codes.Check(ctx, vf.otpScope(), code); !errors.Is(err, otp.ErrNoCode) {
		t.Fatalf("reused code: %v; want ErrNoCode", err)
	}
	// A new call (an attacker who knows the knowledge answers and spoofs
	// the number) replays the old code.
	vf2, _ := f.v.Start(ctx, Request{CallID: "r2", Caller: a.Phones[0], Intent: "data_recovery"})
	run(t, ctx, vf2, func(ch Challenge) (Source, string) {
		if ch.Method == call.MethodOTP {
			return DTMF, code
		}
		return DTMF, f.genuine(t, a, ch)
	})
	if o := vf2.Outcome(); o.Verified() || o.Failed[len(o.Failed)-1] != call.MethodOTP {
		t.Fatalf("replayed code: %+v", o)
	}
}

func testEmergency(t *testing.T, b backend) {
	f := newFixture(t, b, night())
	vf, err := f.v.Start(t.Context(), Request{CallID: "e1", Caller: "anonymous", Intent: "emergency_safety"})
	if err != nil {
		t.Fatal(err)
	}
	o := vf.Outcome()
	if vf.Next().Kind != StepDone || !o.Emergency || o.Status != call.StatusUnverified || len(o.Required) != 0 || !o.Night {
		t.Fatalf("emergency: %+v", o)
	}
}

func testWithheld(t *testing.T, b backend) {
	f := newFixture(t, b, day())
	ctx := t.Context()
	a := f.acct[6]
	vf, err := f.v.Start(ctx, Request{CallID: "h1", Caller: "", Intent: "order_status"})
	if err != nil || vf.Next().Kind != StepIdentify {
		t.Fatalf("withheld: %v %+v", err, vf.Next())
	}
	if r, _ := vf.Identify(ctx, accounts.KindOrder, "999999999"); r != Wrong {
		t.Fatalf("unknown order: %s", r)
	}
	if r, err := vf.Identify(ctx, accounts.KindIMEI, spell(a.Devices[0].IMEI)); r != Correct || err != nil {
		t.Fatalf("spoken IMEI: %s %v", r, err)
	}
	asked := run(t, ctx, vf, func(ch Challenge) (Source, string) { return Speech, f.genuine(t, a, ch) })
	o := vf.Outcome()
	if !o.Verified() || len(asked) != 2 || o.Identity.CallerMasked != "withheld" {
		t.Fatalf("withheld caller: %+v after %d questions; want verified after 2 (one added by risk)", o, len(asked))
	}
}

func testSpoofed(t *testing.T, b backend) {
	f := newFixture(t, b, night())
	ctx := t.Context()
	a := f.acct[7]
	// The attacker spoofs the registered number and even knows the IMEI
	// digits, but the code goes to the real phone.
	vf, _ := f.v.Start(ctx, Request{CallID: "sp", Caller: a.Phones[0], Intent: "device_unlock"})
	run(t, ctx, vf, func(ch Challenge) (Source, string) {
		if ch.Method == call.MethodOTP {
			return DTMF, "123456"
		}
		return DTMF, f.genuine(t, a, ch)
	})
	if o := vf.Outcome(); o.Verified() {
		t.Fatalf("spoofed number verified: %+v", o)
	}
}

func testAudit(t *testing.T, b backend) {
	f := newFixture(t, b, day())
	ctx := t.Context()
	a := f.acct[8]
	vf, _ := f.v.Start(ctx, Request{CallID: "au", Caller: a.Phones[0], Intent: "account_unlock"})
	var answers []string
	run(t, ctx, vf, func(ch Challenge) (Source, string) {
		ans := f.genuine(t, a, ch)
		answers = append(answers, ans)
		return DTMF, ans
	})
	recs, err := f.v.Trail().Tail(ctx, 0)
	if err != nil || len(recs) < 6 {
		t.Fatalf("audit: %d records, %v", len(recs), err)
	}
	kinds := map[string]bool{}
	for _, r := range recs {
		kinds[r.Fields["kind"]] = true
		for _, v := range r.Fields {
			for _, secret := range append(answers, a.Phones[0][1:], a.Devices[0].IMEI) {
				if len(secret) >= 6 && strings.Contains(v, secret) {
					t.Errorf("audit record %v holds a secret or full identifier", r.Fields)
				}
			}
		}
	}
	for _, k := range []string{"start", "lookup", "challenge", "otp_sent", "answer", "outcome"} {
		if !kinds[k] {
			t.Errorf("no %q record in the trail", k)
		}
	}
}

// TestLockoutSurvivesRedisRestart: a lock Redis acknowledged must still
// hold after the server is killed and restarted (appendfsync always), the
// verifier must keep working after the restart without a new client, and
// while Redis is down sensitive intents fail closed.
func TestLockoutSurvivesRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	b := backend{"redis", func(t *testing.T, clk *clock) store.Store {
		s, err := redis.New(redis.Config{Addr: srv.Addr, Timeout: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
	f := newFixture(t, b, day())
	ctx := t.Context()
	// Lock three numbers and one account.
	var locked []string
	for i := range 3 {
		caller := fmt.Sprintf("+86137%08d", 20000000+i)
		for n := 0; ; n++ {
			vf, _ := f.v.Start(ctx, Request{CallID: fmt.Sprint(caller, n), Caller: caller, Intent: "order_status"})
			if vf.Next().Kind == StepIdentify {
				vf.Identify(ctx, accounts.KindAccountID, f.acct[10+i].ID)
			}
			run(t, ctx, vf, wrong)
			if vf.Outcome().Status == call.StatusLocked {
				break
			}
			if n > 10 {
				t.Fatal("no lockout after 10 calls")
			}
		}
		locked = append(locked, caller)
	}
	srv.Kill(t)
	// Down: the sensitive intent fails closed, with a clear error, no panic.
	vf, err := f.v.Start(ctx, Request{CallID: "down", Caller: f.acct[0].Phones[0], Intent: "account_unlock"})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, store.ErrUnavailable) || vf.Outcome().Verified() || vf.Next().Kind != StepDone {
		t.Fatalf("Redis down: err %v, outcome %+v; want ErrUnavailable and unverified", err, vf.Outcome())
	}
	if !strings.Contains(err.Error(), "redis") {
		t.Errorf("error %q should say Redis is the problem", err)
	}
	// Emergencies still go through.
	if vf, _ := f.v.Start(ctx, Request{CallID: "down-e", Caller: "anonymous", Intent: "emergency_data_leak"}); !vf.Outcome().Emergency || vf.Next().Kind != StepDone {
		t.Fatalf("emergency while Redis down: %+v", vf.Outcome())
	}
	srv.Restart(t)
	for _, caller := range locked {
		vf, err := f.v.Start(ctx, Request{CallID: "after", Caller: caller, Intent: "order_status"})
		if err != nil || vf.Outcome().Status != call.StatusLocked {
			t.Fatalf("lock of %s after restart: %v %+v", phone.Mask(caller), err, vf.Outcome())
		}
	}
	// And genuine callers are served again.
	a := f.acct[0]
	vf, err = f.v.Start(ctx, Request{CallID: "back", Caller: a.Phones[0], Intent: "order_status"})
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, vf, func(ch Challenge) (Source, string) { return DTMF, f.genuine(t, a, ch) })
	if !vf.Outcome().Verified() {
		t.Fatalf("after restart: %+v", vf.Outcome())
	}
}

// TestRedisDownMidVerification: the store fails between two questions.
func TestRedisDownMidVerification(t *testing.T) {
	srv := redistest.Start(t)
	b := backend{"redis", func(t *testing.T, clk *clock) store.Store {
		s, _ := redis.New(redis.Config{Addr: srv.Addr, Timeout: 300 * time.Millisecond})
		return s
	}}
	f := newFixture(t, b, day())
	ctx := t.Context()
	a := f.acct[2]
	vf, err := f.v.Start(ctx, Request{CallID: "mid", Caller: a.Phones[0], Intent: "account_unlock"})
	if err != nil {
		t.Fatal(err)
	}
	ch := vf.Next().Challenge
	srv.Kill(t)
	r, err := vf.Answer(ctx, DTMF, f.genuine(t, a, ch))
	if r != Ended || !errors.Is(err, ErrUnavailable) || vf.Outcome().Verified() || vf.Next().Kind != StepDone {
		t.Fatalf("answer while down: %s %v %+v", r, err, vf.Outcome())
	}
}

func TestDigits(t *testing.T) {
	tests := []struct {
		src      Source
		in, want string
	}{
		{Speech, "5678", "5678"},
		{Speech, "5 6 7 8", "5678"},
		{Speech, "幺三八，五六七八", "1385678"},
		{Speech, "两零二五", "2025"},
		{Speech, "one three eight oh", "1380"},
		{Speech, "uh it's 4 2", "42"},
		{Speech, "１２３", "123"},
		{Speech, "", ""},
		{Speech, "I don't know", ""},
		{DTMF, "1234#", "1234"},
		{DTMF, "12*5678#99", "5678"},
		{DTMF, "#", ""},
		{DTMF, strings.Repeat("9", 100), strings.Repeat("9", 32)},
	}
	for _, tt := range tests {
		if got := Digits(tt.src, tt.in); got != tt.want {
			t.Errorf("Digits(%s, %q) = %q; want %q", tt.src, tt.in, got, tt.want)
		}
	}
}

func TestEqual(t *testing.T) {
	if !equal("1234", "1234") || equal("1234", "1235") || equal("", "") || equal("123", "1234") {
		t.Fatal("equal")
	}
	if !anyEqual("2", []string{"1", "2", "3"}) || anyEqual("4", []string{"1", "2"}) || anyEqual("", nil) {
		t.Fatal("anyEqual")
	}
}

func TestNewRequiresParts(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("want ErrConfig, got %v", err)
	}
}

func TestWrongStep(t *testing.T) {
	f := newFixture(t, backend{"memory", func(t *testing.T, clk *clock) store.Store { return memory.New() }}, day())
	vf, _ := f.v.Start(t.Context(), Request{CallID: "x", Caller: "anonymous", Intent: "emergency_safety"})
	if _, err := vf.Answer(t.Context(), DTMF, "1"); !errors.Is(err, ErrState) {
		t.Fatalf("Answer when done: %v", err)
	}
	if _, err := vf.Identify(t.Context(), accounts.KindAccountID, "A10001"); !errors.Is(err, ErrState) {
		t.Fatalf("Identify when done: %v", err)
	}
}
