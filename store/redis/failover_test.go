package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
)

// TestPersistenceRead: the store reads the server's persistence so the
// node can warn at start; a server without the append-only file is named
// as losing writes.
func TestPersistenceRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	durable := newStore(t, redistest.Start(t).Addr, "p:")
	if p := durable.Persistence(ctx); !p.Durable() || p.Lossy() || p.Unknown != "" {
		t.Errorf("appendonly yes, appendfsync always read as %+v (%s)", p, p)
	}
	lossy := newStore(t, redistest.StartWith(t, redistest.Options{NoAppendOnly: true}).Addr, "p:")
	if p := lossy.Persistence(ctx); !p.Lossy() || p.Durable() || !strings.Contains(p.String(), "loses") {
		t.Errorf("appendonly no read as %+v (%s)", p, p)
	}
	down := newStore(t, "127.0.0.1:1", "p:")
	if p := down.Persistence(ctx); p.Unknown == "" || p.Lossy() || p.Durable() {
		t.Errorf("an unreachable server read as %+v", p)
	}
}

// waitLinkUp waits until the replica has synchronised with its primary.
func waitLinkUp(t *testing.T, addr string) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := c.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s never synchronised: %v %s", addr, err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// primaryOf asks the sentinel which server is the primary now.
func primaryOf(ctx context.Context, sentinel, master string) (string, error) {
	c := goredis.NewSentinelClient(&goredis.Options{Addr: sentinel, DisableIdentity: true})
	defer c.Close()
	hp, err := c.GetMasterAddrByName(ctx, master).Result()
	if err != nil {
		return "", err
	}
	return hp[0] + ":" + hp[1], nil
}

// TestSentinelFailover: a primary, a replica and a sentinel. Writes go on
// while the primary is killed; the sentinel promotes the replica, the
// store follows it, writes resume within the deadline, and every write
// the store acknowledged (confirmed by a replica: store.replica_acks=1) is
// on the new primary. The old primary, restarted by its supervisor, comes
// back as the new primary's replica, which is what lets writes confirmed
// by a replica resume.
func TestSentinelFailover(t *testing.T) {
	const master = "callbrief"
	primary := redistest.Start(t)
	replica := redistest.StartWith(t, redistest.Options{ReplicaOf: primary.Addr})
	waitLinkUp(t, replica.Addr)
	sen := redistest.StartSentinel(t, master, primary)
	defer func() {
		if t.Failed() {
			t.Logf("sentinel log:\n%s", sen.Log())
		}
	}()

	s, err := redis.New(redis.Config{SentinelMaster: master, SentinelAddrs: []string{sen.Addr}, ReplicaAcks: 1,
		Prefix: "fo:", Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var acked []int
	var failed int
	write := func(i int) bool {
		wctx, c := context.WithTimeout(ctx, time.Second)
		defer c()
		err := s.Set(wctx, fmt.Sprintf("k%d", i), fmt.Sprint(i), 0)
		if err == nil {
			acked = append(acked, i)
			return true
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("write %d: %v (want success or store.ErrUnavailable)", i, err)
		}
		failed++
		return false
	}
	i := 0
	for ; i < 50; i++ {
		if !write(i) {
			t.Fatalf("write %d failed before any fault", i)
		}
	}

	primary.Kill(t)
	killed := time.Now()
	// Writes go on; the sentinel sees the primary down after a second,
	// then promotes the replica.
	restarted := false
	resumedAt := time.Time{}
	for afterResume := 0; afterResume < 50; i++ {
		if time.Since(killed) > 60*time.Second {
			t.Fatalf("writes did not resume within 60s of the primary's death (%d acknowledged, %d refused)", len(acked), failed)
		}
		if !restarted {
			if p, err := primaryOf(ctx, sen.Addr, master); err == nil && p == replica.Addr {
				// Promoted: the old primary's supervisor restarts it, and
				// the sentinel makes it the new primary's replica.
				primary.Resume(t)
				restarted = true
			}
		}
		if write(i) {
			if restarted {
				if resumedAt.IsZero() {
					resumedAt = time.Now()
				}
				afterResume++
			}
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("writes resumed %s after the primary was killed; %d acknowledged, %d refused during the failover",
		resumedAt.Sub(killed).Round(time.Millisecond), len(acked), failed)

	// Every acknowledged write is on the promoted replica, read directly.
	c := goredis.NewClient(&goredis.Options{Addr: replica.Addr, DisableIdentity: true})
	defer c.Close()
	for _, n := range acked {
		v, err := c.Get(ctx, fmt.Sprintf("fo:k%d", n)).Result()
		if err != nil || v != fmt.Sprint(n) {
			t.Errorf("acknowledged write k%d lost after the failover: %q %v", n, v, err)
		}
	}
}
