// Package lockout limits wrong answers per caller number and per account:
// too many within a window locks the number or account for a while, and
// each repeat lockout within a day doubles the lock, so a patient attacker
// gains a few guesses a day, not thousands.
package lockout

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/verify/policy"
)

// Scope is what a limit applies to.
type Scope string

// Scopes.
const (
	Caller  Scope = "caller"
	Account Scope = "account"
)

// Limiter keeps counts and locks in a store. Identifiers are keyed-hashed
// before they become store keys, so the store holds no phone numbers.
type Limiter struct {
	s      store.Store
	cfg    policy.Lockout
	secret []byte
}

// New returns a Limiter.
func New(s store.Store, cfg policy.Lockout, secret []byte) *Limiter {
	return &Limiter{s: s, cfg: cfg, secret: secret}
}

func (l *Limiter) key(kind string, sc Scope, id string) string {
	m := hmac.New(sha256.New, l.secret)
	m.Write([]byte(sc))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return "lockout:" + kind + ":" + string(sc) + ":" + hex.EncodeToString(m.Sum(nil)[:16])
}

func (l *Limiter) limit(sc Scope) policy.Limit {
	if sc == Account {
		return l.cfg.Account
	}
	return l.cfg.Caller
}

// Locked reports whether id is locked and for how much longer. A store
// failure is returned as an error and must be treated as locked.
func (l *Limiter) Locked(ctx context.Context, sc Scope, id string) (bool, time.Duration, error) {
	d, err := l.s.TTL(ctx, l.key("lock", sc, id))
	if errors.Is(err, store.ErrNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return true, 0, fmt.Errorf("lockout: %w", err)
	}
	return true, d, nil
}

// Failures returns the wrong answers counted for id in the current window.
func (l *Limiter) Failures(ctx context.Context, sc Scope, id string) (int64, error) {
	n, err := l.s.Count(ctx, l.key("fail", sc, id))
	if err != nil {
		return 0, fmt.Errorf("lockout: %w", err)
	}
	return n, nil
}

// Fail records a wrong answer and reports whether it locked id. The lock
// is acknowledged by the store before Fail returns true.
func (l *Limiter) Fail(ctx context.Context, sc Scope, id string) (bool, time.Duration, error) {
	lim := l.limit(sc)
	n, err := l.s.Incr(ctx, l.key("fail", sc, id), lim.Window)
	if err != nil {
		return false, 0, fmt.Errorf("lockout: %w", err)
	}
	if n < int64(lim.Failures) {
		return false, 0, nil
	}
	strikes, err := l.s.Incr(ctx, l.key("strike", sc, id), l.cfg.StrikesWindow)
	if err != nil {
		return false, 0, fmt.Errorf("lockout: %w", err)
	}
	d := l.cfg.Duration
	for i := int64(1); i < strikes && d < l.cfg.MaxDuration; i++ {
		d *= 2
	}
	d = min(d, l.cfg.MaxDuration)
	if err := l.s.Set(ctx, l.key("lock", sc, id), "1", d); err != nil {
		return false, 0, fmt.Errorf("lockout: %w", err)
	}
	// A new window starts after the lock: the count that triggered it has
	// done its job.
	if err := l.s.Delete(ctx, l.key("fail", sc, id)); err != nil {
		return true, d, fmt.Errorf("lockout: %w", err)
	}
	return true, d, nil
}

// Clear forgets the failures of id after a successful verification. The
// strike count stays: one success does not excuse a history of lockouts.
func (l *Limiter) Clear(ctx context.Context, sc Scope, id string) error {
	if err := l.s.Delete(ctx, l.key("fail", sc, id)); err != nil {
		return fmt.Errorf("lockout: %w", err)
	}
	return nil
}

// Tried records that caller named account and returns how many distinct
// accounts the caller has named within window: the "many accounts from
// one number" risk signal.
func (l *Limiter) Tried(ctx context.Context, caller, account string, window time.Duration) (int64, error) {
	n, err := l.s.AddMember(ctx, l.key("tried", Caller, caller), l.key("acct", Account, account), window)
	if err != nil {
		return 0, fmt.Errorf("lockout: %w", err)
	}
	return n, nil
}
