package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/evals"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/handoff/queue/redisq"
	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media"
	storeredis "github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/store/redistest"
)

// TestUploadDuringRedisOutage: Redis is down when a recorded call reaches
// handoff. The upload is answered with its brief marked pending delivery
// (it used to be a 500 and the call was lost); when Redis is back the
// node delivers it, and the call is in the shared queue with its brief.
func TestUploadDuringRedisOutage(t *testing.T) {
	wav, err := os.ReadFile(filepath.Join(testenv.NeedLibrivox(t), "sense_and_sensibility_01_austen_64kb-0880.wav"))
	if err != nil {
		t.Fatal(err)
	}
	rd := redistest.Start(t)
	ls := startLive(t, "--set", "store.redis_addr="+rd.Addr, "--set", "store.secret=node-shared-store-secret", "--set", "desk.secret=node-shared-desk-secret",
		"--set", "store.outbox_dir="+t.TempDir(), "--set", "log.level=info")
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()

	rd.Kill(t)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ls.base+"/v1/calls?caller=%2B8613900000042", bytes.NewReader(wav))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var res struct {
		CallID string        `json:"call_id"`
		Brief  handoff.Brief `json:"brief"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil || res.CallID == "" {
		t.Fatalf("upload during the outage: %d %s", resp.StatusCode, body)
	}
	if res.Brief.Delivery != handoff.DeliveryPending {
		t.Fatalf("brief delivery %q, want %q", res.Brief.Delivery, handoff.DeliveryPending)
	}
	var ready map[string]any
	if code, err := ls.do(ctx, http.MethodGet, "/readyz", "", nil, &ready); err != nil || code != http.StatusOK || ready["outbox"] != 1.0 {
		t.Errorf("readyz during the outage: %d, outbox %v (%v): a node with room in its outbox takes calls", code, ready["outbox"], err)
	}

	rd.Resume(t)
	q, err := redisq.New(redisq.Config{Addr: rd.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var entry queue.Entry
	for {
		if entry, err = q.Get(ctx, res.CallID); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("call %s never reached the shared queue after Redis returned: %v", res.CallID, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if entry.Group != res.Brief.Route.Group {
		t.Errorf("queued in %q, brief routed to %q", entry.Group, res.Brief.Route.Group)
	}
	kv, err := storeredis.New(storeredis.Config{Addr: rd.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	s, err := kv.Get(ctx, "handoff:brief:"+res.CallID)
	var b handoff.Brief
	if err != nil || json.Unmarshal([]byte(s), &b) != nil || b.CallID != res.CallID || b.Delivery != handoff.DeliveryLate {
		t.Errorf("stored brief of %s: %v %.200s", res.CallID, err, s)
	}
}

// TestEmergencyDuringRedisOutage: Redis is killed; a caller's recording
// says their phone is smoking (English, spoken by espeak-ng). The upload
// is answered with an emergency brief kept on the node, and the very next
// look at a local desk shows it, first, while the shared queue is still
// down; when Redis returns the call is delivered to the shared queue.
func TestEmergencyDuringRedisOutage(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng (Debian espeak-ng) is not installed: scripts/setup.sh test installs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveGuard)
	defer cancel()
	wav := espeakWAV(t, ctx, "My phone is smoking while it charges and it smells like something is burning")
	rd := redistest.Start(t)
	ls := startLive(t, "--set", "store.redis_addr="+rd.Addr, "--set", "store.secret=node-shared-store-secret", "--set", "desk.secret=node-shared-desk-secret",
		"--set", "store.outbox_dir="+t.TempDir(), "--set", "log.level=info")
	// The agents of this node are signed in before the outage.
	tokens := map[string]string{}
	for agent, tok := range demoAgents {
		tokens[agent] = ls.login(t, ctx, agent, tok)
	}

	rd.Kill(t)
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ls.base+"/v1/calls?caller=%2B8617722223333", bytes.NewReader(wav))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	answered := time.Since(start)
	var res struct {
		CallID string        `json:"call_id"`
		Brief  handoff.Brief `json:"brief"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil || res.CallID == "" {
		t.Fatalf("emergency upload during the outage: %d %s", resp.StatusCode, body)
	}
	if res.Brief.Urgency.Level < call.UrgencyEmergency || res.Brief.Delivery != handoff.DeliveryPending {
		t.Fatalf("brief during the outage: urgency %v, delivery %q, intent %q, transcript %q; want an emergency pending delivery",
			res.Brief.Urgency, res.Brief.Delivery, res.Brief.Intent.Intent, res.Brief.Transcript.Text())
	}
	// At once: the first look at the desks after the answer shows it.
	var seenBy []string
	var onDesk time.Duration // to the first desk that showed it
	for agent, token := range tokens {
		var v handoff.DeskView
		code, err := ls.do(ctx, http.MethodGet, "/desk/api/queue", token, nil, &v)
		if err != nil || code != http.StatusOK {
			continue
		}
		if len(v.Waiting) > 0 && v.Waiting[0].CallID == res.CallID && v.Waiting[0].State == handoff.StatePending && v.Degraded != "" {
			if seenBy = append(seenBy, agent); onDesk == 0 {
				onDesk = time.Since(start)
			}
		}
	}
	if len(seenBy) == 0 {
		t.Fatalf("no local desk shows the emergency %s during the outage", res.CallID)
	}
	t.Logf("emergency (%s, %s) answered %s after the upload began, on the first desk looked at %s after it (shown to %v), Redis down",
		res.Brief.Intent.Intent, res.Brief.Route.Group, answered.Round(time.Millisecond), onDesk.Round(time.Millisecond), seenBy)

	rd.Resume(t)
	q, err := redisq.New(redisq.Config{Addr: rd.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for {
		if _, err := q.Get(ctx, res.CallID); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("emergency %s never reached the shared queue after Redis returned", res.CallID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// espeakWAV is text spoken in English by espeak-ng, as a 16 kHz WAV file.
func espeakWAV(t *testing.T, ctx context.Context, text string) []byte {
	t.Helper()
	pcm, err := evals.Espeak{}.Synthesize(ctx, text, call.LangEnglish, evals.Voice{})
	if err != nil {
		t.Fatal(err)
	}
	return pcmWAV(t, pcm)
}

// pcmWAV is 16 kHz mono samples as a 16-bit WAV file.
func pcmWAV(t *testing.T, pcm []int16) []byte {
	t.Helper()
	data := make([]float32, len(pcm))
	for i, v := range pcm {
		data[i] = float32(v) / 32768
	}
	var wav bytes.Buffer
	if err := media.WriteWAV(&wav, &media.Audio{Format: media.Format{Encoding: media.PCM, SampleRate: 16000, Channels: 1}, Data: data}, 16); err != nil {
		t.Fatal(err)
	}
	return wav.Bytes()
}
