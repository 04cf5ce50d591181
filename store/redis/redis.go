// Package redis is the production store: state shared by every node of the
// service, kept in Redis (or a Redis-compatible server) through go-redis v9.
//
// Durability of lockouts and audit records across a Redis restart depends
// on the server's persistence settings, not on this client: run Redis with
// appendonly yes and appendfsync always so that every write this package
// reports as done has been fsynced to the append-only file before Redis
// acknowledged it (see docs/verification.md).
package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/redisconn"
)

// Config locates the server.
type Config struct {
	Addr     string // host:port
	Username string
	Password string
	DB       int
	// Prefix namespaces every key so that one Redis can serve several
	// deployments; default "callbrief:".
	Prefix string
	// Timeout bounds each command (dial, read and write); default 2s. A
	// short bound matters: a verifying caller is waiting on the line.
	Timeout time.Duration
	// SentinelMaster and SentinelAddrs select a Sentinel-monitored group
	// instead of Addr; ReplicaAcks makes writes wait for replicas (see
	// redisconn.Config).
	SentinelMaster string
	SentinelAddrs  []string
	ReplicaAcks    int
}

// Conn is the client configuration.
func (c Config) Conn() redisconn.Config {
	return redisconn.Config{Addr: c.Addr, Username: c.Username, Password: c.Password, DB: c.DB, Timeout: c.Timeout,
		SentinelMaster: c.SentinelMaster, SentinelAddrs: c.SentinelAddrs, ReplicaAcks: c.ReplicaAcks}
}

// Store implements store.Store on Redis. Safe for concurrent use.
type Store struct {
	c        *goredis.Client
	prefix   string
	sentinel bool
}

var _ store.Store = (*Store)(nil)

// New connects lazily: New does not fail when the server is down, the
// first command does, with store.ErrUnavailable. Call Ping to check early.
func New(cfg Config) (*Store, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "callbrief:"
	}
	c, err := redisconn.New(cfg.Conn())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	return &Store{c: c, prefix: cfg.Prefix, sentinel: cfg.Conn().Sentinel()}, nil
}

// Persistence reads the server's persistence settings (see redisconn).
func (s *Store) Persistence(ctx context.Context) redisconn.Persistence {
	return redisconn.ReadPersistence(ctx, s.c, s.sentinel)
}

// Name implements store.Store.
func (s *Store) Name() string { return "redis" }

// Close implements store.Store.
func (s *Store) Close() error { return s.c.Close() }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	return s.wrap("ping", s.c.Ping(ctx).Err())
}

// wrap maps go-redis errors onto the store sentinels, keeping the cause.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, goredis.Nil) {
		return store.ErrNotFound
	}
	if errors.Is(err, redisconn.ErrNotReplicated) {
		return fmt.Errorf("%w: %w: redis %s: %w", store.ErrUnavailable, store.ErrNotReplicated, op, err)
	}
	if errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("%w: redis %s: %w", store.ErrClosed, op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller's deadline, or the server too slow to answer in it:
		// either way the answer is unknown, so it counts as unavailable.
		return fmt.Errorf("%w: redis %s: %w", store.ErrUnavailable, op, err)
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		for _, p := range []string{"NOREPLICAS", "LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "BUSY"} {
			if strings.HasPrefix(msg, p) {
				return fmt.Errorf("%w: redis %s: %w", store.ErrUnavailable, op, err)
			}
		}
		if strings.HasPrefix(msg, "WRONGTYPE") {
			return fmt.Errorf("%w: redis %s: %w", store.ErrInvalid, op, err)
		}
		return fmt.Errorf("redis %s: %w", op, err)
	}
	// Dial, read and write failures: the server is down or unreachable.
	return fmt.Errorf("%w: redis %s: %w", store.ErrUnavailable, op, err)
}

func (s *Store) key(k string) (string, error) {
	if k == "" {
		return "", fmt.Errorf("%w: empty key", store.ErrInvalid)
	}
	return s.prefix + k, nil
}

// Get implements store.KV.
func (s *Store) Get(ctx context.Context, key string) (string, error) {
	k, err := s.key(key)
	if err != nil {
		return "", err
	}
	v, err := s.c.Get(ctx, k).Result()
	return v, s.wrap("get", err)
}

// Set implements store.KV.
func (s *Store) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if ttl < 0 {
		return fmt.Errorf("%w: negative ttl", store.ErrInvalid)
	}
	return s.wrap("set", s.c.Set(ctx, k, value, ttl).Err())
}

// GetDel implements store.KV with GETDEL (Redis 6.2+), atomic on the server.
func (s *Store) GetDel(ctx context.Context, key string) (string, error) {
	k, err := s.key(key)
	if err != nil {
		return "", err
	}
	v, err := s.c.GetDel(ctx, k).Result()
	return v, s.wrap("getdel", err)
}

// Delete implements store.KV.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	ks := make([]string, len(keys))
	for i, k := range keys {
		pk, err := s.key(k)
		if err != nil {
			return err
		}
		ks[i] = pk
	}
	return s.wrap("del", s.c.Del(ctx, ks...).Err())
}

// TTL implements store.KV.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, error) {
	k, err := s.key(key)
	if err != nil {
		return 0, err
	}
	// The raw reply is used because -1 (no expiry) and -2 (absent) must
	// be told apart.
	ms, err := s.c.Do(ctx, "PTTL", k).Int64()
	if err != nil {
		return 0, s.wrap("pttl", err)
	}
	switch {
	case ms == -2:
		return 0, store.ErrNotFound
	case ms < 0:
		return 0, nil
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// incrScript increments and starts the window on the first increment, in
// one step on the server so that a crash between the two cannot leave a
// counter that never expires. The PTTL test (rather than n == 1) also
// repairs a counter that somehow lost its expiry.
var incrScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n`)

// Incr implements store.Counters.
func (s *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	k, err := s.key(key)
	if err != nil {
		return 0, err
	}
	if window <= 0 {
		return 0, fmt.Errorf("%w: counter window must be positive", store.ErrInvalid)
	}
	cmd := incrScript.Run(ctx, s.c, []string{k}, window.Milliseconds())
	n, err := cmd.Int64()
	if errors.Is(err, redisconn.ErrNotReplicated) {
		// Applied on the primary: the count is real (store.ErrNotReplicated).
		n, _ = cmd.Val().(int64)
	}
	return n, s.wrap("incr", err)
}

// Count implements store.Counters.
func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	k, err := s.key(key)
	if err != nil {
		return 0, err
	}
	n, err := s.c.Get(ctx, k).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	return n, s.wrap("get", err)
}

var addScript = goredis.NewScript(`
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SCARD', KEYS[1])`)

// AddMember implements store.Sets.
func (s *Store) AddMember(ctx context.Context, key, member string, ttl time.Duration) (int64, error) {
	k, err := s.key(key)
	if err != nil {
		return 0, err
	}
	if ttl <= 0 {
		return 0, fmt.Errorf("%w: set ttl must be positive", store.ErrInvalid)
	}
	n, err := addScript.Run(ctx, s.c, []string{k}, member, ttl.Milliseconds()).Int64()
	return n, s.wrap("sadd", err)
}

// Append implements store.Logs with XADD: a Redis stream is append-only by
// construction, and readers (audit export, the desk) can follow it with
// XREAD without polling a list.
func (s *Store) Append(ctx context.Context, log string, fields map[string]string) (string, error) {
	k, err := s.key(log)
	if err != nil {
		return "", err
	}
	if len(fields) == 0 {
		return "", fmt.Errorf("%w: empty log record", store.ErrInvalid)
	}
	vals := make([]any, 0, 2*len(fields))
	for f, v := range fields {
		vals = append(vals, f, v)
	}
	id, err := s.c.XAdd(ctx, &goredis.XAddArgs{Stream: k, Values: vals}).Result()
	return id, s.wrap("xadd", err)
}

// Tail implements store.Logs.
func (s *Store) Tail(ctx context.Context, log string, n int) ([]store.Entry, error) {
	k, err := s.key(log)
	if err != nil {
		return nil, err
	}
	var msgs []goredis.XMessage
	if n > 0 {
		msgs, err = s.c.XRevRangeN(ctx, k, "+", "-", int64(n)).Result()
	} else {
		msgs, err = s.c.XRevRange(ctx, k, "+", "-").Result()
	}
	if err != nil {
		return nil, s.wrap("xrevrange", err)
	}
	out := make([]store.Entry, len(msgs))
	for i, m := range msgs {
		f := make(map[string]string, len(m.Values))
		for name, v := range m.Values {
			f[name] = fmt.Sprint(v)
		}
		out[len(msgs)-1-i] = store.Entry{ID: m.ID, Fields: f}
	}
	return out, nil
}
