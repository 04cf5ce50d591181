package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/handoff/queue/redisq"
	"github.com/callbrief/callbrief/internal/testenv"
	storeredis "github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
)

// TestUploadDuringRedisOutage: Redis is down when a recorded call reaches
// handoff. The upload is answered with its brief marked pending delivery
// (it used to be a 500 and the call was lost); when Redis is back the
// node delivers it, and the call is in the shared queue with its brief.
func TestUploadDuringRedisOutage(t *testing.T) {
	wav, err := os.ReadFile(filepath.Join(testenv.NeedLibrivox(t), "sense_and_sensibility_01_austen_64kb-0880.wav"))
	if err != nil {
		t.Fatal(err)
	}
	rd := redistest.Start(t)
	ls := startLive(t, "--set", "store.redis_addr="+rd.Addr, "--set", "store.secret=node-shared-store-secret", "--set", "desk.secret=node-shared-desk-secret",
		"--set", "store.outbox_dir="+t.TempDir(), "--set", "log.level=info")
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()

	rd.Kill(t)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ls.base+"/v1/calls?caller=%2B8613900000042", bytes.NewReader(wav))
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
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil || res.CallID == "" {
		t.Fatalf("upload during the outage: %d %s", resp.StatusCode, body)
	}
	if res.Brief.Delivery != handoff.DeliveryPending {
		t.Fatalf("brief delivery %q, want %q", res.Brief.Delivery, handoff.DeliveryPending)
	}
	var ready map[string]any
	if code, err := ls.do(ctx, http.MethodGet, "/readyz", "", nil, &ready); err != nil || code != http.StatusOK || ready["outbox"] != 1.0 {
		t.Errorf("readyz during the outage: %d, outbox %v (%v): a node with room in its outbox takes calls", code, ready["outbox"], err)
	}

	rd.Resume(t)
	q, err := redisq.New(redisq.Config{Addr: rd.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var entry queue.Entry
	for {
		if entry, err = q.Get(ctx, res.CallID); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("call %s never reached the shared queue after Redis returned: %v", res.CallID, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if entry.Group != res.Brief.Route.Group {
		t.Errorf("queued in %q, brief routed to %q", entry.Group, res.Brief.Route.Group)
	}
	kv, err := storeredis.New(storeredis.Config{Addr: rd.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	s, err := kv.Get(ctx, "handoff:brief:"+res.CallID)
	var b handoff.Brief
	if err != nil || json.Unmarshal([]byte(s), &b) != nil || b.CallID != res.CallID || b.Delivery != handoff.DeliveryLate {
		t.Errorf("stored brief of %s: %v %.200s", res.CallID, err, s)
	}
}
