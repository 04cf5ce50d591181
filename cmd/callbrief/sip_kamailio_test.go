package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media/sip/siptest"
	"github.com/callbrief/callbrief/store/redistest"
)

// answeredOn reads a node's count of answered SIP calls from /metrics.
func answeredOn(t *testing.T, ctx context.Context, ls *liveServer) int {
	t.Helper()
	m := ls.awaitMetric(t, ctx, "callbrief_sip_answered_total")
	v := regexp.MustCompile(`(?m)^callbrief_sip_answered_total (\d+)`).FindStringSubmatch(m)
	if v == nil {
		t.Fatalf("no answered count:\n%s", m)
	}
	n, _ := strconv.Atoi(v[1])
	return n
}

// optionsOn reads how many OPTIONS a node has answered.
func optionsOn(ls *liveServer, ctx context.Context) int {
	m, err := ls.metrics(ctx)
	if err != nil {
		return 0
	}
	v := regexp.MustCompile(`(?m)^callbrief_sip_options_total (\d+)`).FindStringSubmatch(m)
	if v == nil {
		return 0
	}
	n, _ := strconv.Atoi(v[1])
	return n
}

// TestKamailioTwoNodes: Kamailio (deploy/kamailio/kamailio.cfg, its
// dispatcher checking the nodes by OPTIONS) in front of two callbrief
// nodes on one Redis. 40 sipp calls through it all succeed and spread
// over both nodes. With ten longer calls up on both, one node is stopped
// and 20 calls start at once: Kamailio takes the node out within a check
// or two, all 20 succeed on the other node (none is lost), and every
// longer call goes on to its end: the stopped node drains (503 to new
// calls, its own calls finish) and exits after them. 20 more calls then
// go straight to the node that stays.
func TestKamailioTwoNodes(t *testing.T) {
	if _, err := siptest.Sipp(); err != nil {
		t.Skip(err)
	}
	kam, err := exec.LookPath("kamailio")
	if err != nil {
		t.Skip("kamailio (Debian kamailio) is not installed: scripts/setup.sh test installs it")
	}
	rd := redistest.Start(t)
	dir := t.TempDir()
	var nodes []*liveServer
	var sipAddrs []string
	for i := range 2 {
		sipAddr := fmt.Sprintf("127.0.0.1:%d", sipPort(t))
		rtp := mustPort(t, true)
		conf := filepath.Join(dir, fmt.Sprintf("node%d.yaml", i))
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(`sip:
  addr: %s
  rtp_port_min: %d
  rtp_port_max: %d
  trunks:
    - name: proxy
      sources: [127.0.0.1/32]
      number_header: p-asserted-identity
      trusted: true
`, sipAddr, rtp, rtp+100)), 0o600); err != nil {
			t.Fatal(err)
		}
		httpAddr := freeAddr(t)
		nodes = append(nodes, startLiveAt(t, httpAddr, "--config", conf, "--set", "store.redis_addr="+rd.Addr,
			"--set", "store.secret=node-shared-store-secret", "--set", "desk.secret=node-shared-desk-secret",
			"--set", "http.advertise_url=http://"+httpAddr, "--set", "asr.engine=sphinx", "--set", "log.level=warn"))
		sipAddrs = append(sipAddrs, sipAddr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*liveGuard)
	defer cancel()

	// Kamailio with the repository's configuration; only the addresses
	// differ.
	list := filepath.Join(dir, "dispatcher.list")
	if err := os.WriteFile(list, []byte("1 sip:"+sipAddrs[0]+"\n1 sip:"+sipAddrs[1]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	proxy := fmt.Sprintf("127.0.0.1:%d", mustPort(t, false))
	root, _ := filepath.Abs("../../deploy/kamailio/kamailio.cfg")
	run := filepath.Join(dir, "kamailio")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	kctx, kcancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(kctx, kam, "-DD", "-E", "-f", root, "-Y", run, "-A", "LISTEN=udp:"+proxy,
		"-A", `DISPATCHER_LIST="`+list+`"`, "-A", "PING_INTERVAL=1", "-A", "NODE_TIMEOUT=3000",
		// One worker: with several, a node's 180 and 200 may be relayed
		// by two workers and arrive swapped, which a phone ignores but
		// sipp's scenario counts as a failed call.
		"-A", "CHILDREN=1")
	// Its main process stops its children on SIGTERM (a SIGKILL would
	// leave them holding the log pipe).
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var klog lockedBuffer
	cmd.Stdout, cmd.Stderr = &klog, &klog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kdone := make(chan error, 1)
	go func() { kdone <- cmd.Wait() }()
	t.Cleanup(func() {
		kcancel()
		<-kdone
		if t.Failed() {
			t.Logf("kamailio logged:\n%s", klog.String())
		}
	})
	// Kamailio is up and checking both nodes once each has answered an
	// OPTIONS.
	for optionsOn(nodes[0], ctx) == 0 || optionsOn(nodes[1], ctx) == 0 {
		select {
		case err := <-kdone:
			t.Fatalf("kamailio exited: %v\n%s", err, klog.String())
		case <-ctx.Done():
			t.Fatalf("kamailio never checked both nodes\n%s", klog.String())
		case <-time.After(100 * time.Millisecond):
		}
	}

	calls := func(n int) (string, error) {
		return siptest.Run(ctx, t.TempDir(), siptest.ShortCallScenario, map[string]string{"HOLD": "2000"}, proxy,
			"-m", strconv.Itoa(n), "-r", "8", "-l", "20")
	}
	start := time.Now()
	out, err := calls(40)
	if err != nil {
		t.Fatalf("40 calls through kamailio: %v\n%s", err, out)
	}
	took := time.Since(start)
	a, b := answeredOn(t, ctx, nodes[0]), answeredOn(t, ctx, nodes[1])
	if a+b != 40 || a < 10 || b < 10 {
		t.Fatalf("40 calls answered %d and %d by the two nodes", a, b)
	}
	t.Logf("40 calls through kamailio in %s: node 1 answered %d, node 2 %d", took.Round(time.Millisecond), a, b)

	// Ten longer calls are up, five on each node, when node 2 stops: it
	// drains, refusing new calls while its own go on to their end; node
	// 1's must not notice.
	long := make(chan sippResult, 1)
	go func() {
		out, err := siptest.Run(ctx, t.TempDir(), siptest.ShortCallScenario, map[string]string{"HOLD": "12000"}, proxy,
			"-m", "10", "-r", "8", "-l", "20")
		long <- sippResult{out, err}
	}()
	for answeredOn(t, ctx, nodes[0])+answeredOn(t, ctx, nodes[1]) < 50 {
		select {
		case r := <-long:
			t.Fatalf("the long calls ended before all were answered: %v\n%s", r.err, r.out)
		case <-ctx.Done():
			t.Fatal("the long calls were not all answered")
		case <-time.After(50 * time.Millisecond):
		}
	}
	a1 := answeredOn(t, ctx, nodes[0])
	onNode1 := a1 - a
	// Node 2 is told to stop (SIGTERM as the process would get it): it
	// drains, 503 to checks and new calls while its five calls go on,
	// and 20 new calls start at once: those Kamailio sends it before a
	// check takes it out are refused and go to node 1.
	stopped := time.Now()
	exited := make(chan int, 1)
	go func() { exited <- nodes[1].stop() }()
	for {
		code, err := nodes[1].do(ctx, http.MethodGet, "/readyz", "", nil, nil)
		if err == nil && code == http.StatusServiceUnavailable {
			break
		}
		select {
		case rc := <-exited:
			t.Fatalf("node 2 exited %d before its calls ended", rc)
		case <-ctx.Done():
			t.Fatal("node 2 never drained")
		case <-time.After(10 * time.Millisecond):
		}
	}
	start = time.Now()
	burst := make(chan sippResult, 1)
	go func() { out, err := calls(20); burst <- sippResult{out, err} }()
	down := regexp.MustCompile(`node sip:` + regexp.QuoteMeta(sipAddrs[1]) + ` down at`)
	for !down.MatchString(klog.String()) {
		select {
		case <-ctx.Done():
			t.Fatalf("kamailio never took node 2 out\n%s", klog.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	penalty := time.Since(stopped)
	r := <-burst
	if r.err != nil {
		t.Fatalf("20 calls as node 2 stopped: %v\n%s\n%s", r.err, r.out, klog.String())
	}
	took = time.Since(start)
	if a2 := answeredOn(t, ctx, nodes[0]); a2 != a1+20 {
		t.Fatalf("as node 2 stopped node 1 answered %d more calls, want 20\n%s", a2-a1, klog.String())
	}
	moved := strings.Count(klog.String(), "did not answer call")
	t.Logf("node 2 stopped: out of Kamailio's choice after %s; 20 calls in %s, all on node 1 (%d tried on node 2 first, each waiting the node timeout)",
		penalty.Round(10*time.Millisecond), took.Round(time.Millisecond), moved)

	// Once it is out, new calls go straight to node 1: none waits.
	start = time.Now()
	out, err = calls(20)
	if err != nil {
		t.Fatalf("20 calls with node 2 out: %v\n%s\n%s", err, out, klog.String())
	}
	took = time.Since(start)
	if a3 := answeredOn(t, ctx, nodes[0]); a3 != a1+40 {
		t.Fatalf("with node 2 out node 1 answered %d more calls, want 20\n%s", a3-a1-20, klog.String())
	}
	if m := strings.Count(klog.String(), "did not answer call"); m != moved {
		t.Errorf("%d calls were tried on node 2 after Kamailio took it out\n%s", m-moved, klog.String())
	}
	t.Logf("20 calls with node 2 out in %s, all on node 1, none tried on node 2", took.Round(time.Millisecond))

	// Every long call went on to its end, node 2's through its drain;
	// node 2 exited once they had.
	r = <-long
	ok, failed := sippCounts(r.out)
	if ok != 10 || failed != 0 {
		t.Fatalf("long calls: %d completed and %d cut, want all 10 completed (%d on node 1)\n%s", ok, failed, onNode1, r.out)
	}
	if rc := <-exited; rc != 0 {
		t.Fatalf("node 2 exited %d", rc)
	}
	t.Logf("long calls: all 10 completed, the %d on node 2 through its drain; node 2 exited after them",
		10-onNode1)
}

type sippResult struct {
	out string
	err error
}

// sippCounts reads sipp's final totals of successful and failed calls.
func sippCounts(out string) (ok, failed int) {
	get := func(name string) int {
		m := regexp.MustCompile(name+`\s+\|\s+\d+\s+\|\s+(\d+)`).FindAllStringSubmatch(out, -1)
		if m == nil {
			return -1
		}
		n, _ := strconv.Atoi(m[len(m)-1][1])
		return n
	}
	return get("Successful call"), get("Failed call")
}
