// Package redisconn builds the one Redis client every shared-state package
// uses (store/redis for briefs, lockouts and audit; handoff/queue/redisq for
// the queues), so a deployment's choice of server, Sentinel, timeouts and
// replica acknowledgement applies to all of them alike. It also reads the
// server's persistence settings, which decide whether an acknowledged write
// survives a crash of Redis.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Config locates the server: one address, or a Sentinel-monitored group.
type Config struct {
	// Addr is host:port of a single server; ignored with Sentinel.
	Addr     string
	Username string
	Password string
	DB       int
	// SentinelMaster names the monitored group; with SentinelAddrs set the
	// client asks the sentinels for the current primary and follows a
	// failover to the promoted replica.
	SentinelMaster   string
	SentinelAddrs    []string
	SentinelPassword string
	// Timeout bounds each command (dial, read and write); default 2s. A
	// short bound matters: a verifying caller is waiting on the line.
	Timeout time.Duration
	// ReplicaAcks, when positive, makes every write wait (WAIT) until that
	// many replicas have it, and fail when they do not within ReplicaWait.
	// Replication is asynchronous: without this, a write the primary
	// acknowledged just before it died may be missing on the replica a
	// failover promotes.
	ReplicaAcks int
	// ReplicaWait bounds that wait; default 500ms.
	ReplicaWait time.Duration
}

// ErrNotReplicated: the primary took a write but too few replicas confirmed
// it in time; it may not survive a failover, so it is not acknowledged.
var ErrNotReplicated = errors.New("redis: write not confirmed by enough replicas")

// Validate names what is wrong with c.
func (c Config) Validate() error {
	if c.SentinelMaster == "" && len(c.SentinelAddrs) > 0 {
		return errors.New("sentinel addresses given without a master name")
	}
	if c.SentinelMaster != "" && len(c.SentinelAddrs) == 0 {
		return fmt.Errorf("sentinel master %q given without sentinel addresses", c.SentinelMaster)
	}
	if c.SentinelMaster == "" && c.Addr == "" {
		return errors.New("redis address is empty")
	}
	for _, a := range append([]string{c.Addr}, c.SentinelAddrs...) {
		if a != "" && !strings.Contains(a, ":") {
			return fmt.Errorf("%q is not host:port", a)
		}
	}
	if c.ReplicaAcks < 0 {
		return fmt.Errorf("replica acknowledgements %d may not be negative", c.ReplicaAcks)
	}
	return nil
}

// Sentinel reports whether c uses Sentinel.
func (c Config) Sentinel() bool { return c.SentinelMaster != "" }

// New builds the client. It connects lazily: New does not fail when the
// server is down, the first command does.
func New(c Config) (*goredis.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.ReplicaWait <= 0 {
		c.ReplicaWait = 500 * time.Millisecond
	}
	var cl *goredis.Client
	if c.Sentinel() {
		cl = goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: c.SentinelMaster, SentinelAddrs: c.SentinelAddrs, SentinelPassword: c.SentinelPassword,
			Username: c.Username, Password: c.Password, DB: c.DB,
			DialTimeout: c.Timeout, ReadTimeout: c.Timeout, WriteTimeout: c.Timeout,
			// During a failover the old primary refuses or vanishes; a few
			// short retries ride over the switch to the promoted replica.
			MaxRetries: 3, MinRetryBackoff: 100 * time.Millisecond, MaxRetryBackoff: 500 * time.Millisecond,
			DisableIdentity: true,
		})
	} else {
		cl = goredis.NewClient(&goredis.Options{
			Addr: c.Addr, Username: c.Username, Password: c.Password, DB: c.DB,
			DialTimeout: c.Timeout, ReadTimeout: c.Timeout, WriteTimeout: c.Timeout,
			// One retry rides over a restarted server's dropped connections
			// without holding a caller for long.
			MaxRetries: 1, MinRetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 200 * time.Millisecond,
			// The identity handshake asks the server for client metadata;
			// old or compatible servers may refuse it, and nothing here
			// needs it.
			DisableIdentity: true,
		})
	}
	if c.ReplicaAcks > 0 {
		cl.AddHook(&replicaHook{c: cl, acks: int64(c.ReplicaAcks), wait: c.ReplicaWait})
	}
	return cl, nil
}

// writes are the commands callbrief sends that change data. Scripts count
// as writes: every script here writes.
var writes = map[string]bool{
	"set": true, "getdel": true, "del": true, "xadd": true, "incr": true, "sadd": true,
	"hset": true, "zadd": true, "zrem": true, "srem": true, "expire": true, "pexpire": true,
	"eval": true, "evalsha": true,
}

// replicaHook sends WAIT after each write on the same connection (a
// pipeline of the two): WAIT counts the replicas that have this
// connection's writes, so it must follow them on the connection that made
// them.
type replicaHook struct {
	c    *goredis.Client
	acks int64
	wait time.Duration
}

func (h *replicaHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *replicaHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func (h *replicaHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !writes[strings.ToLower(cmd.Name())] {
			return next(ctx, cmd)
		}
		var wait *goredis.Cmd
		_, err := h.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			_ = p.Process(ctx, cmd)
			wait = p.Do(ctx, "WAIT", h.acks, h.wait.Milliseconds())
			return nil
		})
		if cerr := cmd.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			cmd.SetErr(err)
			return err
		}
		if n, _ := wait.Int64(); n < h.acks {
			err := fmt.Errorf("%w: %d of %d within %s", ErrNotReplicated, n, h.acks, h.wait)
			cmd.SetErr(err)
			return err
		}
		return nil
	}
}

// Persistence is what the server says about keeping acknowledged writes
// across its own crash.
type Persistence struct {
	// AppendOnly and AppendFsync are the server's settings ("yes"/"no";
	// "always", "everysec", "no"); empty when unknown.
	AppendOnly  string `json:"appendonly,omitempty"`
	AppendFsync string `json:"appendfsync,omitempty"`
	// Unknown says why the settings could not be read (a managed Redis
	// refusing CONFIG, or no answer); empty when they were.
	Unknown string `json:"unknown,omitempty"`
	// Sentinel is set when the client follows a Sentinel group.
	Sentinel bool `json:"sentinel,omitempty"`
}

// Durable reports whether every acknowledged write is on disk before the
// server answers: append-only file with fsync on every write.
func (p Persistence) Durable() bool { return p.AppendOnly == "yes" && p.AppendFsync == "always" }

// Lossy reports settings known to lose acknowledged writes on a crash:
// no append-only file (snapshots at best), so a crash loses every write
// since the last snapshot.
func (p Persistence) Lossy() bool { return p.AppendOnly == "no" }

// String is a one-line description for logs and readyz.
func (p Persistence) String() string {
	switch {
	case p.Unknown != "":
		return "unknown (" + p.Unknown + ")"
	case p.Durable():
		return "appendonly yes, appendfsync always: acknowledged writes survive a crash"
	case p.Lossy():
		return "appendonly no: a crash of Redis loses every write since its last snapshot"
	default:
		return fmt.Sprintf("appendonly %s, appendfsync %s: a crash may lose up to a second of writes", p.AppendOnly, p.AppendFsync)
	}
}

// NoAnswer is Persistence.Unknown when the server could not be asked.
const NoAnswer = "the server did not answer"

// ReadPersistence asks the server (the current primary, with Sentinel) for
// its persistence settings. A server that refuses CONFIG (managed services
// often rename or forbid it) or does not answer gives Unknown, not an
// error: the settings then have to be checked with the provider.
func ReadPersistence(ctx context.Context, c *goredis.Client, sentinel bool) Persistence {
	p := Persistence{Sentinel: sentinel}
	m, err := c.ConfigGet(ctx, "append*").Result()
	if err != nil {
		var rerr goredis.Error
		if errors.As(err, &rerr) {
			p.Unknown = "the server refused CONFIG GET: check its persistence with the provider"
		} else {
			p.Unknown = NoAnswer
		}
		return p
	}
	p.AppendOnly, p.AppendFsync = m["appendonly"], m["appendfsync"]
	if p.AppendOnly == "" {
		p.Unknown = "the server did not report appendonly"
	}
	return p
}
