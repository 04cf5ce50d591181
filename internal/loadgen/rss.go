package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RSSSample is the memory of the watched process at one moment: its own
// resident set and that of it with every descendant (the speech servers
// it supervises are children).
type RSSSample struct {
	TS     float64 `json:"t_s"`
	Calls  int     `json:"calls_done"`
	PID    int     `json:"pid,omitempty"`
	RSSMB  float64 `json:"rss_mb"`
	TreeMB float64 `json:"tree_mb"`
	// Source: "proc" (/proc/PID) or "metrics" (the node's
	// process_resident_memory_bytes; no children then).
	Source string `json:"source"`
}

// Memory compares the memory after warm-up with the end of the run.
type Memory struct {
	PID         int       `json:"pid,omitempty"`
	WarmupCalls int       `json:"warmup_calls"`
	AtWarmup    RSSSample `json:"at_warmup"`
	End         RSSSample `json:"end"`
	PeakTreeMB  float64   `json:"peak_tree_mb"`
	// GrowthPct is (end - warm-up) / warm-up of the tree, in percent.
	GrowthPct float64 `json:"growth_pct"`
}

// procRoot is /proc; tests point it at a fake tree.
var procRoot = "/proc"

// rssOf reads VmRSS of pid in MB.
func rssOf(pid int) (float64, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

// parseVmRSS reads the VmRSS line of /proc/PID/status ("VmRSS:  1234 kB").
func parseVmRSS(status []byte) (float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseFloat(f[0], 64)
				if err == nil {
					return round(kb / 1024), nil
				}
			}
			return 0, fmt.Errorf("VmRSS line %q is not N kB", sc.Text())
		}
	}
	return 0, fmt.Errorf("no VmRSS line (a kernel thread, or the process is gone)")
}

// parentOf reads the parent pid from /proc/PID/stat, whose second field
// (the command) may hold spaces and parentheses: the fields after the
// last ')' are fixed.
func parentOf(stat []byte) (int, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	p, err := strconv.Atoi(f[1])
	return p, err == nil
}

// descendants lists every process under pid (children, theirs...).
func descendants(pid int) []int {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	kids := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "stat"))
		if err != nil {
			continue
		}
		if pp, ok := parentOf(b); ok {
			kids[pp] = append(kids[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, k := range kids[p] {
			out = append(out, k)
			queue = append(queue, k)
		}
	}
	return out
}

// sampleProc reads pid's memory and its tree's.
func sampleProc(pid int) (own, tree float64, err error) {
	own, err = rssOf(pid)
	if err != nil {
		return 0, 0, err
	}
	tree = own
	for _, k := range descendants(pid) {
		if v, err := rssOf(k); err == nil {
			tree += v
		}
	}
	return own, round(tree), nil
}

// sampleMetrics reads process_resident_memory_bytes from a node's
// /metrics, for a node on another machine or a pid not given.
func sampleMetrics(ctx context.Context, client *http.Client, target string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(target, "/")+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "process_resident_memory_bytes "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, err
			}
			return round(f / (1 << 20)), nil
		}
	}
	return 0, fmt.Errorf("no process_resident_memory_bytes in %s/metrics", target)
}

// summarizeMemory picks the first sample at or after warm-up calls and
// the last one.
func summarizeMemory(ss []RSSSample, warmup int) *Memory {
	if len(ss) == 0 {
		return nil
	}
	m := &Memory{PID: ss[0].PID, WarmupCalls: warmup, End: ss[len(ss)-1], AtWarmup: ss[len(ss)-1]}
	found := false
	for _, s := range ss {
		if !found && s.Calls >= warmup {
			m.AtWarmup, found = s, true
		}
		m.PeakTreeMB = max(m.PeakTreeMB, s.TreeMB)
	}
	if m.AtWarmup.TreeMB > 0 {
		m.GrowthPct = round(100 * (m.End.TreeMB - m.AtWarmup.TreeMB) / m.AtWarmup.TreeMB)
	}
	return m
}
