package send

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twostep/twostep/internal/drip"
)

// Metrics are the delivery engine's Prometheus series. A nil *Metrics
// records nothing, so tests and one-off commands need not register any.
type Metrics struct {
	backlog prometheus.Gauge
	// ended counts attempts by the ledger status they ended in.
	ended    map[drip.DeliveryStatus]prometheus.Counter
	latency  prometheus.Histogram
	duration prometheus.Histogram
}

// NewMetrics registers the engine's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "twostep_due_backlog", Help: "Active subscribers whose lesson was due at the start of the last pass.",
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
	m.ended = map[drip.DeliveryStatus]prometheus.Counter{}
	reg.MustRegister(m.backlog, m.latency, m.duration)
	for st, opts := range endedSeries {
		m.ended[st] = prometheus.NewCounter(opts)
		reg.MustRegister(m.ended[st])
	}
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

// endedSeries is the counter of each ledger status an attempt can end in.
var endedSeries = map[drip.DeliveryStatus]prometheus.CounterOpts{
	drip.DeliverySent:     {Name: "twostep_lessons_sent_total", Help: "Lessons the SMTP server accepted."},
	drip.DeliveryRetrying: {Name: "twostep_lessons_retried_total", Help: "Lesson attempts that failed temporarily and will be retried."},
	drip.DeliveryBounced:  {Name: "twostep_lessons_bounced_total", Help: "Lessons refused for a dead address; the subscriber is bounced."},
	drip.DeliveryFailed:   {Name: "twostep_lessons_failed_total", Help: "Lessons given up after retries or a permanent refusal."},
}

// end counts an attempt that ended as st.
func (m *Metrics) end(st drip.DeliveryStatus) {
	if m != nil {
		m.ended[st].Inc()
	}
}
