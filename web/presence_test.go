package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
)

// liveURL fetches a one-time ticket with the access token and returns the
// live feed's address with it.
func liveURL(t *testing.T, url, token string) string { return liveURLB(t, url, token) }

func liveURLB(t testing.TB, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/desk/api/live-ticket", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Ticket string `json:"ticket"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("ticket: %d %v", resp.StatusCode, err)
	}
	return "ws" + strings.TrimPrefix(url, "http") + "/desk/api/live?ticket=" + m.Ticket
}

// feed is one desk's live connection, read so that the server's writes
// proceed; it returns once the first view arrived (the agent is online).
func feed(t *testing.T, url, token string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, liveURL(t, url, token), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	return c
}

// await waits until feeds live feeds are open and pending disconnection
// checks wait for their grace.
func (d *Desk) await(t *testing.T, feeds, pending int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		d.mu.Lock()
		f, p := d.feeds, len(d.pending)
		d.mu.Unlock()
		if f == feeds && p == pending {
			return
		}
	}
	t.Fatalf("desk never had %d feeds and %d checks waiting", feeds, pending)
}

// TestDeskReconnectGrace: an agent whose desk drops and reconnects within
// the grace keeps the call they accepted (a caller talking to them is not
// offered to someone else); one that does not reconnect loses it to the
// queue; a node shutting down runs the checks still waiting at once.
func TestDeskReconnectGrace(t *testing.T) {
	d, eng, srv, clk := newDesk(t)
	d.WithReconnectGrace(2 * time.Second) // the reconnect below is well within it
	ctx := context.Background()
	tok := d.Token("li.na", clk.now().Add(time.Hour))
	accepted := func(id string) {
		t.Helper()
		if _, err := eng.Handoff(ctx, handoff.Request{CallID: id, Intent: call.IntentResult{Intent: "device_power_boot"}}); err != nil {
			t.Fatal(err)
		}
		if code, m := do(t, srv, "POST", "/desk/api/calls/"+id+"/accept", tok, nil); code != 200 {
			t.Fatalf("accept %s: %d %v", id, code, m)
		}
	}
	c := feed(t, srv.URL, tok)
	accepted("c1")

	// A blip: the desk reconnects before the grace ends.
	c.CloseNow()
	d.await(t, 0, 1) // the node saw the close
	clk.t.Add(int64(time.Second))
	c = feed(t, srv.URL, tok)
	d.await(t, 1, 0) // the grace is over, its check has run
	if err := eng.CheckAccepted(ctx, "li.na", "c1"); err != nil {
		t.Fatalf("after reconnecting within the grace: %v", err)
	}

	// Gone for good: the call goes back to its queue.
	c.CloseNow()
	d.await(t, 0, 0)
	if err := eng.CheckAccepted(ctx, "li.na", "c1"); err == nil {
		t.Fatal("the agent's desk never came back and they still hold the call")
	}

	// Shutting down: a check waiting for a long grace runs at once.
	d.mu.Lock()
	d.grace = time.Hour
	d.mu.Unlock()
	c = feed(t, srv.URL, tok)
	accepted("c2")
	c.CloseNow()
	d.await(t, 0, 1)
	done, cancel := context.WithCancel(ctx)
	cancel()
	d.Close(done)
	if err := eng.CheckAccepted(ctx, "li.na", "c2"); err == nil {
		t.Fatal("a node shutting down left the call held by a desk that had gone")
	}
}

// TestDeskEndFeeds: a node shutting down tells its desks to reconnect
// (to another node): their feeds close with "going away", not an error.
func TestDeskEndFeeds(t *testing.T) {
	d, _, srv, clk := newDesk(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok := d.Token("li.na", clk.now().Add(time.Hour))
	c, _, err := websocket.Dial(ctx, liveURL(t, srv.URL, tok), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, _, err := c.Read(ctx); err != nil { // the first view: online
		t.Fatal(err)
	}
	d.EndFeeds()
	for {
		if _, _, err = c.Read(ctx); err != nil {
			break
		}
	}
	if st := websocket.CloseStatus(err); st != websocket.StatusGoingAway {
		t.Fatalf("feed closed with %v (%v), want going away", st, err)
	}
	d.Close(ctx)
}
