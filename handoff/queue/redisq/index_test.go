package redisq_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/handoff/queue/redisq"
	"github.com/callbrief/callbrief/store/redistest"
)

const prefix = "idx:{handoff}:"

func node(t *testing.T, addr string) *redisq.Store {
	t.Helper()
	s, err := redisq.New(redisq.Config{Addr: addr, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// indexMatchesQueues reads the server directly (a scan is fine in a test)
// and checks the index of waiting calls holds exactly the calls of every
// group's queue, with their scores, and none held by an agent.
func indexMatchesQueues(t *testing.T, rc *goredis.Client) int {
	t.Helper()
	ctx := context.Background()
	keys, err := rc.Keys(ctx, prefix+"q:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	inQueues := map[string]float64{}
	for _, k := range keys {
		zs, _ := rc.ZRangeWithScores(ctx, k, 0, -1).Result()
		for _, z := range zs {
			id := z.Member.(string)
			if _, dup := inQueues[id]; dup {
				t.Fatalf("call %s in two queues", id)
			}
			inQueues[id] = z.Score
		}
	}
	idx, _ := rc.ZRangeWithScores(ctx, prefix+"waiting", 0, -1).Result()
	if len(idx) != len(inQueues) {
		t.Fatalf("index holds %d calls, the queues %d", len(idx), len(inQueues))
	}
	for _, z := range idx {
		id := z.Member.(string)
		sc, ok := inQueues[id]
		if !ok || sc != z.Score {
			t.Fatalf("index has %s (score %v), queues: %v %v", id, z.Score, ok, sc)
		}
		if owner, _ := rc.HGet(ctx, prefix+"call:"+id, "owner").Result(); owner != "" {
			t.Fatalf("call %s waiting in the index but held by %s", id, owner)
		}
	}
	// Every offer is a call an agent holds.
	offers, _ := rc.SMembers(ctx, prefix+"offers").Result()
	for _, id := range offers {
		owner, _ := rc.HGet(ctx, prefix+"call:"+id, "owner").Result()
		if owner == "" {
			t.Fatalf("offer %s held by nobody", id)
		}
		if ok, _ := rc.SIsMember(ctx, prefix+"held:"+owner, id).Result(); !ok {
			t.Fatalf("offer %s not among %s's calls", id, owner)
		}
	}
	return len(idx)
}

// TestIndexUnderConcurrentNodes: two nodes (two clients of one server)
// enqueue, claim, decline, close and take agents offline at once; the
// index of waiting calls stays exactly the queues' calls, and the floor's
// reads use it (no KEYS or SCAN reaches the server).
func TestIndexUnderConcurrentNodes(t *testing.T) {
	srv := redistest.Start(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer rc.Close()
	nodes := []*redisq.Store{node(t, srv.Addr), node(t, srv.Addr)}
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	groups := []string{"phone_tech", "orders", "billing"}
	const calls, agents, workers, steps = 120, 8, 4, 150
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for n, s := range nodes {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(n), uint64(w)))
				agent := queue.Agent{ID: fmt.Sprintf("n%da%d", n, w%agents), Level: 3, Groups: groups, Languages: []string{"cmn"}}
				for i := range steps {
					id := fmt.Sprintf("c%03d", r.IntN(calls))
					var err error
					switch k := r.IntN(10); {
					case k < 3:
						err = s.Enqueue(ctx, queue.Entry{CallID: id, Group: groups[r.IntN(len(groups))], MinLevel: 1,
							Priority: r.IntN(3) * 10, Enqueued: t0.Add(time.Duration(i) * time.Millisecond)})
					case k < 5:
						if err = s.Online(ctx, agent, t0); err == nil {
							_, err = s.Claim(ctx, agent.ID)
						}
					case k == 5:
						if _, err = s.ClaimCall(ctx, agent.ID, id); err == nil && r.IntN(2) == 0 {
							err = s.Answer(ctx, id)
						}
					case k == 6:
						err = s.Requeue(ctx, id, agent.ID)
					case k == 7:
						err = s.Done(ctx, id)
					case k == 8:
						_, err = s.Offline(ctx, agent.ID)
					default:
						_, err = s.Waiting(ctx)
					}
					if err != nil && !errors.Is(err, queue.ErrEmpty) && !errors.Is(err, queue.ErrTaken) &&
						!errors.Is(err, queue.ErrUnknownAgent) && !errors.Is(err, queue.ErrUnknownCall) && !errors.Is(err, queue.ErrNotEligible) {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := indexMatchesQueues(t, rc)

	// The reads a desk and a dispatch make go through the index only.
	if err := rc.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	all, err := nodes[1].Waiting(ctx)
	if err != nil || len(all) != n {
		t.Fatalf("waiting: %d calls (%v), the index holds %d", len(all), err, n)
	}
	if _, err := nodes[0].IdleAgents(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].Agents(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].Offers(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].Unseen(ctx, t0); err != nil {
		t.Fatal(err)
	}
	stats, _ := rc.Info(ctx, "commandstats").Result()
	for _, bad := range []string{"cmdstat_keys:", "cmdstat_scan:"} {
		if strings.Contains(stats, bad) {
			t.Fatalf("a keyspace scan reached the server:\n%s", stats)
		}
	}
}

// TestReindex: queues written before the index existed are indexed once.
func TestReindex(t *testing.T) {
	srv := redistest.Start(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer rc.Close()
	s := node(t, srv.Addr)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, g := range []string{"orders", "orders", "phone_tech"} {
		if err := s.Enqueue(ctx, queue.Entry{CallID: fmt.Sprint("c", i), Group: g, Enqueued: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	// As an older version left it: queues, no index.
	if err := rc.Del(ctx, prefix+"waiting").Err(); err != nil {
		t.Fatal(err)
	}
	if w, _ := s.Waiting(ctx); len(w) != 0 {
		t.Fatalf("waiting without an index: %d", len(w))
	}
	n, err := s.Reindex(ctx, "orders", "phone_tech", "billing")
	if err != nil || n != 3 {
		t.Fatalf("reindexed %d (%v), want 3", n, err)
	}
	if w, _ := s.Waiting(ctx); len(w) != 3 || w[0].CallID != "c0" {
		t.Fatalf("waiting after reindex: %+v", w)
	}
	indexMatchesQueues(t, rc)
}
