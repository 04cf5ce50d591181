package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue/redisq"
	"github.com/callbrief/callbrief/internal/loadgen"
	"github.com/callbrief/callbrief/internal/testenv"
	storeredis "github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
)

// TestSentinelFailoverUnderCalls: a Redis primary, its replica and a
// sentinel; two nodes follow the group (store.sentinel_master) and
// confirm every write on a replica (store.replica_acks=1). `callbrief
// loadtest` places 16 recorded calls (40 for the documented figures) on the two nodes, half of
// them emergencies spoken by espeak-ng, and the primary is killed (SIGKILL)
// once a quarter of them are queued. The sentinel promotes the replica;
// the old primary, restarted as a supervisor would, rejoins as its
// replica. Every call answered must have its brief and its queue entry on
// the new primary (none lost in the failover), every emergency among them
// delivered as one, and both nodes must take calls afterwards.
func TestSentinelFailoverUnderCalls(t *testing.T) {
	if _, err := exec.LookPath("redis-sentinel"); err != nil {
		t.Skip("redis-sentinel (Debian redis-sentinel) is not installed: scripts/setup.sh test installs it")
	}
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng (Debian espeak-ng) is not installed: scripts/setup.sh test installs it")
	}
	checkLiveLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*liveGuard)
	defer cancel()

	// The recordings: a real reading (no request, it queues) and two
	// emergencies, so that calls of both kinds are under way at the kill.
	recs := t.TempDir()
	libri, err := os.ReadFile(filepath.Join(testenv.NeedLibrivox(t), "sense_and_sensibility_01_austen_64kb-0880.wav"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"a-reading.wav":   libri,
		"b-emergency.wav": espeakWAV(t, ctx, "My phone is smoking while it charges and it smells like something is burning"),
		"c-reading.wav":   libri,
		"d-emergency.wav": espeakWAV(t, ctx, "Someone stole my phone and they are using my bank account right now"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(recs, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	const master = "callbrief"
	primary := redistest.Start(t)
	replica := redistest.StartWith(t, redistest.Options{ReplicaOf: primary.Addr})
	waitReplicaUp(t, ctx, replica.Addr)
	sen := redistest.StartSentinel(t, master, primary)
	defer func() {
		if t.Failed() {
			t.Logf("sentinel log:\n%s", sen.Log())
		}
	}()
	shared := []string{"--set", "store.sentinel_master=" + master, "--set", "store.sentinel_addrs=" + sen.Addr,
		"--set", "store.replica_acks=1", "--set", "store.secret=node-shared-store-secret",
		"--set", "desk.secret=node-shared-desk-secret", "--set", "desk.reconnect_grace=0s", "--set", "log.level=warn",
		// What is under test is the store's failover, not the recognizer
		// or admission: the quicker engine, and room for the callers.
		"--set", "asr.engine=sphinx", "--set", "admission.max=4", "--set", "admission.wait=2m"}
	nodes := []*liveServer{
		startLive(t, append(shared, "--set", "store.outbox_dir="+t.TempDir())...),
		startLive(t, append(shared, "--set", "store.outbox_dir="+t.TempDir())...),
	}

	// Clients that follow the sentinel, as the nodes do.
	q, err := redisq.New(redisq.Config{SentinelMaster: master, SentinelAddrs: []string{sen.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	kv, err := storeredis.New(storeredis.Config{SentinelMaster: master, SentinelAddrs: []string{sen.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	tax, err := taxonomy.Load()
	if err != nil {
		t.Fatal(err)
	}
	router, err := handoff.DefaultRouter(tax)
	if err != nil {
		t.Fatal(err)
	}
	queued := func() (map[string]bool, error) {
		waiting, err := q.Waiting(ctx, router.Groups()...)
		if err != nil {
			return nil, err
		}
		m := map[string]bool{}
		for _, e := range waiting {
			m[e.CallID] = true
		}
		return m, nil
	}

	// 16 calls in the regular run (four callers, a quarter queued before
	// the kill, so calls are under way on both sides of it); the figures
	// in docs/load.md are of 40 (CBTEST_SENTINEL_CALLS=40; a test knob
	// without the CALLBRIEF_ prefix, which serve refuses when unknown).
	// With 8 the brief check once began during the failover and found no
	// brief in its minute: it signed in again for every brief, each
	// failed sign-in counted against the demo agents, and they were locked
	// out (both fixed: a count the primary applied but no replica
	// confirmed lets the sign-in go on, and the check waits a second
	// between sign-ins).
	calls := 16
	if v := os.Getenv("CBTEST_SENTINEL_CALLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 8 || n%4 != 0 {
			t.Fatalf("CBTEST_SENTINEL_CALLS=%q: want a multiple of 4 (the recordings, half emergencies) of at least 8", v)
		}
		calls = n
	}
	out := filepath.Join(t.TempDir(), "failover.json")
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"loadtest", "--target", nodes[0].base, "--target", nodes[1].base, "--key", testAPIKey,
			"--recordings", recs, "--ramp", "4", "--step", "0", "--calls", fmt.Sprint(calls), "--retry", "--deadline", "120s",
			"--check-briefs", "60s", "--keep-calls", "--json", out}, &stdout, &stderr)
	}()

	// The fault, once a quarter of the calls are in the shared queue.
	for {
		m, err := queued()
		if err == nil && len(m) >= calls/4 {
			break
		}
		select {
		case rc := <-done:
			t.Fatalf("loadtest ended (%d) before the primary was killed: %s\n%s", rc, stderr.String(), stdout.String())
		case <-ctx.Done():
			t.Fatalf("%d calls never queued: %v", calls/4, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	primary.Kill(t)
	killed := time.Now()
	for {
		if p, err := sentinelPrimary(ctx, sen.Addr, master); err == nil && p == replica.Addr {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the sentinel never promoted the replica %s", replica.Addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	promoted := time.Since(killed)
	// Its supervisor restarts the old primary; the sentinel makes it the
	// new primary's replica, which lets writes confirmed by a replica
	// resume.
	primary.Resume(t)
	var rc int
	select {
	case rc = <-done:
	case <-ctx.Done():
		t.Fatal("loadtest did not end")
	}
	if rc != 0 {
		t.Fatalf("loadtest exited %d: %s\n%s", rc, stderr.String(), stdout.String())
	}
	t.Logf("replica promoted %s after the primary was killed; loadtest printed:\n%s", promoted.Round(time.Millisecond), stdout.String())

	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep loadgen.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	tot := rep.Total
	if tot.Calls != calls || tot.Lost != 0 || tot.ServerErrors != 0 || tot.OK != calls {
		t.Fatalf("calls %d, answered %d, lost %d, 5xx %d: every call must be answered through the failover\n%s",
			tot.Calls, tot.OK, tot.Lost, tot.ServerErrors, stdout.String())
	}
	if rep.Briefs == nil || rep.Briefs.Checked != calls || rep.Briefs.Found != calls {
		t.Fatalf("briefs on the desk after the run: %+v", rep.Briefs)
	}

	// Every answered call is on the new primary, its brief and its queue
	// entry, once the nodes' outboxes have delivered what they kept.
	var inQueue map[string]bool
	for {
		inQueue, err = queued()
		missing := 0
		for _, c := range rep.Calls {
			if err == nil && !inQueue[c.CallID] {
				missing++
			}
		}
		if err == nil && missing == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d answered calls never reached the shared queue (%v)", missing, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	emergencies, late := 0, 0
	for _, c := range rep.Calls {
		s, err := kv.Get(ctx, "handoff:brief:"+c.CallID)
		var br handoff.Brief
		if err != nil || json.Unmarshal([]byte(s), &br) != nil || br.CallID != c.CallID {
			t.Errorf("brief of %s (%s) on the new primary: %v %.120s", c.CallID, c.Recording, err, s)
			continue
		}
		if br.Delivery == handoff.DeliveryLate {
			late++
		}
		if strings.Contains(c.Recording, "emergency") {
			if br.Urgency.Level < call.UrgencyEmergency {
				t.Errorf("emergency recording %s (call %s) queued as %v, intent %q, heard %q", c.Recording, c.CallID,
					br.Urgency.Level, br.Intent.Intent, br.Transcript.Text())
			}
			emergencies++
		}
	}
	if emergencies != calls/2 {
		t.Errorf("%d emergencies among the calls, want %d", emergencies, calls/2)
	}

	// Both nodes take calls after the failover, onto the new primary.
	for i, n := range nodes {
		var ready map[string]any
		if code, err := n.do(ctx, http.MethodGet, "/readyz", "", nil, &ready); err != nil || code != http.StatusOK {
			t.Errorf("node %d not ready after the failover: %d %v %v", i, code, ready, err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.base+"/v1/calls?caller=%2B8613900009999", bytes.NewReader(libri))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var res struct {
			CallID string        `json:"call_id"`
			Brief  handoff.Brief `json:"brief"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil || res.Brief.Delivery != "" {
			t.Errorf("node %d after the failover: %d %.300s", i, resp.StatusCode, body)
			continue
		}
		if _, err := q.Get(ctx, res.CallID); err != nil {
			t.Errorf("node %d's call %s after the failover is not in the shared queue: %v", i, res.CallID, err)
		}
	}
	t.Logf("%d calls answered through the failover, %d emergencies, %d kept on a node and delivered late; %d refusals; end of speech to intent p50 %.1f s",
		tot.OK, emergencies, late, sum(tot.Refusals), tot.ToIntent.P50/1000)
}

// waitReplicaUp waits until a replica has synchronised with its primary.
func waitReplicaUp(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
	defer c.Close()
	for {
		info, err := c.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("replica %s never synchronised: %v %s", addr, err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sentinelPrimary asks the sentinel which server is the primary now.
func sentinelPrimary(ctx context.Context, sentinel, master string) (string, error) {
	c := goredis.NewSentinelClient(&goredis.Options{Addr: sentinel, DisableIdentity: true})
	defer c.Close()
	hp, err := c.GetMasterAddrByName(ctx, master).Result()
	if err != nil {
		return "", err
	}
	return hp[0] + ":" + hp[1], nil
}
