package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media/sip/siptest"
)

// getJSON does req and decodes its JSON answer into out.
func getJSON(req *http.Request, out any) (int, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
}

// skillGroups are the default routing's groups: the transfer tests send
// every one to the ACD, whichever the recording is routed to.
var skillGroups = []string{"phone_tech", "smart_home", "ecosystem", "account", "security", "orders", "after_sales", "complaints", "general"}

// sipTransferConfig writes a configuration whose SIP calls of every group
// go to acd, and returns its path, the SIP address and the HTTP address.
func sipTransferConfig(t *testing.T, dir, acd string) (conf, sipAddr, httpAddr string) {
	t.Helper()
	sipAddr = fmt.Sprintf("127.0.0.1:%d", sipPort(t))
	httpAddr = freeAddr(t)
	rtp := mustPort(t, true)
	var hs strings.Builder
	for _, g := range skillGroups {
		fmt.Fprintf(&hs, "    - {group: %s, to: acd, acd: \"sip:%s@%s\"}\n", g, g, acd)
	}
	conf = filepath.Join(dir, "callbrief.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`sip:
  addr: %s
  rtp_port_min: %d
  rtp_port_max: %d
  desk_url: http://%s
  transfer_timeout: 20s
  trunks:
    - name: carrier
      sources: [127.0.0.1/32]
      number_header: p-asserted-identity
      trusted: true
      numbers: {"2000": en}
  handoffs:
%s`, sipAddr, rtp, rtp+20, httpAddr, hs.String())), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf, sipAddr, httpAddr
}

// awaitAnswered waits for serve to log the SIP call's id.
func awaitAnswered(t *testing.T, ctx context.Context, ls *liveServer, sippDone <-chan error) string {
	t.Helper()
	answered := regexp.MustCompile(`msg="sip call answered" component=sip call_id=(\S+)`)
	for {
		if m := answered.FindStringSubmatch(ls.stderr.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-sippDone:
			t.Fatalf("sipp ended before the call was answered: %v", err)
		case <-ctx.Done():
			t.Fatal("no call answered")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestSIPTransferToACD: a caller on a trusted trunk speaks, the call
// goes through the pipeline, and its group's calls go to the contact
// centre: callbrief transfers it by REFER; the trunk (sipp) calls the
// ACD (a sipp UAS that fails unless the headers are right) with the
// User-to-User and X-Callbrief-Case headers from Refer-To. The ACD
// receives the case id and the brief's URL, which serves the brief with
// the transcript, marked transferred (and the call is in no desk queue).
func TestSIPTransferToACD(t *testing.T) {
	if _, err := siptest.Sipp(); err != nil {
		t.Skip(err)
	}
	checkLiveLeaks(t)
	pcm := librivoxPCM(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "speech.pcap")
	length, err := siptest.WritePCAP(pcap, pcm, 16000, "PCMU")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()
	acd, err := siptest.StartUAS(ctx, t.TempDir(), siptest.ACDScenario, nil)
	if err != nil {
		t.Fatal(err)
	}
	conf, sipAddr, httpAddr := sipTransferConfig(t, dir, acd.Addr)
	ls := startLiveAt(t, httpAddr, "--config", conf)
	host, port, _ := strings.Cut(sipAddr, ":")
	done := make(chan error, 1)
	var out string
	go func() {
		// The caller listens to the greeting, speaks, and waits for the
		// REFER (the handoff follows the end of the speech).
		var err error
		out, err = siptest.Run(ctx, dir, siptest.TransfereeScenario, map[string]string{
			"PLAY": fmt.Sprintf(`<pause milliseconds="4000"/><nop><action><exec play_pcap_audio="%s"/></action></nop><pause milliseconds="%d"/>`,
				pcap, length.Milliseconds()),
			"REFER_WAIT": "90000", "SERVICE_HOST": host, "SERVICE_PORT": port}, sipAddr)
		done <- err
	}()
	id := awaitAnswered(t, ctx, ls, done)
	if err := <-done; err != nil {
		t.Fatalf("transferee: %v\n%s\n%s", err, out, ls.stderr.String())
	}
	log, err := acd.Wait(ctx)
	if err != nil {
		t.Fatalf("ACD: %v\n%s", err, log)
	}
	uui, _ := hex.DecodeString(siptest.Field(log, "uui"))
	url := siptest.Field(log, "brief")
	if string(uui) != id || siptest.Field(log, "case") != id || url != "http://"+httpAddr+"/desk/api/calls/"+id+"/brief" {
		t.Fatalf("the ACD got uui %q, case %q, brief %q; want call %s\n%s", uui, siptest.Field(log, "case"), url, id, log)
	}
	// The contact centre's agent opens the brief from the URL (signed in
	// as an agent who may read it).
	tok := ls.briefReader(t, ctx, id)
	var b struct {
		deskBrief
		Delivery string `json:"delivery"`
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		code, err := getJSON(req, &b)
		if err == nil && code == http.StatusOK && b.Delivery == "transferred to the contact centre" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("brief at %s not marked transferred: %d %v %+v", url, code, err, b)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !strings.Contains(strings.ToLower(b.text()), "he was not an") || !strings.Contains(b.Reason, "transferred to sip:"+b.Route.Group+"@"+acd.Addr) {
		t.Errorf("brief %+v", b)
	}
	var pos map[string]any
	if code, _ := ls.do(ctx, http.MethodGet, "/desk/api/queue", tok, nil, &pos); code == http.StatusOK && strings.Contains(fmt.Sprint(pos), id) {
		t.Errorf("a transferred call is on the desk's queue: %v", pos)
	}
	ls.awaitMetric(t, ctx, `callbrief_sip_transfers_total{result="transferred"} 1`)
	t.Logf("ACD got case %s, brief %s; brief %q, group %s, reason %q", id, url, b.text(), b.Route.Group, b.Reason)
}

// TestSIPTransferRefusedFallsBackToDesk: the trunk answers the REFER 603;
// the call stays with callbrief, is queued for the desk with the reason
// on its brief, and holds until the hold timeout.
func TestSIPTransferRefusedFallsBackToDesk(t *testing.T) {
	if _, err := siptest.Sipp(); err != nil {
		t.Skip(err)
	}
	checkLiveLeaks(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()
	pcm := librivoxPCM(t)
	pcap := filepath.Join(dir, "speech.pcap")
	length, err := siptest.WritePCAP(pcap, pcm, 16000, "PCMU")
	if err != nil {
		t.Fatal(err)
	}
	conf, sipAddr, httpAddr := sipTransferConfig(t, dir, "127.0.0.1:9")
	ls := startLiveAt(t, httpAddr, "--config", conf, "--set", "webrtc.hold_timeout=3s")
	done := make(chan error, 1)
	var out string
	go func() {
		var err error
		out, err = siptest.Run(ctx, dir, siptest.RefuserScenario, map[string]string{
			"PLAY": fmt.Sprintf(`<pause milliseconds="4000"/><nop><action><exec play_pcap_audio="%s"/></action></nop><pause milliseconds="%d"/>`,
				pcap, length.Milliseconds())}, sipAddr)
		done <- err
	}()
	id := awaitAnswered(t, ctx, ls, done)
	for {
		b := ls.awaitBrief(t, ctx, id)
		if strings.Contains(b.Reason, "transfer to the contact centre failed") && strings.Contains(b.Reason, "603") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("brief not marked: %+v", b)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	ls.awaitMetric(t, ctx, `callbrief_sip_transfers_total{result="refused"} 1`)
}
