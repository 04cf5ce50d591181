// Package obs observes every stage the same way: a count of calls, a count
// of errors and a latency histogram, labelled by stage and engine, exported
// on /metrics in the Prometheus format.
package obs

import (
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
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.calls, m.errors, m.latency, m.ActiveCalls, m.DroppedFrames)
	return m
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
