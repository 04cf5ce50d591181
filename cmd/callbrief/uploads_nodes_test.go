package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue/redisq"
	"github.com/callbrief/callbrief/internal/testenv"
	storeredis "github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
)

// TestUploadsTwoNodesDistinctCalls: two nodes on one Redis take 20
// recorded calls between them. Every call gets its own id, its own queue
// entry and its own brief: a per-process counter once gave both nodes a
// "call-1", and node B's caller overwrote node A's in the shared store.
func TestUploadsTwoNodesDistinctCalls(t *testing.T) {
	wav, err := os.ReadFile(filepath.Join(testenv.NeedLibrivox(t), "sense_and_sensibility_01_austen_64kb-0880.wav"))
	if err != nil {
		t.Fatal(err)
	}
	rd := redistest.Start(t)
	shared := []string{"--set", "store.redis_addr=" + rd.Addr, "--set", "store.secret=node-shared-store-secret",
		"--set", "desk.secret=node-shared-desk-secret", "--set", "desk.reconnect_grace=0s", "--set", "log.level=warn",
		// What is under test is the ids and the shared store, not the
		// recognizer or admission: the quicker engine, and room for every
		// call a node is sent at once.
		"--set", "asr.engine=sphinx", "--set", "admission.max=4", "--set", "admission.wait=2m"}
	nodes := []*liveServer{startLive(t, shared...), startLive(t, shared...)}
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()

	const calls = 20
	ids := make([]string, calls)
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	sem := make(chan struct{}, 4) // a few at once, as callers arrive
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			// An unregistered number: nothing to verify, the call queues.
			url := fmt.Sprintf("%s/v1/calls?caller=%%2B861390000%04d", nodes[i%2].base, i)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(wav))
			if err != nil {
				errs <- err
				return
			}
			req.Header.Set("Authorization", "Bearer "+testAPIKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var res struct {
				CallID string `json:"call_id"`
			}
			if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil {
				errs <- fmt.Errorf("upload %d to node %d: %d %s", i, i%2, resp.StatusCode, body)
				return
			}
			ids[i] = res.CallID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !call.ValidID(id) || seen[id] {
			t.Fatalf("call ids %v: %q is malformed or repeated", ids, id)
		}
		seen[id] = true
	}

	q, err := redisq.New(redisq.Config{Addr: rd.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	tax, err := taxonomy.Load()
	if err != nil {
		t.Fatal(err)
	}
	router, err := handoff.DefaultRouter(tax)
	if err != nil {
		t.Fatal(err)
	}
	waiting, err := q.Waiting(ctx, router.Groups()...)
	if err != nil {
		t.Fatal(err)
	}
	queued := map[string]bool{}
	for _, e := range waiting {
		queued[e.CallID] = true
	}
	kv, err := storeredis.New(storeredis.Config{Addr: rd.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	for _, id := range ids {
		if !queued[id] {
			t.Errorf("call %s is not in the shared queue (%d entries)", id, len(waiting))
		}
		s, err := kv.Get(ctx, "handoff:brief:"+id)
		if err != nil {
			t.Errorf("brief of %s: %v", id, err)
			continue
		}
		var b struct {
			CallID string `json:"call_id"`
		}
		if json.Unmarshal([]byte(s), &b) != nil || b.CallID != id {
			t.Errorf("brief stored for %s is another call's: %.120s", id, s)
		}
	}
}
