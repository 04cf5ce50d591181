package accounts

import (
	"context"
	"fmt"

	demo "github.com/callbrief/callbrief/data/accounts"
)

// Memory is a read-only directory held in memory, built once from a file.
type Memory struct {
	byID    map[string]Account
	byPhone map[string][]string
	byIdent map[IDKind]map[string]string
}

var _ Directory = (*Memory)(nil)

// NewMemory indexes validated accounts (from ParseYAML, ParseJSON or
// LoadFile).
func NewMemory(accts []Account) *Memory {
	m := &Memory{
		byID:    map[string]Account{},
		byPhone: map[string][]string{},
		byIdent: map[IDKind]map[string]string{KindIMEI: {}, KindSerial: {}, KindOrder: {}},
	}
	for _, a := range accts {
		m.byID[normID(KindAccountID, a.ID)] = a
		for _, p := range a.Phones {
			m.byPhone[p] = append(m.byPhone[p], a.ID)
		}
		for _, d := range a.Devices {
			if d.IMEI != "" {
				m.byIdent[KindIMEI][normID(KindIMEI, d.IMEI)] = a.ID
			}
			m.byIdent[KindSerial][normID(KindSerial, d.Serial)] = a.ID
		}
		for _, o := range a.Orders {
			m.byIdent[KindOrder][normID(KindOrder, o.Number)] = a.ID
		}
	}
	return m
}

// Demo returns the embedded demo directory.
func Demo() (*Memory, error) {
	accts, err := DemoAccounts()
	if err != nil {
		return nil, err
	}
	return NewMemory(accts), nil
}

// DemoAccounts parses the embedded demo file.
func DemoAccounts() ([]Account, error) {
	return ParseYAML(demo.DemoName, demo.Demo)
}

// ByPhone implements Directory.
func (m *Memory) ByPhone(ctx context.Context, e164 string) ([]Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids := m.byPhone[e164]
	if len(ids) == 0 {
		return nil, ErrNotFound
	}
	out := make([]Account, 0, len(ids))
	for _, id := range ids {
		out = append(out, m.byID[normID(KindAccountID, id)])
	}
	return out, nil
}

// ByID implements Directory.
func (m *Memory) ByID(ctx context.Context, id string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	a, ok := m.byID[normID(KindAccountID, id)]
	if !ok {
		return Account{}, ErrNotFound
	}
	return a, nil
}

// ByIdentifier implements Directory.
func (m *Memory) ByIdentifier(ctx context.Context, kind IDKind, value string) (Account, error) {
	if kind == KindAccountID {
		return m.ByID(ctx, value)
	}
	idx, ok := m.byIdent[kind]
	if !ok {
		return Account{}, fmt.Errorf("accounts: unknown identifier kind %q", kind)
	}
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	id, ok := idx[normID(kind, value)]
	if !ok {
		return Account{}, ErrNotFound
	}
	return m.ByID(ctx, id)
}
