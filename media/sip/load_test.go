package sip

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media/sip/siptest"
)

// TestSetupRateRising measures the call set-ups per second a node takes:
// sipp places 2 s calls at a rate rising by 10 a second every 2 seconds
// (10 to 150 a second), and each second the server's counters say how
// many INVITEs came, how many were answered and how many got 503. Run it
// by hand (it loads the machine for about half a minute):
//
//	CALLBRIEF_SIP_LOAD=20 go test -run TestSetupRateRising -v ./media/sip/
//
// with the set-up rate to configure (sip.setup_rate; 1000 to find what
// the node itself manages with no limit).
func TestSetupRateRising(t *testing.T) {
	limit, err := strconv.ParseFloat(os.Getenv("CALLBRIEF_SIP_LOAD"), 64)
	if err != nil {
		t.Skip("a load measurement: set CALLBRIEF_SIP_LOAD to the set-up rate to configure")
	}
	needSipp(t)
	s := testServer(t, func(c *Config) {
		c.SetupRate, c.MaxCalls, c.Logger = limit, 2000, nil
		c.RTPPortMax = c.RTPPortMin + 1998
	}, func(c *Call) {
		// The pipeline's part is left out: the call's audio is read and
		// dropped until the caller hangs up.
		for {
			if _, err := c.Next(context.Background()); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*guard)
	defer cancel()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := siptest.Run(ctx, t.TempDir(), siptest.LoadCallScenario, map[string]string{"HOLD": "2000"}, s.Addr().String(),
			"-m", "2400", "-r", "10", "-rate_increase", "10", "-fd", "2", "-rate_max", "150", "-l", "1000", "-timeout", "120s")
		done <- result{out, err}
	}()
	cn := s.Counters()
	var prevInv, prevAns, prev503 uint64
	var rows []string
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var r result
	for sec := 1; ; sec++ {
		select {
		case r = <-done:
		case <-tick.C:
			inv, ans, r503 := cn.Invites.Load(), cn.Answered.Load(), cn.Refused503.Load()
			rows = append(rows, fmt.Sprintf("%3d s | %4d | %4d | %4d | %4d", sec, inv-prevInv, ans-prevAns, r503-prev503, s.Active()))
			prevInv, prevAns, prev503 = inv, ans, r503
			continue
		case <-ctx.Done():
			t.Fatal("sipp did not end")
		}
		break
	}
	t.Logf("set-up rate %g/s; per second: INVITEs in | answered | 503 | calls up\n%s", limit, strings.Join(rows, "\n"))
	ok := regexp.MustCompile(`Successful call\s+\|\s+\d+\s+\|\s+(\d+)`).FindAllStringSubmatch(r.out, -1)
	failed := regexp.MustCompile(`Failed call\s+\|\s+\d+\s+\|\s+(\d+)`).FindAllStringSubmatch(r.out, -1)
	if ok == nil || failed == nil {
		t.Fatalf("sipp: %v\n%s", r.err, r.out)
	}
	t.Logf("sipp: %s calls ended answered or refused, %s failed; server: %d INVITEs, %d answered, %d refused 503, %d not confirmed",
		ok[len(ok)-1][1], failed[len(failed)-1][1], cn.Invites.Load(), cn.Answered.Load(), cn.Refused503.Load(), cn.NoAck.Load())
	if f := failed[len(failed)-1][1]; f != "0" {
		t.Errorf("%s calls failed: the node left INVITEs unanswered or answered them wrong\n%s", f, r.out[max(0, len(r.out)-3000):])
	}
}
