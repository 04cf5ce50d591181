package evals

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/webrtc/webrtctest"
	"github.com/callbrief/callbrief/pipeline"
)

// Served modes: how a scenario's call reaches the service.
const (
	// ModeUpload posts the opening turn as a WAV file to POST /v1/calls
	// with the scenario's keyed answers.
	ModeUpload = "upload"
	// ModeLive places a live call over WHIP (/v1/whip) from a Go WebRTC
	// client speaking in real time; only scenarios tagged "live" are
	// placed live (a live call takes as long as a real one).
	ModeLive = "live"
)

// LiveTag marks the scenarios also placed as live calls.
const LiveTag = "live"

// ServedConfig configures RunServed.
type ServedConfig struct {
	// Binary is the callbrief executable, started with serve.
	Binary string
	// Sets are extra --set KEY=VALUE overrides for serve; the report
	// lists them. By default none: the service runs as `make run` runs it.
	Sets []string
	// APIKey, when set, is sent as "Authorization: Bearer KEY" on the
	// call endpoints (/v1/calls, /v1/whip). Never logged or reported.
	// Empty: the development key serve prints when none is configured.
	APIKey string
	// Modes to run, in order; default upload then live.
	Modes []string
	// Agents are desk agents and their sign-in tokens; a brief is read
	// as whichever of them may read it (the call's agents). Default: the
	// demo agents.
	Agents map[string]string
	// Synth speaks the scenarios that have no recording; default espeak-ng.
	Synth Synthesizer
	// ServerLog receives the service's log (its standard error).
	ServerLog io.Writer
	// ReadyTimeout bounds the service's start; default 3 minutes.
	ReadyTimeout time.Duration
	Progress     *Progress
}

// DemoAgents are the demo desk agents (data/agents/demo.yaml) and their
// sign-in tokens: between them they may read every call's brief.
func DemoAgents() map[string]string {
	return map[string]string{"li.na": "demo-token-li-na-0001", "chan.kaman": "demo-token-chan-kaman-0002",
		"wang.jian": "demo-token-wang-jian-0003", "zhou.min": "demo-token-zhou-min-0004", "sam.taylor": "demo-token-sam-taylor-0005"}
}

// RunServed starts the service once and places every scenario as a call
// in every mode, one call at a time (so that each call's times are its
// own), then stops the service. A call that fails is scored as wrong on
// every count and reported with its error.
func RunServed(ctx context.Context, cfg ServedConfig, scs []CallScenario) (*ServedReport, error) {
	if len(cfg.Modes) == 0 {
		cfg.Modes = []string{ModeUpload, ModeLive}
	}
	for _, m := range cfg.Modes {
		if m != ModeUpload && m != ModeLive {
			return nil, fmt.Errorf("%w: mode %q is not upload or live", ErrServed, m)
		}
	}
	if len(cfg.Agents) == 0 {
		cfg.Agents = DemoAgents()
	}
	if cfg.Synth == nil {
		cfg.Synth = Espeak{}
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 3 * time.Minute
	}
	rep := &ServedReport{Binary: cfg.Binary, Overrides: append([]string{"http.addr=127.0.0.1:0 (--addr: a free port)"}, cfg.Sets...),
		APIKey: cfg.APIKey != "", Modes: cfg.Modes}
	rep.Machine.Cores = runtime.NumCPU()
	rep.Machine.LoadBefore = LoadAverage()
	// The audio is read (or synthesized) before the service starts, so
	// that synthesis does not share the cores with the calls measured.
	audio := make([][]int16, len(scs))
	for i, sc := range scs {
		pcm, err := scenarioAudio(ctx, cfg.Synth, sc)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrServed, sc.ID, err)
		}
		audio[i] = pcm
	}
	t0 := time.Now()
	p, err := startServed(ctx, cfg.Binary, cfg.Sets, cfg.APIKey, cfg.ServerLog, cfg.ReadyTimeout)
	if err != nil {
		return nil, err
	}
	rep.StartSeconds = time.Since(t0).Seconds()
	rep.Server = p.Ready
	rep.DevKey = p.DevKey
	defer p.stop()
	var desk []string
	for agent, tok := range cfg.Agents {
		access, err := p.login(ctx, agent, tok)
		if err != nil {
			return nil, err
		}
		desk = append(desk, access)
	}
	total := 0
	for _, m := range cfg.Modes {
		for _, sc := range scs {
			if m == ModeUpload || sc.HasTag(LiveTag) {
				total++
			}
		}
	}
	cfg.Progress.Start(total)
	for _, mode := range cfg.Modes {
		for i, sc := range scs {
			if mode == ModeLive && !sc.HasTag(LiveTag) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var o ServedOutcome
			if mode == ModeUpload {
				o = p.upload(ctx, sc, audio[i], desk)
			} else {
				o = p.live(ctx, sc, audio[i], desk)
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			scoreServed(&o, sc)
			rep.Outcomes = append(rep.Outcomes, o)
			cfg.Progress.Tick()
		}
	}
	rep.Machine.LoadAfter = LoadAverage()
	if err := p.stop(); err != nil {
		rep.StopError = err.Error()
	}
	rep.summarize()
	return rep, nil
}

// scenarioAudio is the opening turn: the recording, or the turn's text
// synthesized and passed through a telephone channel. The voice and noise
// follow from the scenario's id, so that a scenario sounds the same in
// the gate's subset and in the whole suite.
func scenarioAudio(ctx context.Context, synth Synthesizer, sc CallScenario) ([]int16, error) {
	if path := sc.AudioPath(); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		a, err := media.ReadWAV(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return a.PCM16(16000)
	}
	h := fnv.New32a()
	h.Write([]byte(sc.ID))
	idx := int(h.Sum32() % 1024)
	v := VoiceFor(sc.Voice, idx)
	pcm, err := synth.Synthesize(ctx, sc.Turns[0].Say, sc.Turns[0].Lang, v)
	if err != nil {
		return nil, err
	}
	return Telephone(pcm, v.SNR, uint64(idx)<<8|1)
}

// uploadAnswers are the scenario's keyed answers, in order, as
// /v1/calls takes them; answers after a silent turn are not given.
func uploadAnswers(sc CallScenario) ([]string, error) {
	var out []string
	for i, t := range sc.Turns[1:] {
		switch {
		case t.DTMF != "":
			out = append(out, t.DTMF)
		case t.Silence || t.Hangup:
			return out, nil
		default:
			return nil, fmt.Errorf("turns[%d]: a served upload takes keyed answers only (dtmf); spoken or looked-up answers need the offline scenarios", i+1)
		}
	}
	return out, nil
}

// WAVBytes is pcm (16 kHz mono) as a 16-bit WAV file, as an upload sends
// it.
func WAVBytes(pcm []int16) []byte { return wavBytes(pcm) }

// wavBytes is pcm as a 16 kHz mono 16-bit WAV file.
func wavBytes(pcm []int16) []byte {
	var b bytes.Buffer
	n := uint32(2 * len(pcm))
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, 36+n)
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(16000), uint32(32000), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, n)
	_ = binary.Write(&b, binary.LittleEndian, pcm)
	return b.Bytes()
}

// upload places the scenario as a recorded call on POST /v1/calls. The
// whole opening is there when the call starts, so the service's own
// state changes give the times from the end of the caller's audio.
func (p *servedProcess) upload(ctx context.Context, sc CallScenario, pcm []int16, desk []string) ServedOutcome {
	o := newOutcome(sc, ModeUpload)
	answers, err := uploadAnswers(sc)
	if err != nil {
		o.Error = err.Error()
		return o
	}
	q := url.Values{}
	if sc.Caller != "" {
		q.Set("caller", sc.Caller)
	}
	if sc.Region != "" {
		q.Set("region", sc.Region)
	}
	if len(answers) > 0 {
		q.Set("answers", strings.Join(answers, ","))
	}
	resp, err := p.request(ctx, http.MethodPost, "/v1/calls?"+q.Encode(), p.apiKey, "audio/wav", bytes.NewReader(wavBytes(pcm)))
	if err != nil {
		o.Error = fmt.Sprintf("POST /v1/calls: %v", err)
		return o
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		o.Error = fmt.Sprintf("POST /v1/calls: %s: %s", resp.Status, strings.TrimSpace(string(body)))
		return o
	}
	var res pipeline.Result
	if err := json.Unmarshal(body, &res); err != nil {
		o.Error = fmt.Sprintf("POST /v1/calls: reading the result: %v", err)
		return o
	}
	o.CallID = res.CallID
	at := map[pipeline.State]time.Duration{}
	for _, t := range res.Transitions {
		if _, seen := at[t.State]; !seen {
			at[t.State] = t.At
		}
	}
	listen := at[pipeline.StateListening]
	if u, ok := at[pipeline.StateUnderstanding]; ok {
		o.Times.ToTranscript = ms(u - listen)
		// The intent is known when understanding ends: verification or
		// the handoff starts.
		for _, next := range []pipeline.State{pipeline.StateVerifying, pipeline.StateHandingOff} {
			if t, ok := at[next]; ok {
				o.Times.ToIntent = ms(t - listen)
				break
			}
		}
	}
	if h, ok := at[pipeline.StateHandingOff]; ok {
		o.Times.ToHandoff = ms(h - listen)
	}
	b, seen, err := p.awaitBrief(ctx, desk, res.CallID, 30*time.Second)
	if err != nil {
		o.Error = err.Error()
		o.fill(res.Brief)
		return o
	}
	o.fill(b)
	o.Times.HandoffToBrief = ms(seen.Sub(b.CreatedAt))
	return o
}

// awaitBrief polls the desk for the call's brief every 20 ms, as each of
// the signed-in agents in turn (only the call's agents may read it); it
// returns the brief and when the desk first served it.
func (p *servedProcess) awaitBrief(ctx context.Context, tokens []string, callID string, limit time.Duration) (handoff.Brief, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		for _, token := range tokens {
			var b handoff.Brief
			code, err := p.getJSON(ctx, "/desk/api/calls/"+url.PathEscape(callID)+"/brief", token, &b)
			if err == nil && code == http.StatusOK {
				return b, time.Now(), nil
			}
			last = fmt.Sprintf("%d %v", code, err)
		}
		select {
		case <-ctx.Done():
			return handoff.Brief{}, time.Time{}, fmt.Errorf("%w: no brief of call %s on the desk within %s (last: %s)", ErrServed, callID, limit, last)
		case <-tick.C:
		}
	}
}

// liveMetrics are the service's own histograms of live calls, read from
// /metrics: sums and counts of the times from the endpoint of the
// caller's first turn.
type liveMetrics struct{ transcriptSum, intentSum, handoffSum, count float64 }

func (p *servedProcess) liveMetrics(ctx context.Context) (liveMetrics, error) {
	resp, err := p.request(ctx, http.MethodGet, "/metrics", "", "", nil)
	if err != nil {
		return liveMetrics{}, err
	}
	defer resp.Body.Close()
	var m liveMetrics
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(name, "live_speech_end_to_transcript_seconds_sum"):
			m.transcriptSum = v
		case strings.HasSuffix(name, "live_speech_end_to_intent_seconds_sum"):
			m.intentSum = v
		case strings.HasSuffix(name, "live_speech_end_to_handoff_seconds_sum"):
			m.handoffSum = v
		case strings.HasSuffix(name, "live_speech_end_to_intent_seconds_count"):
			m.count = v
		}
	}
	return m, sc.Err()
}

// live places the scenario as a live call: a Go WebRTC caller dials
// /v1/whip, waits for the greeting to end, says the opening in real time
// as Opus, then stays silent (the verification questions time out: WHIP
// presents no caller number and the caller keys nothing). The brief is
// read from the desk; the caller then hangs up.
func (p *servedProcess) live(ctx context.Context, sc CallScenario, pcm []int16, desk []string) ServedOutcome {
	o := newOutcome(sc, ModeLive)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	before, err := p.liveMetrics(ctx)
	if err != nil {
		o.Error = fmt.Sprintf("metrics: %v", err)
		return o
	}
	cl, err := webrtctest.New()
	if err != nil {
		o.Error = err.Error()
		return o
	}
	defer cl.Close()
	var hdr http.Header
	if p.apiKey != "" {
		hdr = http.Header{"Authorization": {"Bearer " + p.apiKey}}
	}
	if err := cl.Dial(ctx, p.base+"/v1/whip", hdr); err != nil {
		o.Error = err.Error()
		return o
	}
	o.CallID = cl.CallID()
	resource := cl.Resource()
	// The greeting: wait for it to start and end (half a second of
	// quiet), as a caller waits for the line to speak first.
	if err := awaitGreeting(ctx, cl); err != nil {
		o.Error = fmt.Sprintf("greeting: %v", err)
		return o
	}
	// Captions come as the service transcribes; the first final one is
	// the opening's transcript as the caller sees it.
	captioned := make(chan time.Time, 1)
	cctx, stopCaptions := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if at, err := p.firstCaption(cctx, resource); err == nil {
			captioned <- at
		}
	}()
	defer func() { stopCaptions(); wg.Wait() }()
	if err := cl.SendPCM(ctx, pcm, 20*time.Millisecond); err != nil {
		o.Error = fmt.Sprintf("speaking: %v", err)
		return o
	}
	endOfAudio := time.Now()
	// Silence from now on, in real time, until the call is over.
	sctx, stopSilence := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for sctx.Err() == nil {
			_ = cl.SendSilence(sctx, time.Second, 20*time.Millisecond)
		}
	}()
	defer stopSilence()
	b, seen, err := p.awaitBrief(ctx, desk, o.CallID, 150*time.Second)
	if err != nil {
		o.Error = err.Error()
		return o
	}
	o.fill(b)
	o.Times.HandoffToBrief = ms(seen.Sub(b.CreatedAt))
	select {
	case at := <-captioned:
		// Negative when the service ended the caller's turn at a pause
		// before the recording ended: the rest was not the opening.
		o.CaptionAfterAudio = ms(at.Sub(endOfAudio))
	default:
	}
	stopSilence()
	if err := cl.Hangup(ctx, p.base); err != nil {
		o.Error = fmt.Sprintf("hanging up: %v", err)
		return o
	}
	// The service records a live call's times, from the endpoint of the
	// caller's opening turn, when the call ends: this call's are the
	// growth of the sums (calls are placed one at a time).
	after, err := p.awaitLiveMetrics(ctx, before.count+1)
	if err != nil {
		o.Error = fmt.Sprintf("the call's times never reached /metrics: %v", err)
		return o
	}
	sec := func(v float64) *float64 { x := 1000 * v; return &x }
	o.Times.ToTranscript = sec(after.transcriptSum - before.transcriptSum)
	o.Times.ToIntent = sec(after.intentSum - before.intentSum)
	o.Times.ToHandoff = sec(after.handoffSum - before.handoffSum)
	return o
}

// awaitLiveMetrics polls /metrics until count live calls are recorded.
func (p *servedProcess) awaitLiveMetrics(ctx context.Context, count float64) (liveMetrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		m, err := p.liveMetrics(ctx)
		if err == nil && m.count >= count {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// firstCaption reads the call's captions (by its resource, ID.SECRET, as
// the caller's page does) until the first final one and
// returns when it arrived.
func (p *servedProcess) firstCaption(ctx context.Context, callID string) (time.Time, error) {
	resp, err := p.request(ctx, http.MethodGet, "/call/captions/"+url.PathEscape(callID), "", "", nil)
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		d, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		var c struct {
			Text  string `json:"text"`
			Final bool   `json:"final"`
		}
		if json.Unmarshal([]byte(strings.TrimSpace(d)), &c) == nil && c.Final && c.Text != "" {
			return time.Now(), nil
		}
	}
	return time.Time{}, fmt.Errorf("captions ended without a final one: %w", sc.Err())
}

// AwaitGreeting waits for the service's greeting on a live call to start
// and end, as a caller waits for the line to speak first (see
// awaitGreeting); the load tool's live callers use it.
func AwaitGreeting(ctx context.Context, cl *webrtctest.Client) error { return awaitGreeting(ctx, cl) }

// awaitGreeting reads the service's audio until speech-level sound has
// been followed by half a second without it. The service may send no
// packets at all while it says nothing, so the quiet is timed by the
// clock, not by the packets.
func awaitGreeting(ctx context.Context, cl *webrtctest.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var lastLoud time.Time
	rctx, stop := context.WithCancel(ctx)
	recv := make(chan error, 1)
	go func() {
		recv <- cl.Receive(rctx, func(pcm []int16) bool {
			if rms(pcm) >= 500 {
				mu.Lock()
				lastLoud = time.Now()
				mu.Unlock()
			}
			return true
		})
	}()
	defer func() { stop(); <-recv }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-recv:
			recv <- err // for the deferred wait
			if err == nil {
				err = fmt.Errorf("the service's audio ended")
			}
			return err
		case <-ctx.Done():
			return fmt.Errorf("no greeting followed by quiet: %w", ctx.Err())
		case <-tick.C:
		}
		mu.Lock()
		done := !lastLoud.IsZero() && time.Since(lastLoud) >= 500*time.Millisecond
		mu.Unlock()
		if done {
			return nil
		}
	}
}

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}

func ms(d time.Duration) *float64 {
	v := float64(d.Microseconds()) / 1000
	return &v
}

// LoadAverage is the machine's 1, 5 and 15 minute load averages, or nil
// where /proc/loadavg does not exist (reports note it beside timings).
func LoadAverage() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	f := strings.Fields(string(b))
	var out []float64
	for i := 0; i < 3 && i < len(f); i++ {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}

// languageRow is the report row of a language: zh (Mandarin and
// undetermined Chinese), yue or en.
func languageRow(l call.Language) string {
	switch l {
	case call.LangCantonese:
		return "yue"
	case call.LangEnglish:
		return "en"
	}
	if l.IsChinese() {
		return "zh"
	}
	return string(l)
}
