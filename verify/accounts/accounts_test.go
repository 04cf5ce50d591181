package accounts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
)

func TestDemoLoads(t *testing.T) {
	accts, err := DemoAccounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) < 20 {
		t.Fatalf("demo has %d accounts; want at least 20", len(accts))
	}
	var zh, en int
	for _, a := range accts {
		if a.Language == "en" {
			en++
		} else {
			zh++
		}
		if !strings.HasPrefix(a.Phones[0], "+") {
			t.Errorf("%s: phone not normalised: %q", a.ID, a.Phones[0])
		}
	}
	if zh == 0 || en == 0 {
		t.Errorf("demo wants Chinese and English customers: %d, %d", zh, en)
	}
}

const okYAML = `accounts:
  - id: A1
    name: 王小明
    phones: ["138 1234 5678"]
    devices:
      - model: Phone
        imei: "490154203237518"
        serial: SN0001
    orders:
      - number: "2025000001"
        item: Phone
        status: delivered
`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // substrings of the error
	}{
		{"empty", "", []string{"empty file"}},
		{"no accounts", "accounts: []\n", []string{"no accounts"}},
		{"unknown key", "accounts:\n  - id: A1\n    name: x\n    phones: [\"13812345678\"]\n    phone_number: 1\n", []string{"line 5", "phone_number"}},
		{"bad yaml", "accounts:\n  - id: [\n", []string{"bad.yaml"}},
		{"bad phone", strings.Replace(okYAML, "138 1234 5678", "12345", 1), []string{"line 2", "phones[0]", "invalid number"}},
		{"withheld phone", strings.Replace(okYAML, "138 1234 5678", "anonymous", 1), []string{"phones[0]", "withheld"}},
		{"no phones", strings.Replace(okYAML, `phones: ["138 1234 5678"]`, "phones: []", 1), []string{"phones", "at least one"}},
		{"bad luhn", strings.Replace(okYAML, "490154203237518", "490154203237519", 1), []string{"devices[0].imei", "Luhn"}},
		{"short imei", strings.Replace(okYAML, "490154203237518", "4901542", 1), []string{"devices[0].imei", "15 digits"}},
		{"order letters", strings.Replace(okYAML, "2025000001", "ORD-1", 1), []string{"orders[0].number", "digits"}},
		{"empty name", strings.Replace(okYAML, "王小明", `""`, 1), []string{"accounts[0]", "name: empty"}},
		{"bad id", strings.Replace(okYAML, "id: A1", "id: A 1", 1), []string{"id"}},
		{"duplicate id", okYAML + "  - id: a1\n    name: y\n    phones: [\"13900000000\"]\n", []string{"line 13", "accounts[1]", "already used"}},
		{"duplicate imei", okYAML + "  - id: A2\n    name: y\n    phones: [\"13900000000\"]\n    devices:\n      - {model: P, imei: \"490154203237518\", serial: SN0002}\n", []string{"accounts[1]", "imei", "already used by accounts[0]"}},
		{"bad date", okYAML + "    service:\n      - {date: 2024/1/1, kind: repair, summary: s}\n", []string{"service[0].date"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML("bad.yaml", []byte(tt.body))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("want ErrMalformed, got %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "bad.yaml") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	good := `{"accounts":[{"id":"J1","name":"Emily","phones":["+14155550100"]}]}`
	accts, err := ParseJSON("a.json", []byte(good))
	if err != nil || len(accts) != 1 || accts[0].Phones[0] != "+14155550100" {
		t.Fatalf("ParseJSON = %+v, %v", accts, err)
	}
	tests := []struct{ name, body, want string }{
		{"syntax", "{\n\"accounts\": [\n{,}]}", "line 3"},
		{"unknown field", `{"accounts":[{"id":"J1","nickname":"x"}]}`, "nickname"},
		{"type", "{\"accounts\":[{\"id\":\n7}]}", "line 2"},
		{"trailing", good + good, "trailing"},
		{"bad phone", `{"accounts":[{"id":"J1","name":"E","phones":["+1"]}]}`, "phones[0]"},
	}
	for _, tt := range tests {
		_, err := ParseJSON("a.json", []byte(tt.body))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "a.json") {
			t.Errorf("%s: error %v; want ErrMalformed naming a.json and %q", tt.name, err, tt.want)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	y := filepath.Join(dir, "dir.yml")
	if err := os.WriteFile(y, []byte(okYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if a, err := LoadFile(y); err != nil || len(a) != 1 {
		t.Fatalf("LoadFile yml = %v, %v", a, err)
	}
	txt := filepath.Join(dir, "dir.txt")
	_ = os.WriteFile(txt, []byte(okYAML), 0o644)
	if _, err := LoadFile(txt); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "extension") {
		t.Errorf("LoadFile .txt: %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "absent.yaml")); !errors.Is(err, ErrMalformed) {
		t.Errorf("LoadFile absent: %v", err)
	}
}

func TestCheckIMEI(t *testing.T) {
	for s, ok := range map[string]bool{
		"490154203237518": true, "356938035643809": true,
		"490154203237517": false, "49015420323751": false, "49015420323751x": false,
	} {
		if err := CheckIMEI(s); (err == nil) != ok {
			t.Errorf("CheckIMEI(%s) = %v; want ok=%v", s, err, ok)
		}
	}
}

// TestDirectories runs one lookup suite against every implementation.
func TestDirectories(t *testing.T) {
	accts, err := DemoAccounts()
	if err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t)
	rs, err := redis.New(redis.Config{Addr: srv.Addr, Prefix: "acct-test:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	dirs := map[string]func(t *testing.T) Directory{
		"memory": func(*testing.T) Directory { return NewMemory(accts) },
		"stored-memory": func(t *testing.T) Directory {
			d := NewStored(memory.New())
			if err := d.Import(t.Context(), accts); err != nil {
				t.Fatal(err)
			}
			return d
		},
		"stored-redis": func(t *testing.T) Directory {
			d := NewStored(rs)
			if err := d.Import(t.Context(), accts); err != nil {
				t.Fatal(err)
			}
			return d
		},
	}
	for name, mk := range dirs {
		t.Run(name, func(t *testing.T) { lookupSuite(t, mk(t), accts) })
	}
}

func lookupSuite(t *testing.T, d Directory, accts []Account) {
	ctx := t.Context()
	a := accts[0]
	got, err := d.ByPhone(ctx, a.Phones[0])
	if err != nil || len(got) != 1 || got[0].ID != a.ID || got[0].Name != a.Name {
		t.Fatalf("ByPhone = %+v, %v", got, err)
	}
	if _, err := d.ByPhone(ctx, "+8613000000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ByPhone unknown: %v", err)
	}
	if g, err := d.ByID(ctx, strings.ToLower(a.ID)); err != nil || g.ID != a.ID {
		t.Errorf("ByID lower-case = %v, %v", g.ID, err)
	}
	cases := []struct {
		kind IDKind
		v    string
	}{
		{KindIMEI, a.Devices[0].IMEI},
		{KindIMEI, a.Devices[0].IMEI[:5] + " " + a.Devices[0].IMEI[5:]},
		{KindSerial, strings.ToLower(a.Devices[0].Serial)},
		{KindOrder, a.Orders[0].Number},
		{KindAccountID, a.ID},
	}
	for _, c := range cases {
		if g, err := d.ByIdentifier(ctx, c.kind, c.v); err != nil || g.ID != a.ID {
			t.Errorf("ByIdentifier(%s) = %q, %v; want %s", c.kind, g.ID, err, a.ID)
		}
	}
	for _, c := range []struct {
		kind IDKind
		v    string
	}{{KindIMEI, "000000000000000"}, {KindOrder, ""}, {KindSerial, "nope"}} {
		if _, err := d.ByIdentifier(ctx, c.kind, c.v); !errors.Is(err, ErrNotFound) {
			t.Errorf("ByIdentifier(%s, %q): want ErrNotFound, got %v", c.kind, c.v, err)
		}
	}
	if _, err := d.ByIdentifier(ctx, "passport", "x"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("unknown kind must be an error other than not found: %v", err)
	}
}

// A directory on an unreachable store must say so, not "not found": the
// verifier fails closed on the first and asks for another identifier on
// the second.
func TestStoredUnavailable(t *testing.T) {
	rs, err := redis.New(redis.Config{Addr: "127.0.0.1:1", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = NewStored(rs).ByPhone(ctx, "+8613812345678")
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
}

func FuzzParseYAML(f *testing.F) {
	f.Add([]byte(okYAML))
	f.Add([]byte("accounts:\n  - id: A\n"))
	f.Add([]byte("accounts: {a: b}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		accts, err := ParseYAML("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		for _, a := range accts {
			if len(a.Phones) == 0 || a.Phones[0][0] != '+' {
				t.Fatalf("accepted account without a normalised phone: %+v", a)
			}
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(`{"accounts":[{"id":"J1","name":"E","phones":["+14155550100"]}]}`))
	f.Add([]byte(`{"accounts":[{"id":"J1","devices":[{"imei":"1"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		accts, err := ParseJSON("fuzz.json", data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		for _, a := range accts {
			for _, d := range a.Devices {
				if d.IMEI != "" && CheckIMEI(d.IMEI) != nil {
					t.Fatalf("accepted a bad IMEI %q", d.IMEI)
				}
			}
		}
	})
}
