package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/callbrief/callbrief/store"
)

// Stored is a directory kept in a store.KV: on Redis in production, so that
// every node sees one directory and an update is visible at once. Each
// account is one JSON record; index keys map identifiers to account IDs.
type Stored struct {
	kv store.KV
}

var _ Directory = (*Stored)(nil)

// NewStored returns a directory on kv. Load records with Import.
func NewStored(kv store.KV) *Stored { return &Stored{kv: kv} }

const keyPrefix = "acct:"

func idKey(id string) string      { return keyPrefix + "id:" + normID(KindAccountID, id) }
func phoneKey(e164 string) string { return keyPrefix + "phone:" + e164 }
func identKey(kind IDKind, value string) string {
	return keyPrefix + string(kind) + ":" + normID(kind, value)
}

// Import writes validated accounts. Records are written before the indexes
// that point at them, so a concurrent lookup never finds a dangling index.
// A number shared by several imported accounts maps to all of them.
func (s *Stored) Import(ctx context.Context, accts []Account) error {
	phones := map[string][]string{}
	for _, a := range accts {
		b, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("accounts: encode %s: %w", a.ID, err)
		}
		if err := s.kv.Set(ctx, idKey(a.ID), string(b), 0); err != nil {
			return fmt.Errorf("accounts: import %s: %w", a.ID, err)
		}
		for _, p := range a.Phones {
			phones[p] = append(phones[p], a.ID)
		}
	}
	for _, a := range accts {
		set := func(kind IDKind, v string) error {
			if err := s.kv.Set(ctx, identKey(kind, v), a.ID, 0); err != nil {
				return fmt.Errorf("accounts: index %s of %s: %w", kind, a.ID, err)
			}
			return nil
		}
		for _, d := range a.Devices {
			if d.IMEI != "" {
				if err := set(KindIMEI, d.IMEI); err != nil {
					return err
				}
			}
			if err := set(KindSerial, d.Serial); err != nil {
				return err
			}
		}
		for _, o := range a.Orders {
			if err := set(KindOrder, o.Number); err != nil {
				return err
			}
		}
	}
	for p, ids := range phones {
		if err := s.kv.Set(ctx, phoneKey(p), strings.Join(ids, ","), 0); err != nil {
			return fmt.Errorf("accounts: index phone: %w", err)
		}
	}
	return nil
}

// lookupErr keeps ErrNotFound distinct from a store failure: the verifier
// must not treat "Redis is down" as "no such account".
func lookupErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return fmt.Errorf("accounts: %w", err)
}

// ByPhone implements Directory.
func (s *Stored) ByPhone(ctx context.Context, e164 string) ([]Account, error) {
	v, err := s.kv.Get(ctx, phoneKey(e164))
	if err != nil {
		return nil, lookupErr(err)
	}
	var out []Account
	for _, id := range strings.Split(v, ",") {
		a, err := s.ByID(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

// ByID implements Directory.
func (s *Stored) ByID(ctx context.Context, id string) (Account, error) {
	if id == "" {
		return Account{}, ErrNotFound
	}
	v, err := s.kv.Get(ctx, idKey(id))
	if err != nil {
		return Account{}, lookupErr(err)
	}
	var a Account
	if err := json.Unmarshal([]byte(v), &a); err != nil {
		return Account{}, fmt.Errorf("accounts: stored record %s is corrupt: %w", id, err)
	}
	return a, nil
}

// ByIdentifier implements Directory.
func (s *Stored) ByIdentifier(ctx context.Context, kind IDKind, value string) (Account, error) {
	switch kind {
	case KindAccountID:
		return s.ByID(ctx, value)
	case KindIMEI, KindSerial, KindOrder:
	default:
		return Account{}, fmt.Errorf("accounts: unknown identifier kind %q", kind)
	}
	if normID(kind, value) == "" {
		return Account{}, ErrNotFound
	}
	id, err := s.kv.Get(ctx, identKey(kind, value))
	if err != nil {
		return Account{}, lookupErr(err)
	}
	return s.ByID(ctx, id)
}
