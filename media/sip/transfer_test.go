package sip

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/callbrief/callbrief/media/sip/siptest"
)

// TestTransferToACD: a call is transferred by REFER to an ACD (a sipp UAS
// that fails unless the INVITE carries the headers); the transferee (a
// sipp trunk) reads the target, User-to-User and X-Callbrief-Case from
// Refer-To, reports by NOTIFY, and the ACD receives the case id (in UUI
// hex and in the X- header) and the brief's URL. The call then ends.
func TestTransferToACD(t *testing.T) {
	needSipp(t)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	acd, err := siptest.StartUAS(ctx, t.TempDir(), siptest.ACDScenario, nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		id  string
		err error
		end error
	}
	got := make(chan result, 1)
	s := testServer(t, nil, func(c *Call) {
		brief := "http://desk.test:8080/desk/api/calls/" + c.ID() + "/brief"
		err := c.Transfer(ctx, Transfer{Target: "sip:billing@" + acd.Addr, UUI: []byte(c.ID()), Purpose: "callbrief",
			Headers: [][2]string{{"X-Callbrief-Case", c.ID() + ";brief=" + brief}}})
		<-c.Done()
		got <- result{c.ID(), err, c.Err()}
	})
	host, port, _ := strings.Cut(s.Addr().String(), ":")
	out, err := siptest.Run(ctx, t.TempDir(), siptest.TransfereeScenario, map[string]string{"PLAY": "", "REFER_WAIT": "20000",
		"SERVICE_HOST": host, "SERVICE_PORT": port}, s.Addr().String())
	if err != nil {
		t.Fatalf("transferee: %v\n%s", err, out)
	}
	log, err := acd.Wait(ctx)
	if err != nil {
		t.Fatalf("ACD: %v\n%s", err, log)
	}
	r := <-got
	if r.err != nil || !errors.Is(r.end, ErrTransferred) {
		t.Fatalf("transfer: %v, call ended by %v", r.err, r.end)
	}
	uui, _ := hex.DecodeString(siptest.Field(log, "uui"))
	if string(uui) != r.id || siptest.Field(log, "case") != r.id || siptest.Field(log, "urlcase") != r.id ||
		siptest.Field(log, "brief") != "http://desk.test:8080/desk/api/calls/"+r.id+"/brief" {
		t.Fatalf("the ACD read uui %q (%s), case %q, brief %q; want the case %s\n%s", uui, siptest.Field(log, "uui"),
			siptest.Field(log, "case"), siptest.Field(log, "brief"), r.id, log)
	}
	if n := s.Counters().Transferred.Load(); n != 1 {
		t.Errorf("transferred %d", n)
	}
	t.Logf("ACD received case %s with UUI %s and brief %s", r.id, siptest.Field(log, "uui"), siptest.Field(log, "brief"))
}

// TestTransferRefused: a trunk that answers REFER 603 leaves the call with
// us: Transfer says ErrTransferRefused, the call is still up and can be
// spoken on, and it ends with our BYE.
func TestTransferRefused(t *testing.T) {
	needSipp(t)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	type result struct {
		err      error
		up       bool
		spokeErr error
	}
	got := make(chan result, 1)
	s := testServer(t, nil, func(c *Call) {
		err := c.Transfer(ctx, Transfer{Target: "sip:billing@127.0.0.1:9", UUI: []byte(c.ID()), Purpose: "callbrief"})
		up := c.Err() == nil
		tone := make([]int16, 3200)
		for i := range tone {
			tone[i] = int16(4000 * math.Sin(2*math.Pi*440*float64(i)/16000))
		}
		got <- result{err, up, c.Speak(ctx, tone, 16000)}
	})
	out, err := siptest.Run(ctx, t.TempDir(), siptest.RefuserScenario, map[string]string{"PLAY": ""}, s.Addr().String())
	if err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	r := <-got
	if !errors.Is(r.err, ErrTransferRefused) || !strings.Contains(r.err.Error(), "603") {
		t.Fatalf("transfer: %v, want ErrTransferRefused with 603", r.err)
	}
	if !r.up || r.spokeErr != nil {
		t.Fatalf("after the refusal the call is up %v, speaking: %v", r.up, r.spokeErr)
	}
	if n := s.Counters().TransfersRefused.Load(); n != 1 {
		t.Errorf("refused %d", n)
	}
}

// TestReferTo: the target and headers as a Refer-To value, escaped; bad
// targets are named.
func TestReferTo(t *testing.T) {
	v, err := ReferTo(Transfer{Target: "sip:q@192.0.2.1:5060", UUI: []byte("C1"), Purpose: "callbrief",
		Headers: [][2]string{{"X-Callbrief-Case", "C1;brief=https://d.example/desk/api/calls/C1/brief"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "<sip:q@192.0.2.1:5060?User-to-User=4331%3Bencoding%3Dhex%3Bpurpose%3Dcallbrief&X-Callbrief-Case=C1%3Bbrief%3Dhttps://d.example/desk/api/calls/C1/brief>"
	if v != want {
		t.Fatalf("Refer-To\n%s\nwant\n%s", v, want)
	}
	for _, bad := range []string{"", "tel:+123", "sip:q@h?X=1", "http://x", "sip:"} {
		if _, err := ReferTo(Transfer{Target: bad}); err == nil {
			t.Errorf("target %q taken", bad)
		}
	}
	if _, err := ReferTo(Transfer{Target: "sip:q@h", Headers: [][2]string{{"X-A&B", "1"}}}); err == nil {
		t.Error("bad header name taken")
	}
}

// TestParseSipfrag: a NOTIFY's status line.
func TestParseSipfrag(t *testing.T) {
	for body, want := range map[string]int{"SIP/2.0 200 OK\r\n": 200, "SIP/2.0 100 Trying": 100, "sip/2.0 486 Busy Here\r\nVia: x\r\n": 486} {
		r, err := parseSipfrag([]byte(body))
		if err != nil || r.code != want {
			t.Errorf("%q: %d %v, want %d", body, r.code, err, want)
		}
	}
	for _, body := range []string{"", "HTTP/1.1 200 OK", "SIP/2.0 99 x", "SIP/2.0 abc", "SIP/2.0"} {
		if r, err := parseSipfrag([]byte(body)); err == nil {
			t.Errorf("%q: took %+v", body, r)
		}
	}
}

func FuzzParseSipfrag(f *testing.F) {
	for _, s := range []string{"SIP/2.0 200 OK", "SIP/2.0 603 Declined\r\n", "", "SIP/2.0 1000 x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseSipfrag(b)
		if err == nil && (r.code < 100 || r.code > 699 || len(r.reason) > 80) {
			t.Fatalf("%q: %+v", b, r)
		}
		_ = fmt.Sprint(r)
	})
}
