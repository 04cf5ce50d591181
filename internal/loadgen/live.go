package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/callbrief/callbrief/evals"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/media/webrtc/webrtctest"
)

// live places rec as a live call on o.Target: a WebRTC caller dials WHIP,
// waits for the greeting, says the recording in real time, then stays
// silent until the call's brief is on the desk, and hangs up. The node's
// own histograms give its times (see liveLatency); the caller measures
// the handoff to the brief on the desk.
func (r *runner) live(ctx context.Context, o *Outcome, rec *Recording) (*Refusal, time.Duration) {
	cl, err := webrtctest.New()
	if err != nil {
		o.Class, o.Error = ClassClientError, err.Error()
		return nil, 0
	}
	defer cl.Close()
	var hdr http.Header
	if r.cfg.APIKey != "" {
		hdr = http.Header{"Authorization": {"Bearer " + r.cfg.APIKey}}
	}
	if err := cl.Dial(ctx, o.Target+"/v1/whip", hdr); err != nil {
		var se *webrtctest.StatusError
		if errors.As(err, &se) {
			var e apiErr
			_ = json.Unmarshal([]byte(se.Body), &e)
			if se.Code == http.StatusServiceUnavailable || se.Code == http.StatusTooManyRequests {
				o.Status = se.Code
				return refusal(se.Code, e.Error.Code, se.RetryAfter)
			}
			classify(o, se.Code, e.Error.Code)
			o.Error = truncate(se.Body, 300)
			return nil, 0
		}
		// No answer to the offer, or no media path: the call was never
		// set up.
		o.Class, o.Reason, o.Error = ClassUnreachable, "dial", truncate(err.Error(), 300)
		return nil, 0
	}
	callID := cl.CallID() // the desk's name for it; the resource's secret stays with the caller
	lost := func(reason string, err error) (*Refusal, time.Duration) {
		o.Class, o.Reason, o.Error = ClassLost, reason, truncate(err.Error(), 300)
		return nil, 0
	}
	if err := evals.AwaitGreeting(ctx, cl); err != nil {
		return lost("greeting", err)
	}
	if err := cl.SendPCM(ctx, rec.PCM, 20*time.Millisecond); err != nil {
		return lost("speaking", err)
	}
	// Silence in real time until the brief is seen: the caller stays on
	// the line through the verification questions.
	sctx, stopSilence := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for sctx.Err() == nil {
			_ = cl.SendSilence(sctx, time.Second, 20*time.Millisecond)
		}
	}()
	b, seen, err := r.desk.await(ctx, o.Target, callID)
	stopSilence()
	wg.Wait()
	if err != nil {
		return lost("no brief", err)
	}
	o.Class, o.Status, o.CallID = ClassOK, http.StatusCreated, callID
	o.Transcript = b.Transcript.Text()
	if len(b.Transcript.Segments) > 0 {
		o.Engine = b.Transcript.Segments[0].Engine
	}
	if d := seen.Sub(b.CreatedAt); d >= 0 {
		v := round(float64(d.Microseconds()) / 1000)
		o.HandoffToBriefMS = &v
	}
	// Hanging up ends the call: the node records its times then.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cl.Hangup(hctx, o.Target); err != nil {
		o.Error = "hanging up: " + truncate(err.Error(), 200)
	}
	return nil, 0
}

// deskReader reads briefs from the desk as the demo agents, signed in
// once per target.
type deskReader struct {
	client *http.Client
	agents map[string]string

	mu     sync.Mutex
	tokens map[string][]string // target -> access tokens
	// notBefore: a target whose sign-in failed is not asked again before
	// this (a second, or its Retry-After). A reader that signed in again
	// for every brief it looked for, during a store failover, spent the
	// desk's sign-in limits in seconds and then read nothing for the
	// limits' window.
	notBefore map[string]time.Time
}

func newDeskReader(c *http.Client, agents map[string]string) *deskReader {
	if len(agents) == 0 {
		agents = evals.DemoAgents()
	}
	return &deskReader{client: c, agents: agents, tokens: map[string][]string{}, notBefore: map[string]time.Time{}}
}

func (d *deskReader) login(ctx context.Context, target string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := d.tokens[target]; len(t) > 0 {
		return t, nil
	}
	if wait := time.Until(d.notBefore[target]); wait > 0 {
		return nil, fmt.Errorf("desk sign-in on %s: failed before; next try in %s", target, wait.Round(time.Millisecond))
	}
	out, err := d.signIn(ctx, target)
	if err != nil {
		return nil, err
	}
	d.tokens[target] = out
	return out, nil
}

// signIn signs every agent in on target; on a failure the target waits
// (notBefore) before the next try.
func (d *deskReader) signIn(ctx context.Context, target string) ([]string, error) {
	d.notBefore[target] = time.Now().Add(time.Second)
	var out []string
	for agent, tok := range d.agents {
		b, _ := json.Marshal(map[string]string{"agent": agent, "token": tok})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+"/desk/api/login", bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := d.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("desk sign-in on %s: %w", target, err)
		}
		var a struct {
			AccessToken string `json:"access_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || a.AccessToken == "" {
			if s, e := strconv.Atoi(resp.Header.Get("Retry-After")); e == nil && s > 0 {
				d.notBefore[target] = time.Now().Add(min(time.Duration(s)*time.Second, time.Minute))
			}
			return nil, fmt.Errorf("desk sign-in as %s on %s: %s", agent, target, resp.Status)
		}
		out = append(out, a.AccessToken)
	}
	delete(d.notBefore, target)
	return out, nil
}

// find looks for the call's brief once on every target, as every agent:
// after faults the brief may be on any node's shared store. signInFailed
// is set when a target's sign-in failed (tried, or waiting to be tried).
func (d *deskReader) find(ctx context.Context, targets []string, callID string) (found, signInFailed bool) {
	for _, t := range targets {
		tokens, err := d.login(ctx, t)
		if err != nil {
			signInFailed = true
			continue // that node is down, or its sign-in failed a moment ago
		}
		for _, tok := range tokens {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, t+"/desk/api/calls/"+url.PathEscape(callID)+"/brief", nil)
			if err != nil {
				return false, signInFailed
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := d.client.Do(req)
			if err != nil {
				break
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 8<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true, signInFailed
			}
		}
	}
	return false, signInFailed
}

// checkBriefs looks for every answered call's brief, retrying the missing
// ones for up to wait (a brief kept in a node's outbox during a store
// outage is delivered when the store returns).
func (r *runner) checkBriefs(ctx context.Context, wait time.Duration) *BriefCheck {
	var ids []string
	for _, o := range r.outcomes() {
		if o.Class == ClassOK && o.CallID != "" {
			ids = append(ids, o.CallID)
		}
	}
	bc := &BriefCheck{Checked: len(ids)}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		var missing []string
		for _, id := range ids {
			found, failed := r.desk.find(ctx, r.cfg.Targets, id)
			if failed {
				bc.SignInFailures++
			}
			if !found {
				missing = append(missing, id)
			}
		}
		bc.Found += len(ids) - len(missing)
		ids = missing
		if len(ids) == 0 || ctx.Err() != nil {
			bc.Missing = ids
			return bc
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// await polls the call's brief every 250 ms as each agent in turn (only
// the call's agents may read it) until one is served or ctx ends.
func (d *deskReader) await(ctx context.Context, target, callID string) (handoff.Brief, time.Time, error) {
	var tokens []string
	for {
		// A sign-in that failed a moment ago (a store failover) is tried
		// again within the call's time, not counted as no brief at once.
		var err error
		if tokens, err = d.login(ctx, target); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return handoff.Brief{}, time.Time{}, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		for _, tok := range tokens {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+"/desk/api/calls/"+url.PathEscape(callID)+"/brief", nil)
			if err != nil {
				return handoff.Brief{}, time.Time{}, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := d.client.Do(req)
			if err != nil {
				last = err.Error()
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
			resp.Body.Close()
			last = resp.Status
			if resp.StatusCode == http.StatusOK {
				var b handoff.Brief
				if err := json.Unmarshal(body, &b); err != nil {
					return handoff.Brief{}, time.Time{}, fmt.Errorf("reading the brief: %w", err)
				}
				return b, time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return handoff.Brief{}, time.Time{}, fmt.Errorf("no brief of call %s on the desk (last: %s): %w", callID, last, ctx.Err())
		case <-tick.C:
		}
	}
}

// Live-call histograms of the nodes, by name suffix.
const (
	histIntent     = "live_speech_end_to_intent_seconds"
	histTranscript = "live_speech_end_to_transcript_seconds"
)

// scrapeAll reads every target's /metrics (empty text for one that does
// not answer).
func (r *runner) scrapeAll(ctx context.Context) []string {
	out := make([]string, len(r.cfg.Targets))
	for i, t := range r.cfg.Targets {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		req, err := http.NewRequestWithContext(sctx, http.MethodGet, t+"/metrics", nil)
		if err == nil {
			var resp *http.Response
			if resp, err = r.cfg.Client.Do(req); err == nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
				resp.Body.Close()
				out[i] = string(b)
			}
		}
		cancel()
	}
	return out
}

// liveLatency is the growth of the nodes' live-call histograms over the
// run, summed over the targets: the node's own end of speech, which the
// caller cannot see. The live calls' times are recorded when they end, so
// it waits (up to 10 s) until every answered live call is counted.
func (r *runner) liveLatency(ctx context.Context, before []string) *LiveLatency {
	want := 0
	for _, o := range r.outcomes() {
		if o.Mode == ModeLive && o.Class == ClassOK {
			want++
		}
	}
	var intent, trans Histogram
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := r.scrapeAll(ctx)
		intent, trans = Histogram{}, Histogram{}
		for i := range after {
			for _, p := range []struct {
				suffix string
				sum    *Histogram
			}{{histIntent, &intent}, {histTranscript, &trans}} {
				a, ok := ParseHistogram(after[i], p.suffix)
				if !ok {
					continue
				}
				b, _ := ParseHistogram(before[i], p.suffix)
				*p.sum = p.sum.Add(a.Sub(b))
			}
		}
		if intent.Count() >= float64(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	l := &LiveLatency{Calls: intent.Count(), SpeechEndIntent: map[string]float64{}, SpeechEndTrans: map[string]float64{},
		Note: "from the nodes' histograms (bucket bounds 50 ms to 20 s), interpolated within a bucket; the node's own end of speech"}
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", .5}, {"p95", .95}, {"p99", .99}} {
		if v, ok := intent.Quantile(q.q); ok {
			l.SpeechEndIntent[q.name] = v
		}
		if v, ok := trans.Quantile(q.q); ok {
			l.SpeechEndTrans[q.name] = v
		}
	}
	return l
}
