package send

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the delivery engine's Prometheus series. A nil *Metrics
// records nothing, so tests and one-off commands need not register any.
type Metrics struct {
	backlog  prometheus.Gauge
	sent     prometheus.Counter
	retried  prometheus.Counter
	bounced  prometheus.Counter
	failed   prometheus.Counter
	latency  prometheus.Histogram
	duration prometheus.Histogram
}

// NewMetrics registers the engine's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "twostep_due_backlog", Help: "Active subscribers whose lesson was due at the start of the last pass.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "twostep_lessons_sent_total", Help: "Lessons the SMTP server accepted.",
		}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "twostep_lessons_retried_total", Help: "Lesson attempts that failed temporarily and will be retried.",
		}),
		bounced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "twostep_lessons_bounced_total", Help: "Lessons refused for a dead address; the subscriber is bounced.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "twostep_lessons_failed_total", Help: "Lessons given up after retries or a permanent refusal.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "twostep_send_seconds", Help: "Time of one SMTP transaction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "twostep_pass_seconds", Help: "Duration of a delivery pass.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 12),
		}),
	}
	reg.MustRegister(m.backlog, m.sent, m.retried, m.bounced, m.failed, m.latency, m.duration)
	return m
}

func (m *Metrics) setBacklog(n int) {
	if m != nil {
		m.backlog.Set(float64(n))
	}
}

func (m *Metrics) observeSend(d time.Duration) {
	if m != nil {
		m.latency.Observe(d.Seconds())
	}
}

func (m *Metrics) observePass(s Summary) {
	if m != nil {
		m.duration.Observe(s.Took.Seconds())
	}
}

// outcome names a counter for inc.
type outcome int

const (
	outSent outcome = iota
	outRetried
	outBounced
	outFailed
)

func (m *Metrics) inc(o outcome) {
	if m == nil {
		return
	}
	[]prometheus.Counter{m.sent, m.retried, m.bounced, m.failed}[o].Inc()
}
