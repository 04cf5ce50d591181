package web

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/coder/websocket"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/store/redistest"
)

// BenchmarkDeskPush measures the floor at size: 2 nodes on one real Redis
// (append-only, fsync always, as in production), 50 desks (25 connected to
// each node) and 200 calls queued. Each iteration is one change made on
// one node (a call enters, or a waiting caller hangs up), alternating
// nodes; the iteration ends when every desk has shown it. Every agent is
// talking (a busy floor: nobody is offered the calls that enter). Reported: the
// time from the change to the last desk showing it (p50, p99), and the
// store's operations (Redis INFO commandstats, commands run inside scripts
// included) per change and per second. Run:
//
//	go test -run '^$' -bench DeskPush -benchtime 200x ./web/
func BenchmarkDeskPush(b *testing.B) {
	const desks, queued = 50, 200
	srv := redistest.Start(b)
	tx, _ := taxonomy.Load()
	r, err := handoff.DefaultRouter(tx)
	if err != nil {
		b.Fatal(err)
	}
	// Every agent staffs every group: every desk lists every call, so a
	// change must reach all 50.
	var y strings.Builder
	y.WriteString("agents:\n")
	for i := range desks {
		fmt.Fprintf(&y, "  - {id: agent%02d, name: Agent %d, level: 3, groups: [%s], languages: [cmn, en, yue], token: token-agent-%02d-0123456789}\n",
			i, i, strings.Join(r.Groups(), ", "), i)
	}
	ro, err := handoff.ParseRoster("bench", []byte(y.String()), r.Groups())
	if err != nil {
		b.Fatal(err)
	}
	prefix := "bench"
	// The default ring-out (offers here never ring that long).
	dA, engA, srvA := redisNodeWith(b, srv.Addr, prefix, r, ro, tx, 20*time.Second)
	dB, engB, srvB := redisNodeWith(b, srv.Addr, prefix, r, ro, tx, 20*time.Second)
	engs := []*handoff.Engine{engA, engB}
	ctx := context.Background()

	// What each desk has shown, per call: how many desks, and when the
	// last one did.
	var mu sync.Mutex
	shown := map[string]int{}
	all := map[string]chan time.Time{}
	watch := func(id string) chan time.Time {
		mu.Lock()
		defer mu.Unlock()
		ch := make(chan time.Time, 1)
		all[id], shown[id] = ch, 0
		return ch
	}
	var wg sync.WaitGroup
	rctx, stopReading := context.WithCancel(ctx)
	var conns []*websocket.Conn
	for i := range desks {
		d, url := dA, srvA.URL
		if i%2 == 1 {
			d, url = dB, srvB.URL
		}
		c, _, err := websocket.Dial(ctx, liveURLB(b, url, d.Token(fmt.Sprintf("agent%02d", i), time.Now().Add(time.Hour))), nil)
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadLimit(8 << 20)
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, msg, err := c.Read(rctx)
				if err != nil {
					return
				}
				at := time.Now()
				var m deskMsg
				if json.Unmarshal(msg, &m) != nil || m.Delta == nil {
					continue
				}
				mu.Lock()
				for _, o := range m.Delta.Ops {
					if ch, ok := all[o.CallID]; ok {
						shown[o.CallID]++
						if shown[o.CallID] == desks {
							ch <- at
						}
					}
				}
				mu.Unlock()
			}
		}()
	}
	defer func() {
		stopReading()
		for _, c := range conns {
			c.Close(websocket.StatusNormalClosure, "")
		}
		wg.Wait()
	}()
	req := func(id string) handoff.Request {
		return handoff.Request{CallID: id, Caller: "+8613812345678",
			Transcript: call.Transcript{Segments: []call.Segment{{Text: "my phone will not turn on after the update", Final: true, End: 2 * time.Second}}},
			Intent:     call.IntentResult{Intent: "device_power_boot", Confidence: 0.93},
			Language:   call.LanguageResult{Language: call.LangMandarin, Confidence: 0.9}}
	}
	// Every agent busy with one call, then 200 waiting.
	for i := range desks + queued {
		if _, err := engs[i%2].Handoff(ctx, req(fmt.Sprintf("pre-%03d", i))); err != nil {
			b.Fatal(err)
		}
	}
	// Every agent talking: their offers answered.
	for i := range desks {
		a := fmt.Sprintf("agent%02d", i)
		v, err := engA.View(ctx, a)
		if err != nil || len(v.Mine) != 1 {
			b.Fatalf("%s: %d calls (%v)", a, len(v.Mine), err)
		}
		if err := engs[i%2].Accept(ctx, a, v.Mine[0].CallID); err != nil {
			b.Fatal(err)
		}
	}
	v, err := engA.View(ctx, "agent00")
	if err != nil || len(v.Waiting) != queued || len(v.Mine) != 1 || v.Mine[0].State != handoff.StateAccepted {
		b.Fatalf("floor not set: %d waiting, %d mine (%v)", len(v.Waiting), len(v.Mine), err)
	}
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer rc.Close()
	// What one whole read of a desk costs, for comparison: the former
	// design made one per desk per change.
	if err := rc.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	if _, err := engA.View(ctx, "agent00"); err != nil {
		b.Fatal(err)
	}
	viewOps := commands(b, rc)

	// Quiet floor: what open desks cost with no change (presence).
	if err := rc.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	quietFrom := time.Now()
	time.Sleep(2 * PresenceRefresh) // measuring a rate over a time span, not waiting for a condition
	quiet := float64(commands(b, rc)) / time.Since(quietFrom).Seconds()

	// The sweeps every node runs on a timer: ring-out (every ring time / 4)
	// and absent desks (every PresenceRefresh).
	if err := rc.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	if moved, err := engA.RingOut(ctx); err != nil || len(moved) != 0 {
		b.Fatalf("ring-out sweep: moved %v (%v)", moved, err)
	}
	ringOps := commands(b, rc)
	if err := rc.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	if gone, err := engA.ReapAbsent(ctx, dA.AbsentLease()); err != nil || len(gone) != 0 {
		b.Fatalf("presence sweep: took %v offline (%v)", gone, err)
	}
	reapOps := commands(b, rc)

	if err := rc.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	next, oldest := 0, 0
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		var id string
		var change func() error
		if i%2 == 0 {
			next++
			id = fmt.Sprintf("new-%04d", next)
			change = func() error { _, err := engs[i%2].Handoff(ctx, req(id)); return err }
		} else {
			id = fmt.Sprintf("pre-%03d", desks+oldest)
			oldest++
			change = func() error { return engs[i%2].CallerLeft(ctx, id, "hung up") }
		}
		done := watch(id)
		t0 := time.Now()
		if err := change(); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-done:
			lat = append(lat, at.Sub(t0))
		case <-time.After(30 * time.Second):
			mu.Lock()
			n := shown[id]
			mu.Unlock()
			b.Fatalf("change %d (%s): %d of %d desks showed it within 30 s", i, id, n, desks)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	ops := commands(b, rc)
	if stats, err := rc.Info(ctx, "commandstats").Result(); err == nil {
		var per []string
		for _, line := range strings.Split(stats, "\n") {
			name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
			if ok && name != "cmdstat_info" {
				v, _, _ := strings.Cut(rest, ",")
				k, _ := strconv.ParseFloat(v, 64)
				per = append(per, fmt.Sprintf("%s %.2f", strings.TrimPrefix(name, "cmdstat_"), k/float64(b.N)))
			}
		}
		b.Logf("per change: %s", strings.Join(per, ", "))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(ops)/float64(b.N), "store-ops/change")
	b.ReportMetric(float64(ops)/elapsed.Seconds(), "store-ops/s")
	b.ReportMetric(quiet, "quiet-store-ops/s")
	b.ReportMetric(float64(viewOps), "whole-view-ops")
	b.ReportMetric(float64(ringOps), "ringout-sweep-ops")
	b.ReportMetric(float64(reapOps), "presence-sweep-ops")
	b.Logf("%d changes in %s over %d desks (2 nodes), %d calls queued: %d store commands; one whole desk view costs %d; open desks with no change: %.0f commands/s",
		b.N, elapsed.Round(time.Millisecond), desks, queued, ops, viewOps, quiet)
}

// commands sums the calls in INFO commandstats (EVALSHA and the commands
// its script ran both count), leaving out the INFO and CONFIG of the
// measurement itself.
func commands(b *testing.B, rc *goredis.Client) int64 {
	b.Helper()
	s, err := rc.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, line := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || name == "cmdstat_info" || strings.HasPrefix(name, "cmdstat_config") {
			continue
		}
		v, _, _ := strings.Cut(rest, ",")
		k, _ := strconv.ParseInt(v, 10, 64)
		n += k
	}
	return n
}
