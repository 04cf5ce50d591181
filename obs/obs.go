// Package obs observes every stage the same way: a count of calls, a count
// of errors and a latency histogram, labelled by stage and engine, exported
// on /metrics in the Prometheus format.
package obs

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the registry and the stage collectors.
type Metrics struct {
	Registry *prometheus.Registry
	calls    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// ActiveCalls is the number of calls in progress.
	ActiveCalls prometheus.Gauge
	// DroppedFrames counts live frames dropped by bounded queues.
	DroppedFrames prometheus.Counter
	live          liveMetrics
}

// liveMetrics are recorded once per live call, when it ends.
type liveMetrics struct {
	toTranscript, toIntent, toHandoff prometheus.Histogram
	jitter                            prometheus.Histogram
	framesDropped                     prometheus.Histogram
	ended                             *prometheus.CounterVec
	hold                              prometheus.Histogram
	bridged                           *prometheus.CounterVec
}

// LiveCall is what one live call measured. A zero duration means the
// call did not get that far; it is not recorded.
type LiveCall struct {
	// Outcome: "handed_over", "abandoned" (the caller hung up first),
	// "cut" (the node hung up at its drain deadline) or "failed".
	Outcome string
	// From the end of the caller's first turn (the endpoint) to its final
	// transcript, to the intent, and to the brief being on the desk.
	ToTranscript, ToIntent, ToHandoff time.Duration
	FramesDropped                     uint64
	Jitter                            time.Duration // RFC 3550 interarrival jitter at the end
	// After the handoff: whether an agent's audio was bridged, how long
	// the caller held for it and talked, the bridge mode (forward or
	// transcode) and who ended the call (caller, agent, timeout,
	// shutdown).
	Bridged      bool
	Hold, Talked time.Duration
	BridgeMode   string
	Ended        string
}

// New makes a registry with Go and process collectors and the stage metrics.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "callbrief", Name: "stage_operations_total", Help: "Operations run by each stage."}, []string{"stage", "engine"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "callbrief", Name: "stage_errors_total", Help: "Operations of each stage that failed."}, []string{"stage", "engine"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "callbrief", Name: "stage_latency_seconds", Help: "Latency of each stage's operations.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"stage", "engine"}),
		ActiveCalls: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "callbrief", Name: "active_calls", Help: "Calls in progress."}),
		DroppedFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "callbrief", Name: "dropped_frames_total", Help: "Live audio frames dropped because a stage fell behind."}),
	}
	speechBuckets := []float64{.05, .1, .25, .5, .75, 1, 1.5, 2, 3, 5, 10, 20}
	m.live = liveMetrics{
		toTranscript: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "callbrief", Subsystem: "live",
			Name: "speech_end_to_transcript_seconds", Help: "Live calls: end of the caller's first turn to its final transcript.", Buckets: speechBuckets}),
		toIntent: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "callbrief", Subsystem: "live",
			Name: "speech_end_to_intent_seconds", Help: "Live calls: end of the caller's first turn to the intent.", Buckets: speechBuckets}),
		toHandoff: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "callbrief", Subsystem: "live",
			Name: "speech_end_to_handoff_seconds", Help: "Live calls: end of the caller's first turn to the brief on the desk (verification included).",
			Buckets: []float64{.25, .5, 1, 2, 5, 10, 20, 30, 60, 120}}),
		jitter: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "callbrief", Subsystem: "live",
			Name: "jitter_seconds", Help: "Live calls: interarrival jitter of the caller's audio when the call ended.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .04, .08, .16}}),
		framesDropped: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "callbrief", Subsystem: "live",
			Name: "frames_dropped", Help: "Live calls: audio frames dropped per call because a stage fell behind.",
			Buckets: []float64{0, 1, 5, 25, 100, 500}}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "callbrief", Subsystem: "live",
			Name: "calls_total", Help: "Live calls ended, by outcome."}, []string{"outcome"}),
		hold: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "callbrief", Subsystem: "live",
			Name: "hold_seconds", Help: "Live calls: from the brief on the desk to the agent's audio bridged.",
			Buckets: []float64{1, 5, 10, 20, 30, 60, 120, 300, 600}}),
		bridged: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "callbrief", Subsystem: "live",
			Name: "after_handoff_total", Help: "Live calls after their handoff, by whether the agent was bridged, the bridge mode, and who ended the call."},
			[]string{"bridged", "mode", "ended_by"}),
	}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.calls, m.errors, m.latency, m.ActiveCalls, m.DroppedFrames,
		m.live.toTranscript, m.live.toIntent, m.live.toHandoff, m.live.jitter, m.live.framesDropped, m.live.ended, m.live.hold, m.live.bridged)
	return m
}

// ObserveLiveCall records the measures of one live call when it ends.
func (m *Metrics) ObserveLiveCall(c LiveCall) {
	if m == nil {
		return
	}
	m.live.ended.WithLabelValues(c.Outcome).Inc()
	for _, o := range []struct {
		h prometheus.Histogram
		d time.Duration
	}{{m.live.toTranscript, c.ToTranscript}, {m.live.toIntent, c.ToIntent}, {m.live.toHandoff, c.ToHandoff}} {
		if o.d > 0 {
			o.h.Observe(o.d.Seconds())
		}
	}
	if c.Ended != "" {
		m.live.bridged.WithLabelValues(fmt.Sprint(c.Bridged), c.BridgeMode, c.Ended).Inc()
		if c.Bridged {
			m.live.hold.Observe(c.Hold.Seconds())
		}
	}
	m.live.jitter.Observe(c.Jitter.Seconds())
	m.live.framesDropped.Observe(float64(c.FramesDropped))
	m.DroppedFrames.Add(float64(c.FramesDropped))
}

// Observe records one operation of stage on engine.
func (m *Metrics) Observe(stage, engine string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(stage, engine).Inc()
	if err != nil {
		m.errors.WithLabelValues(stage, engine).Inc()
	}
	m.latency.WithLabelValues(stage, engine).Observe(d.Seconds())
}
