// Package store declares the state callbrief keeps between calls and nodes:
// keys with an expiry, counters that expire, sets that expire, and
// append-only logs. Two implementations satisfy it: store/memory, the
// in-process default, and store/redis for production, where every node of
// the service shares one state. store/storetest holds the one test suite
// both must pass.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every implementation returns (wrapped), so callers can decide
// without knowing the backend.
var (
	// ErrNotFound: the key does not exist or has expired.
	ErrNotFound = errors.New("store: not found")
	// ErrUnavailable: the backend could not be reached or did not answer.
	// Callers protecting something must fail closed on it.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrNotReplicated: the write was applied, but not confirmed by the
	// replicas the store was told to wait for (Redis with replica_acks,
	// during a failover). It comes wrapped with ErrUnavailable, so that
	// callers that need a durable write fail closed as before; a caller
	// for whom an applied write is enough (a rate counter) may go on, and
	// Incr returns the new count with it.
	ErrNotReplicated = errors.New("store: write not confirmed by replicas")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrInvalid: a bad argument (empty key, non-positive TTL...).
	ErrInvalid = errors.New("store: invalid argument")
)

// KV holds string values under keys, each with an optional expiry.
type KV interface {
	// Get returns the value, or ErrNotFound.
	Get(ctx context.Context, key string) (string, error)
	// Set stores value; ttl 0 means no expiry. When Set returns nil the
	// write is acknowledged (durable as far as the backend is configured).
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	// GetDel atomically returns the value and deletes the key, or
	// ErrNotFound. Of two concurrent GetDel calls at most one gets the
	// value: this is what makes one-time codes single-use.
	GetDel(ctx context.Context, key string) (string, error)
	// Delete removes keys; missing keys are not an error.
	Delete(ctx context.Context, keys ...string) error
	// TTL returns the remaining lifetime: 0 for a key without expiry,
	// ErrNotFound when absent.
	TTL(ctx context.Context, key string) (time.Duration, error)
}

// Counters count events in a window.
type Counters interface {
	// Incr atomically adds one and returns the new count. The first
	// increment starts the window: the counter expires window after it, so
	// old failures are forgotten. window must be positive.
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
	// Count returns the current count; 0 when absent.
	Count(ctx context.Context, key string) (int64, error)
}

// Sets hold distinct members.
type Sets interface {
	// AddMember adds member to the set and returns the set's size. The
	// set's expiry is set to ttl when the set is created; later additions
	// do not extend it.
	AddMember(ctx context.Context, key, member string, ttl time.Duration) (int64, error)
}

// Entry is one record of an append-only log.
type Entry struct {
	ID     string            // assigned by the store, increasing
	Fields map[string]string // never modified after Append
}

// Logs are append-only: records are never changed or removed by callbrief.
type Logs interface {
	// Append adds a record and returns its ID once acknowledged.
	Append(ctx context.Context, log string, fields map[string]string) (string, error)
	// Tail returns up to n most recent records, oldest first.
	Tail(ctx context.Context, log string, n int) ([]Entry, error)
}

// Store is everything a backend provides.
type Store interface {
	KV
	Counters
	Sets
	Logs
	// Ping checks the backend answers; it returns ErrUnavailable if not.
	Ping(ctx context.Context) error
	// Name identifies the backend in logs ("memory", "redis").
	Name() string
	Close() error
}

// PubSub broadcasts short messages to every subscriber of a channel, on
// every node sharing the backend. Messages are numbered per channel as
// they are published, so a subscriber that misses one (it fell behind,
// its connection was lost) is told: a Message with Resync set, after
// which it must re-read the state it follows. A message missed with none
// after it is noticed by a check of the channel's number every
// SubscribeCheck. Both store/memory and store/redis implement it.
type PubSub interface {
	// Publish sends msg to the channel's current subscribers.
	Publish(ctx context.Context, channel, msg string) error
	// Subscribe listens on the channel until ctx ends, when the returned
	// channel closes. The first message has Resync set once the
	// subscription is in place: messages published after it are
	// delivered, in order, or a Resync says some were missed.
	Subscribe(ctx context.Context, channel string) (<-chan Message, error)
}

// SubscribeCheck is how often a subscription compares the last number it
// received with the channel's: the bound on how long a lost message with
// none after it can go unnoticed.
const SubscribeCheck = 15 * time.Second

// Message is one message received, or (Resync) word that some may have
// been missed.
type Message struct {
	Payload string
	Resync  bool
}
