package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestUploadsRefusedWhenFull: a node recognising as many recorded calls as
// it admits answers the next one 503 with Retry-After at once (not a 500
// minutes later), and takes calls again once a place frees. The first
// upload holds its place by sending its body slowly, so no timing is
// assumed.
func TestUploadsRefusedWhenFull(t *testing.T) {
	ls := startLive(t, "--set", "admission.max=1", "--set", "admission.queue=0")
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()

	pr, pw := io.Pipe()
	held := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ls.base+"/v1/transcribe", pr)
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			held <- 0
			return
		}
		resp.Body.Close()
		held <- resp.StatusCode
	}()
	// The slow upload has its place once its first bytes are read.
	if _, err := pw.Write([]byte("RIFF")); err != nil {
		t.Fatal(err)
	}
	ls.awaitMetric(t, ctx, `callbrief_stage_operations_total{engine="uploads",stage="admission"} 1`)

	for _, path := range []string{"/v1/transcribe", "/v1/calls?caller=%2B8613900000001"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ls.base+path, strings.NewReader("RIFF"))
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusServiceUnavailable || ra < 1 || !strings.Contains(string(body), "overloaded") {
			t.Fatalf("%s on a full node: %d Retry-After %q %s", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	pw.Close() // the slow upload ends: a truncated WAV
	if code := <-held; code != http.StatusUnprocessableEntity {
		t.Fatalf("the slow, truncated upload got %d, want 422", code)
	}
	// The place is free again: a malformed upload is now read and refused
	// for what it is, not for load.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ls.base+"/v1/transcribe", strings.NewReader("RIFF"))
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("after the place freed: %d, want 422", resp.StatusCode)
	}
}
