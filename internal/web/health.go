package web

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// healthz says the process is up; it touches nothing else.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz says whether the database answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.db.Ping(ctx); err != nil {
		s.log.Warn("readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("database unreachable\n"))
		return
	}
	w.Write([]byte("ok\n"))
}

func chiToken(r *http.Request) string { return chi.URLParam(r, "token") }

type metrics struct {
	signups       *prometheus.CounterVec
	confirmations prometheus.Counter
	unsubscribes  prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		signups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twostep_signups_total",
			Help: "Signup form posts by result: queued, known, invalid, honeypot, rate_limited.",
		}, []string{"result"}),
		confirmations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "twostep_confirmations_total", Help: "Subscriptions confirmed.",
		}),
		unsubscribes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "twostep_unsubscribes_total", Help: "Unsubscribes through links and one-click POSTs.",
		}),
	}
	reg.MustRegister(m.signups, m.confirmations, m.unsubscribes)
	return m
}
