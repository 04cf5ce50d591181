package evals

import (
	"bytes"
	"context"
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
		for s, what := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("log line holds a %s: %.300s", what, line)
			}
		}
	}
	t.Logf("%d log lines scanned for %d codes and %d identifiers", strings.Count(text, "\n"), len(codes), len(secrets)-len(codes))
}
