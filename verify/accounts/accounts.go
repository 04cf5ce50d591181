// Package accounts is the customer directory the verify stage consults:
// who owns a caller number, an IMEI, a serial or an order. The embedded
// default reads a YAML or JSON file into memory; production keeps the same
// records in the store (Redis), shared by every node.
package accounts

import (
	"context"
	"errors"
	"strings"
)

// Errors.
var (
	// ErrNotFound: no account matches.
	ErrNotFound = errors.New("accounts: not found")
	// ErrMalformed: a directory file could not be parsed or failed
	// validation; the message names the file, line and field.
	ErrMalformed = errors.New("accounts: malformed directory")
)

// Account is one customer. Identifiers are stored normalised: phones in
// E.164, IMEIs as 15 digits.
type Account struct {
	ID       string          `yaml:"id" json:"id"`
	Name     string          `yaml:"name" json:"name"`
	NameEn   string          `yaml:"name_en,omitempty" json:"name_en,omitempty"`
	Language string          `yaml:"language,omitempty" json:"language,omitempty"` // cmn, yue, wuu, en
	Flags    []string        `yaml:"flags,omitempty" json:"flags,omitempty"`       // elderly, student, traveller, accessibility
	Phones   []string        `yaml:"phones" json:"phones"`                         // first is the primary: one-time codes go there
	Devices  []Device        `yaml:"devices,omitempty" json:"devices,omitempty"`
	Orders   []Order         `yaml:"orders,omitempty" json:"orders,omitempty"`
	Service  []ServiceRecord `yaml:"service,omitempty" json:"service,omitempty"`
}

// Device is a registered product.
type Device struct {
	Model     string `yaml:"model" json:"model"`
	IMEI      string `yaml:"imei,omitempty" json:"imei,omitempty"` // phones and cellular devices
	Serial    string `yaml:"serial" json:"serial"`
	Purchased string `yaml:"purchased,omitempty" json:"purchased,omitempty"` // YYYY-MM-DD
}

// Order is a purchase.
type Order struct {
	Number string `yaml:"number" json:"number"` // digits only: callers say or key it
	Item   string `yaml:"item" json:"item"`
	Status string `yaml:"status" json:"status"`
	Placed string `yaml:"placed,omitempty" json:"placed,omitempty"`
}

// ServiceRecord is a past contact: a repair, an enquiry, a complaint.
type ServiceRecord struct {
	Date    string `yaml:"date" json:"date"`
	Kind    string `yaml:"kind" json:"kind"`
	Summary string `yaml:"summary" json:"summary"`
	Ticket  string `yaml:"ticket,omitempty" json:"ticket,omitempty"`
}

// HasPhone reports whether e164 is registered on a.
func (a Account) HasPhone(e164 string) bool {
	for _, p := range a.Phones {
		if p == e164 {
			return true
		}
	}
	return false
}

// IDKind names an identifier a caller can give to say which account they
// mean when the caller number does not tell.
type IDKind string

// Identifier kinds.
const (
	KindAccountID IDKind = "account_id"
	KindIMEI      IDKind = "imei"
	KindSerial    IDKind = "serial"
	KindOrder     IDKind = "order"
)

// Directory finds accounts. Implementations are safe for concurrent use.
type Directory interface {
	// ByPhone returns the accounts a number (E.164) is registered on;
	// ErrNotFound when none. A number may be on several accounts (a family
	// line), and the caller is then asked which.
	ByPhone(ctx context.Context, e164 string) ([]Account, error)
	// ByID returns the account or ErrNotFound.
	ByID(ctx context.Context, id string) (Account, error)
	// ByIdentifier finds the account an IMEI, serial or order number
	// belongs to; ErrNotFound when none.
	ByIdentifier(ctx context.Context, kind IDKind, value string) (Account, error)
}

// normID canonicalises an identifier for lookup: serials and account IDs
// are compared case-insensitively, digits without separators.
func normID(kind IDKind, v string) string {
	v = strings.TrimSpace(v)
	switch kind {
	case KindIMEI, KindOrder:
		return strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' {
				return -1
			}
			return r
		}, v)
	}
	return strings.ToUpper(v)
}
