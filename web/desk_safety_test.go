package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
)

// TestSignInLimited: wrong tokens for one agent are refused with 429 and
// Retry-After after SignInPerAgent attempts, even when the right token
// follows; every failure reads the same whether the agent exists or not.
func TestSignInLimited(t *testing.T) {
	_, _, srv, _ := newDesk(t)
	body := func(agent, tok string) []byte { return []byte(fmt.Sprintf(`{"agent":%q,"token":%q}`, agent, tok)) }
	var msgs []string
	for i := range SignInPerAgent {
		code, m := do(t, srv, "POST", "/desk/api/login", "", body("li.na", fmt.Sprint("guess-guess-guess-", i)))
		if code != 401 {
			t.Fatalf("attempt %d: %d %v", i, code, m)
		}
		msgs = append(msgs, fmt.Sprint(m))
	}
	_, m := do(t, srv, "POST", "/desk/api/login", "", body("nobody-at-all", "guess-guess-guess-x"))
	if fmt.Sprint(m) != msgs[0] {
		t.Errorf("unknown agent answered %v, a wrong token %v: they must read the same", m, msgs[0])
	}
	req, _ := http.NewRequest("POST", srv.URL+"/desk/api/login", strings.NewReader(string(body("li.na", "demo-token-li-na-0001"))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d wrong tokens the right one got %d (Retry-After %q); want 429", SignInPerAgent, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Another agent from the same address still signs in (the address
	// limit is wider), until the address's limit too is spent.
	if code, m := do(t, srv, "POST", "/desk/api/login", "", body("sam.taylor", "demo-token-sam-taylor-0005")); code != 200 {
		t.Fatalf("another agent: %d %v", code, m)
	}
	refused := false
	for i := range SignInPerAddr {
		if code, _ := do(t, srv, "POST", "/desk/api/login", "", body(fmt.Sprint("agent-", i), "guess-guess-guess")); code == http.StatusTooManyRequests {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatalf("%d attempts from one address were never limited", SignInPerAddr)
	}
}

// TestBriefOnlyForItsAgents: an agent reads the brief of a call offered
// to them or waiting in their group at their level; any other call's brief
// is 404, the same as a call that does not exist. Reads are audited.
func TestBriefOnlyForItsAgents(t *testing.T) {
	d, eng, srv, clk := newDesk(t)
	ctx := context.Background()
	// An account unlock: routed to the account group at a high level.
	b, err := eng.Handoff(ctx, handoff.Request{CallID: "c-unlock", Intent: call.IntentResult{Intent: "account_device_unlock", Confidence: 0.9},
		Language: call.LanguageResult{Language: call.LangMandarin, Confidence: 0.9}})
	if err != nil {
		t.Fatal(err)
	}
	tok := func(agent string) string { return d.Token(agent, clk.now().Add(time.Hour)) }
	mayRead := map[string]bool{}
	ro := eng.Roster()
	for _, id := range []string{"li.na", "chan.kaman", "wang.jian", "zhou.min", "sam.taylor"} {
		a, err := ro.Agent(id)
		if err != nil {
			t.Fatal(err)
		}
		mayRead[id] = a.Level >= b.Route.MinLevel && contains(a.Groups, b.Route.Group)
	}
	if !mayRead["zhou.min"] || mayRead["wang.jian"] || mayRead["li.na"] {
		t.Fatalf("route %+v: the demo roster no longer tells the cases apart: %v", b.Route, mayRead)
	}
	for id, ok := range mayRead {
		code, m := do(t, srv, "GET", "/desk/api/calls/c-unlock/brief", tok(id), nil)
		if ok && code != 200 || !ok && (code != 404 || strings.Contains(fmt.Sprint(m), "c-unlock\",\"created")) {
			t.Errorf("%s (may read: %v): %d %v", id, ok, code, m)
		}
	}
	recs, err := eng.DeskAudit(ctx, 10)
	if err != nil || len(recs) == 0 {
		t.Fatalf("no audit of the brief reads: %v %v", recs, err)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestLiveTicketOnce: the live feed opens with a ticket from
// /desk/api/live-ticket, once.
func TestLiveTicketOnce(t *testing.T) {
	d, _, srv, clk := newDesk(t)
	tok := d.Token("li.na", clk.now().Add(time.Hour))
	code, m := do(t, srv, "POST", "/desk/api/live-ticket", tok, nil)
	ticket, _ := m["ticket"].(string)
	if code != 200 || ticket == "" {
		t.Fatalf("ticket: %d %v", code, m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/desk/api/live?ticket=" + ticket
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial with a ticket: %v", err)
	}
	if _, msg, err := c.Read(ctx); err != nil || !strings.Contains(string(msg), `"type":"view"`) {
		t.Fatalf("first message: %s %v", msg, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	if _, resp, err := websocket.Dial(ctx, url, nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("a ticket used twice: %v %v", resp, err)
	}
}

// failingStore fails every call with an error naming an address, as a
// Redis client does.
type failingStore struct{ store.Store }

var errRedis = fmt.Errorf("%w: dial tcp 10.1.2.3:6379: connection refused", store.ErrUnavailable)

func (failingStore) Incr(context.Context, string, time.Duration) (int64, error) { return 0, errRedis }
func (failingStore) Set(context.Context, string, string, time.Duration) error   { return errRedis }
func (failingStore) Get(context.Context, string) (string, error)                { return "", errRedis }

// TestUnavailableHidesTheCause: a store failure is 503 with a body that
// names no address.
func TestUnavailableHidesTheCause(t *testing.T) {
	d, srv := deskOn(t, failingStore{memory.New()})
	tok := d.Token("li.na", time.Now().Add(time.Hour))
	for _, c := range []struct{ method, path, token, body string }{
		{"POST", "/desk/api/login", "", `{"agent":"li.na","token":"demo-token-li-na-0001"}`},
		{"POST", "/desk/api/live-ticket", tok, ""},
	} {
		code, m := do(t, srv, c.method, c.path, c.token, []byte(c.body))
		if code != http.StatusServiceUnavailable || strings.Contains(fmt.Sprint(m), "10.1.2.3") || strings.Contains(fmt.Sprint(m), "6379") {
			t.Errorf("%s %s: %d %v; want 503 naming no address", c.method, c.path, code, m)
		}
	}
	if !errors.Is(errRedis, store.ErrUnavailable) {
		t.Fatal("the fake error must look like a store's")
	}
}

// unconfirmedStore applies writes but, while down, fails them as a Redis
// primary whose write no replica confirmed does (store.replica_acks during
// a failover): the count has grown, and the error says it is unconfirmed.
type unconfirmedStore struct {
	store.Store
	down *atomic.Bool
}

func (s unconfirmedStore) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	n, err := s.Store.Incr(ctx, key, window)
	if err == nil && s.down.Load() {
		return n, fmt.Errorf("%w: %w: redis incr: 0 of 1 replicas", store.ErrUnavailable, store.ErrNotReplicated)
	}
	return n, err
}

func (s unconfirmedStore) Delete(ctx context.Context, keys ...string) error {
	err := s.Store.Delete(ctx, keys...)
	if err == nil && s.down.Load() {
		return fmt.Errorf("%w: %w: redis del: 0 of 1 replicas", store.ErrUnavailable, store.ErrNotReplicated)
	}
	return err
}

func newUnconfirmedDesk(t *testing.T) (*httptest.Server, *atomic.Bool) {
	t.Helper()
	down := &atomic.Bool{}
	_, srv := deskOn(t, unconfirmedStore{memory.New(), down})
	return srv, down
}

// deskOn is a desk, its engine and its limits all on st, served over HTTP.
func deskOn(t *testing.T, st store.Store) (*Desk, *httptest.Server) {
	t.Helper()
	tx, _ := taxonomy.Load()
	r, err := handoff.DefaultRouter(tx)
	if err != nil {
		t.Fatal(err)
	}
	ro, _ := handoff.DemoRoster(r.Groups())
	eng, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: queue.NewMemory(), Store: st, Taxonomy: tx})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDesk(eng, []byte("0123456789abcdef0123456789abcdef"), time.Hour, nil).WithStore(st)
	mux := http.NewServeMux()
	d.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return d, srv
}

// TestSignInThroughAStoreFailover: while the store applies writes but
// cannot have them confirmed, an agent signs in (their count is applied,
// and reset by the sign-in); wrong tokens still lock them out. Failing
// those sign-ins once left each retry counted with no sign-in to reset
// it, and five retries locked the agent out for the window.
func TestSignInThroughAStoreFailover(t *testing.T) {
	srv, down := newUnconfirmedDesk(t)
	right := []byte(`{"agent":"li.na","token":"demo-token-li-na-0001"}`)
	down.Store(true)
	for i := range 3 * SignInPerAgent {
		if code, m := do(t, srv, "POST", "/desk/api/login", "", right); code != http.StatusOK {
			t.Fatalf("sign-in %d while writes are unconfirmed: %d %v; want 200", i, code, m)
		}
	}
	for range SignInPerAgent {
		do(t, srv, "POST", "/desk/api/login", "", []byte(`{"agent":"li.na","token":"guess-guess-guess"}`))
	}
	down.Store(false)
	if code, _ := do(t, srv, "POST", "/desk/api/login", "", right); code != http.StatusTooManyRequests {
		t.Fatalf("after %d wrong tokens the right one got %d; want 429", SignInPerAgent, code)
	}
}

// TestSignInGuessesInParallel: wrong tokens sent at once for one agent
// reach the token check at most SignInPerAgent times; the rest are 429.
func TestSignInGuessesInParallel(t *testing.T) {
	_, _, srv, _ := newDesk(t)
	const n = 50
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", srv.URL+"/desk/api/login",
				strings.NewReader(fmt.Sprintf(`{"agent":"li.na","token":"guess-guess-guess-%d"}`, i)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	checked := 0
	for c := range codes {
		switch c {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("a parallel guess got %d", c)
		}
	}
	if checked > SignInPerAgent {
		t.Fatalf("%d of %d parallel guesses reached the token check; at most %d may", checked, n, SignInPerAgent)
	}
}
