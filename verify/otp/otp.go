// Package otp issues and checks one-time codes sent by SMS. Codes are
// single-use, expire, and are stored only as a keyed hash: whoever reads
// the store (a Redis dump, a backup) cannot recover a live code, and the
// key stops the million possible six-digit codes from being hashed
// offline to find it.
package otp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/verify/phone"
)

// Errors.
var (
	// ErrNoCode: no live code for this call (never issued, expired, used,
	// or withdrawn after too many wrong answers). A replayed code gets it.
	ErrNoCode = errors.New("otp: no live code")
	// ErrWrong: the answer does not match; attempts remain.
	ErrWrong = errors.New("otp: wrong code")
	// ErrExhausted: too many wrong answers; the code was withdrawn.
	ErrExhausted = errors.New("otp: too many wrong answers")
	// ErrSend: the SMS gateway failed.
	ErrSend = errors.New("otp: sending failed")
)

// Gateway sends an SMS. This is where a real SMS provider plugs in.
// Send must not log the text: it contains the code.
type Gateway interface {
	Send(ctx context.Context, toE164, text string) error
}

// Config configures Codes.
type Config struct {
	Digits   int
	TTL      time.Duration
	Attempts int
	// Secret keys the stored hashes. Every node sharing a store must share
	// it, or a code issued on one node cannot be checked on another.
	Secret []byte
	Rand   io.Reader // crypto/rand when nil
}

// Codes issues and checks codes kept in a store.
type Codes struct {
	cfg Config
	kv  store.KV
	ctr store.Counters
}

// New returns Codes on s.
func New(s interface {
	store.KV
	store.Counters
}, cfg Config) (*Codes, error) {
	if len(cfg.Secret) < 16 {
		return nil, fmt.Errorf("otp: secret must be at least 16 bytes")
	}
	if cfg.Digits < 4 || cfg.Digits > 10 || cfg.TTL <= 0 || cfg.Attempts < 1 {
		return nil, fmt.Errorf("otp: invalid config (digits %d, ttl %s, attempts %d)", cfg.Digits, cfg.TTL, cfg.Attempts)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Codes{cfg: cfg, kv: s, ctr: s}, nil
}

func (c *Codes) hash(scope, code string) string {
	m := hmac.New(sha256.New, c.cfg.Secret)
	m.Write([]byte(scope))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

func codeKey(scope string) string  { return "otp:code:" + scope }
func triesKey(scope string) string { return "otp:tries:" + scope }

// Issue creates a code for scope (one call and account), replacing any
// earlier one, and returns it for sending. Only its hash is stored.
func (c *Codes) Issue(ctx context.Context, scope string) (string, error) {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.cfg.Digits)), nil)
	n, err := rand.Int(c.cfg.Rand, limit)
	if err != nil {
		return "", fmt.Errorf("otp: random: %w", err)
	}
	code := fmt.Sprintf("%0*d", c.cfg.Digits, n)
	if err := c.kv.Delete(ctx, triesKey(scope)); err != nil {
		return "", fmt.Errorf("otp: issue: %w", err)
	}
	if err := c.kv.Set(ctx, codeKey(scope), c.hash(scope, code), c.cfg.TTL); err != nil {
		return "", fmt.Errorf("otp: issue: %w", err)
	}
	return code, nil
}

// Check compares answer with the live code for scope. On a match the code
// is consumed atomically, so a second Check with the same code, from this
// call or a replay, gets ErrNoCode. Store failures are returned wrapped and
// never count as a match.
func (c *Codes) Check(ctx context.Context, scope, answer string) error {
	want, err := c.kv.Get(ctx, codeKey(scope))
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoCode
	}
	if err != nil {
		return fmt.Errorf("otp: check: %w", err)
	}
	got := c.hash(scope, answer)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
		// Consume: only the caller whose GetDel returns the same hash wins,
		// so two simultaneous correct answers cannot both pass.
		taken, err := c.kv.GetDel(ctx, codeKey(scope))
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoCode
		}
		if err != nil {
			return fmt.Errorf("otp: consume: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(taken), []byte(want)) != 1 {
			return ErrNoCode // reissued meanwhile
		}
		_ = c.kv.Delete(ctx, triesKey(scope))
		return nil
	}
	n, err := c.ctr.Incr(ctx, triesKey(scope), c.cfg.TTL)
	if err != nil {
		return fmt.Errorf("otp: count: %w", err)
	}
	if n >= int64(c.cfg.Attempts) {
		if err := c.kv.Delete(ctx, codeKey(scope)); err != nil {
			return fmt.Errorf("otp: withdraw: %w", err)
		}
		return ErrExhausted
	}
	return ErrWrong
}

// Message is one SMS the development gateway "sent".
type Message struct {
	To   string    `json:"to"` // masked
	Text string    `json:"text"`
	At   time.Time `json:"at"`
	full string
}

// DevGateway is the development gateway: instead of sending, it keeps the
// last messages for the development page (GET /v1/otp/recent, served only
// with dev.otp_page) and logs that a message was due, never its text. It exists so that the whole flow
// runs with no SMS provider; it must never be configured in production,
// because showing codes is exactly what production must not do.
type DevGateway struct {
	log *slog.Logger
	max int

	mu     sync.Mutex
	recent []Message
}

// NewDevGateway keeps up to keep messages (default 50).
func NewDevGateway(log *slog.Logger, keep int) *DevGateway {
	if keep <= 0 {
		keep = 50
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DevGateway{log: log, max: keep}
}

// Send implements Gateway.
func (g *DevGateway) Send(ctx context.Context, to, text string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m := Message{To: phone.Mask(to), Text: text, At: time.Now(), full: to}
	// Never the text: it holds the code, and logs are kept and shipped.
	// Developers read codes on the development page (dev.otp_page).
	g.log.Info("development SMS gateway: message not sent", "to", m.To)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.recent = append(g.recent, m)
	if len(g.recent) > g.max {
		g.recent = g.recent[len(g.recent)-g.max:]
	}
	return nil
}

// Recent returns the kept messages, oldest first.
func (g *DevGateway) Recent() []Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Message(nil), g.recent...)
}

// LastTo returns the text of the last message to a number: the "phone in
// the caller's hand" for development and evaluation.
func (g *DevGateway) LastTo(toE164 string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := len(g.recent) - 1; i >= 0; i-- {
		if g.recent[i].full == toE164 {
			return g.recent[i].Text, true
		}
	}
	return "", false
}
