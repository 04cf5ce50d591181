// Package memory is the in-process store: callbrief's default when no Redis
// address is configured. State lives in this process only and is lost when
// it exits, which is acceptable for one node and for development; lockouts
// then last only as long as the process.
package memory

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/callbrief/callbrief/store"
)

// Store is safe for concurrent use.
type Store struct {
	now     func() time.Time
	*PubSub // messages between this process's parts

	mu     sync.Mutex
	closed bool
	items  map[string]*item
	logs   map[string][]store.Entry
	seq    uint64
}

type item struct {
	value   string
	count   int64
	members map[string]struct{}
	kind    byte // 's' string, 'c' counter, 'm' set
	expires time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock; evaluations use it to replay hours of traffic
// in seconds while expiries behave as in real time.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{now: time.Now, PubSub: NewPubSub(), items: map[string]*item{}, logs: map[string][]store.Entry{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

var _ store.Store = (*Store)(nil)

// Name implements store.Store.
func (s *Store) Name() string { return "memory" }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	return ctx.Err()
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// lock takes the mutex after checking the arguments every method shares.
// Expired items are dropped lazily when touched, so no goroutine is needed.
func (s *Store) lock(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("%w: empty key", store.ErrInvalid)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	return nil
}

func (s *Store) live(key string) *item {
	it, ok := s.items[key]
	if !ok {
		return nil
	}
	if !it.expires.IsZero() && !s.now().Before(it.expires) {
		delete(s.items, key)
		return nil
	}
	return it
}

func (s *Store) expiry(ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return s.now().Add(ttl)
}

func wrongType(key string) error {
	return fmt.Errorf("%w: key %q holds another kind of value", store.ErrInvalid, key)
}

// Get implements store.KV.
func (s *Store) Get(ctx context.Context, key string) (string, error) {
	if err := s.lock(ctx, key); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	it := s.live(key)
	if it == nil {
		return "", store.ErrNotFound
	}
	switch it.kind {
	case 's':
		return it.value, nil
	case 'c':
		return strconv.FormatInt(it.count, 10), nil
	}
	return "", wrongType(key)
}

// Set implements store.KV.
func (s *Store) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("%w: negative ttl", store.ErrInvalid)
	}
	if err := s.lock(ctx, key); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.items[key] = &item{kind: 's', value: value, expires: s.expiry(ttl)}
	return nil
}

// GetDel implements store.KV.
func (s *Store) GetDel(ctx context.Context, key string) (string, error) {
	if err := s.lock(ctx, key); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	it := s.live(key)
	if it == nil {
		return "", store.ErrNotFound
	}
	if it.kind != 's' {
		return "", wrongType(key)
	}
	delete(s.items, key)
	return it.value, nil
}

// Delete implements store.KV.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := s.lock(ctx, k); err != nil {
			return err
		}
		delete(s.items, k)
		s.mu.Unlock()
	}
	return nil
}

// TTL implements store.KV.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := s.lock(ctx, key); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	it := s.live(key)
	if it == nil {
		return 0, store.ErrNotFound
	}
	if it.expires.IsZero() {
		return 0, nil
	}
	return it.expires.Sub(s.now()), nil
}

// Incr implements store.Counters.
func (s *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	if window <= 0 {
		return 0, fmt.Errorf("%w: counter window must be positive", store.ErrInvalid)
	}
	if err := s.lock(ctx, key); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	it := s.live(key)
	if it == nil {
		it = &item{kind: 'c', expires: s.expiry(window)}
		s.items[key] = it
	}
	if it.kind != 'c' {
		return 0, wrongType(key)
	}
	it.count++
	return it.count, nil
}

// Count implements store.Counters.
func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	if err := s.lock(ctx, key); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	it := s.live(key)
	if it == nil {
		return 0, nil
	}
	if it.kind != 'c' {
		return 0, wrongType(key)
	}
	return it.count, nil
}

// AddMember implements store.Sets.
func (s *Store) AddMember(ctx context.Context, key, member string, ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, fmt.Errorf("%w: set ttl must be positive", store.ErrInvalid)
	}
	if err := s.lock(ctx, key); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	it := s.live(key)
	if it == nil {
		it = &item{kind: 'm', members: map[string]struct{}{}, expires: s.expiry(ttl)}
		s.items[key] = it
	}
	if it.kind != 'm' {
		return 0, wrongType(key)
	}
	it.members[member] = struct{}{}
	return int64(len(it.members)), nil
}

// Append implements store.Logs.
func (s *Store) Append(ctx context.Context, log string, fields map[string]string) (string, error) {
	if len(fields) == 0 {
		return "", fmt.Errorf("%w: empty log record", store.ErrInvalid)
	}
	if err := s.lock(ctx, log); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	s.seq++
	// The same shape as a Redis stream ID so that readers need not care.
	id := fmt.Sprintf("%d-%d", s.now().UnixMilli(), s.seq)
	s.logs[log] = append(s.logs[log], store.Entry{ID: id, Fields: maps.Clone(fields)})
	return id, nil
}

// Tail implements store.Logs.
func (s *Store) Tail(ctx context.Context, log string, n int) ([]store.Entry, error) {
	if err := s.lock(ctx, log); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	l := s.logs[log]
	if n > 0 && len(l) > n {
		l = l[len(l)-n:]
	}
	out := make([]store.Entry, len(l))
	for i, e := range l {
		out[i] = store.Entry{ID: e.ID, Fields: maps.Clone(e.Fields)}
	}
	return out, nil
}
