package evals

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: clockless}))
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
	// A secret followed by a non-digit or the end: a whole code or number,
	// or the tail of an IMEI, but not six digits inside a longer number
	// (a byte count, an id) that hold a random code by chance.
	found := map[string]*regexp.Regexp{}
	for s := range secrets {
		found[s] = regexp.MustCompile(regexp.QuoteMeta(s) + `(\D|$)`)
	}
	for _, line := range strings.Split(text, "\n") {
		for s, what := range secrets {
			if found[s].MatchString(line) {
				t.Errorf("log line holds a %s: %.300s", what, line)
			}
		}
	}
	t.Logf("%d log lines scanned for %d codes and %d identifiers", strings.Count(text, "\n"), len(codes), len(secrets)-len(codes))
}

// clockless leaves out the digits no code can reach: the record's time,
// and the nanoseconds of durations and times and the long fractions of
// measures, which hold any six digits by chance (a code once turned up in
// a timestamp's nanoseconds and failed the scan). Durations are kept to
// the millisecond, times to the second, fractions to three places; whole
// numbers and strings stay as logged, and the scan looks for a secret
// anywhere in the line.
func clockless(groups []string, a slog.Attr) slog.Attr {
	switch {
	case len(groups) == 0 && a.Key == slog.TimeKey:
		return slog.Attr{}
	case a.Value.Kind() == slog.KindDuration:
		return slog.String(a.Key, a.Value.Duration().Round(time.Millisecond).String())
	case a.Value.Kind() == slog.KindTime:
		return slog.String(a.Key, a.Value.Time().UTC().Format(time.RFC3339))
	case a.Value.Kind() == slog.KindFloat64:
		return slog.Float64(a.Key, math.Round(a.Value.Float64()*1000)/1000)
	}
	return a
}
