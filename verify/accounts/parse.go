package accounts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/callbrief/callbrief/verify/phone"
)

// file is the directory file's shape.
type file struct {
	Accounts []Account `yaml:"accounts" json:"accounts"`
}

// maxFile bounds what is read: a directory file is configuration, and a
// multi-gigabyte one is a mistake better reported than loaded.
const maxFile = 64 << 20

// LoadFile reads a .yaml, .yml or .json directory file.
func LoadFile(path string) ([]Account, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, path, err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%w: %s: larger than %d MiB", ErrMalformed, path, maxFile>>20)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return ParseJSON(path, data)
	case ".yaml", ".yml":
		return ParseYAML(path, data)
	}
	return nil, fmt.Errorf("%w: %s: unknown extension (want .yaml, .yml or .json)", ErrMalformed, path)
}

// ParseYAML parses and validates a YAML directory; name labels errors.
// Unknown keys are errors, so a misspelt field is not silently ignored.
func ParseYAML(name string, data []byte) ([]Account, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s: empty file", ErrMalformed, name)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, name, err)
	}
	// A second pass as a node tree gives each account's line for
	// validation messages; the strict decode above already succeeded.
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	lines := accountLines(&root)
	return validate(name, f.Accounts, func(i int) string {
		if i < len(lines) {
			return fmt.Sprintf("line %d: ", lines[i])
		}
		return ""
	})
}

func accountLines(root *yaml.Node) []int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "accounts" {
			var lines []int
			for _, n := range m.Content[i+1].Content {
				lines = append(lines, n.Line)
			}
			return lines
		}
	}
	return nil
}

// ParseJSON parses and validates a JSON directory; name labels errors.
func ParseJSON(name string, data []byte) ([]Account, error) {
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s: empty file", ErrMalformed, name)
		}
		return nil, fmt.Errorf("%w: %s: line %d: %w", ErrMalformed, name, jsonLine(data, dec.InputOffset(), err), err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s: trailing data after the top-level object", ErrMalformed, name)
	}
	return validate(name, f.Accounts, func(int) string { return "" })
}

// jsonLine converts the error's byte offset to a line number.
func jsonLine(data []byte, fallback int64, err error) int {
	off := fallback
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	off = max(0, min(off, int64(len(data))))
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

var (
	idRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$`)
	orderRe  = regexp.MustCompile(`^[0-9]{6,24}$`)
	serialRe = regexp.MustCompile(`^[A-Za-z0-9-]{4,40}$`)
	dateRe   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// validate checks every account and normalises identifiers in place. at
// gives the "line N: " prefix of account i when the format knows it.
func validate(name string, accts []Account, at func(i int) string) ([]Account, error) {
	if len(accts) == 0 {
		return nil, fmt.Errorf("%w: %s: no accounts (want a top-level \"accounts\" list)", ErrMalformed, name)
	}
	seen := map[string]string{} // identifier -> where it was first seen
	claim := func(kind, v, where string) error {
		k := kind + ":" + strings.ToUpper(v)
		if prev, ok := seen[k]; ok {
			return fmt.Errorf("%s %q already used by %s", kind, v, prev)
		}
		seen[k] = where
		return nil
	}
	for i := range accts {
		a := &accts[i]
		bad := func(field, format string, args ...any) error {
			return fmt.Errorf("%w: %s: %saccounts[%d] (id %q): %s: %s", ErrMalformed, name, at(i), i, a.ID, field, fmt.Sprintf(format, args...))
		}
		who := fmt.Sprintf("accounts[%d]", i)
		if !idRe.MatchString(a.ID) {
			return nil, bad("id", "want 1-40 letters, digits, - or _")
		}
		if err := claim("id", a.ID, who); err != nil {
			return nil, bad("id", "%v", err)
		}
		if strings.TrimSpace(a.Name) == "" {
			return nil, bad("name", "empty")
		}
		if len(a.Phones) == 0 {
			return nil, bad("phones", "at least one registered number is required (one-time codes go to the first)")
		}
		for j, p := range a.Phones {
			n, err := phone.Normalize(p)
			if err != nil {
				return nil, bad(fmt.Sprintf("phones[%d]", j), "%v", err)
			}
			a.Phones[j] = n
		}
		for j := range a.Devices {
			d := &a.Devices[j]
			field := fmt.Sprintf("devices[%d]", j)
			if d.IMEI != "" {
				d.IMEI = normID(KindIMEI, d.IMEI)
				if err := CheckIMEI(d.IMEI); err != nil {
					return nil, bad(field+".imei", "%v", err)
				}
				if err := claim("imei", d.IMEI, who); err != nil {
					return nil, bad(field+".imei", "%v", err)
				}
			}
			if !serialRe.MatchString(d.Serial) {
				return nil, bad(field+".serial", "want 4-40 letters, digits or -")
			}
			if err := claim("serial", d.Serial, who); err != nil {
				return nil, bad(field+".serial", "%v", err)
			}
			if d.Purchased != "" && !dateRe.MatchString(d.Purchased) {
				return nil, bad(field+".purchased", "want YYYY-MM-DD, got %q", d.Purchased)
			}
		}
		for j := range a.Orders {
			o := &a.Orders[j]
			field := fmt.Sprintf("orders[%d].number", j)
			o.Number = normID(KindOrder, o.Number)
			if !orderRe.MatchString(o.Number) {
				return nil, bad(field, "want 6-24 digits (callers say or key it), got %q", o.Number)
			}
			if err := claim("order", o.Number, who); err != nil {
				return nil, bad(field, "%v", err)
			}
		}
		for j, s := range a.Service {
			if !dateRe.MatchString(s.Date) {
				return nil, bad(fmt.Sprintf("service[%d].date", j), "want YYYY-MM-DD, got %q", s.Date)
			}
		}
	}
	return accts, nil
}

// CheckIMEI verifies an IMEI: 15 digits whose last is the Luhn check digit.
func CheckIMEI(s string) error {
	if len(s) != 15 {
		return fmt.Errorf("IMEI must have 15 digits, got %d", len(s))
	}
	sum := 0
	for i := range 15 {
		c := s[14-i]
		if c < '0' || c > '9' {
			return fmt.Errorf("IMEI must be digits only")
		}
		d := int(c - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	if sum%10 != 0 {
		return fmt.Errorf("IMEI Luhn check digit is wrong")
	}
	return nil
}
