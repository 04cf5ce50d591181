package evals

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/callbrief/callbrief/verify/accounts"
)

// syncBuffer is a bytes.Buffer safe for the concurrent calls' loggers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestScenarioLogsHoldNoSecrets runs every committed scenario (text mode)
// with logging at debug and scans every line: no one-time code that was
// sent, no answer a caller keyed or said (IMEI digits, order numbers), no
// full phone number, at any level.
func TestScenarioLogsHoldNoSecrets(t *testing.T) {
	ctx := context.Background()
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := DefaultScenarioStack(ctx, StackOptions{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var codes []string
	codeRE := regexp.MustCompile(`\d{6}`)
	cfg := ScenarioConfig{Stack: st, SMSSent: func(text string) {
		mu.Lock()
		defer mu.Unlock()
		codes = append(codes, codeRE.FindString(text))
	}}
	if _, err := RunScenarios(ctx, cfg, loadCommittedScenarios(t)); err != nil {
		t.Fatal(err)
	}
	if len(codes) == 0 {
		t.Fatal("no code was sent: the scan would prove nothing")
	}
	secrets := map[string]string{}
	for _, c := range codes {
		secrets[c] = "one-time code"
	}
	accts, err := accounts.DemoAccounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		for _, d := range a.Devices {
			if d.IMEI != "" {
				secrets[d.IMEI[len(d.IMEI)-6:]] = "IMEI digits of " + a.ID
			}
		}
		for _, o := range a.Orders {
			secrets[o.Number] = "order number of " + a.ID
		}
		for _, p := range a.Phones {
			secrets[strings.TrimPrefix(p, "+86")] = "phone number of " + a.ID
		}
	}
	text := logs.String()
	if !strings.Contains(text, `"level":"DEBUG"`) {
		t.Fatal("no debug line logged: the scan would prove nothing")
	}
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			continue
		}
		for _, v := range logValues(t, line) {
			for s, what := range secrets {
				if v.holds(s) {
					t.Errorf("log line holds a %s: %.300s", what, line)
				}
			}
		}
	}
	t.Logf("%d log lines scanned for %d codes and %d identifiers", strings.Count(text, "\n"), len(codes), len(secrets)-len(codes))
}

// logValue is one value of a JSON log line: a string, or a number's text.
type logValue struct {
	text   string
	number bool
}

// holds says whether a secret appears in the value. A string holds it
// anywhere in it; a number only as its whole self (a code logged as an
// integer, maybe without its leading zeros), because a duration in
// nanoseconds or a byte count contains any six digits by chance, as the
// record's own timestamp did before it was left out of the scan.
func (v logValue) holds(secret string) bool {
	if !v.number {
		return strings.Contains(v.text, secret)
	}
	return v.text == secret || v.text == strings.TrimLeft(secret, "0")
}

// logValues parses one JSON log line and returns every value in it, at any
// depth, except the record's time, which the handler writes and no code can
// reach.
func logValues(t *testing.T, line string) []logValue {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		t.Fatalf("log line is not JSON: %v: %.300s", err, line)
	}
	delete(rec, slog.TimeKey)
	var out []logValue
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case string:
			out = append(out, logValue{text: x})
		case json.Number:
			out = append(out, logValue{text: x.String(), number: true})
		case map[string]any:
			for k, v := range x {
				out = append(out, logValue{text: k})
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(rec)
	return out
}

// TestLogValuesFindSecrets keeps the scan able to fail: a code in a message,
// in a nested attribute or logged as an integer is found; the same digits in
// the record's time or inside a longer number are not.
func TestLogValuesFindSecrets(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{`{"time":"2026-12-06T08:12:57.201981559Z","msg":"call state"}`, false},
		{`{"time":"x","msg":"sent code 019815"}`, true},
		{`{"time":"x","msg":"m","otp":{"code":"019815"}}`, true},
		{`{"time":"x","msg":"m","code":19815}`, true},
		{`{"time":"x","msg":"m","took_ns":2019815590}`, false},
		{`{"time":"x","msg":"m","019815":true}`, true},
	} {
		found := false
		for _, v := range logValues(t, c.line) {
			found = found || v.holds("019815")
		}
		if found != c.want {
			t.Errorf("%s: found %v, want %v", c.line, found, c.want)
		}
	}
}
