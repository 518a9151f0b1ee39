package webhook

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/drip"
)

// Parser verifies one provider's request and returns what it reports.
type Parser interface {
	Parse(ctx context.Context, r *http.Request, body []byte) (drip.ReportBatch, error)
}

// Recorder stores a batch and acts on it in one transaction: the events
// not seen before are returned, a ReplayKey seen before is drip.ErrReplay.
type Recorder interface {
	RecordReports(ctx context.Context, now time.Time, b drip.ReportBatch) (fresh []drip.Recorded, err error)
}

// Handler serves POST /webhooks/{provider} for the providers configured.
type Handler struct {
	parsers map[drip.Provider]Parser
	rec     Recorder
	log     *slog.Logger
	clock   clock.Clock

	bounces    *prometheus.CounterVec
	complaints *prometheus.CounterVec
}

// NewHandler serves the providers in parsers (a provider not in it is off:
// 404) and records through rec at the time of c, the wall clock (nil: time.Now). Metrics go to reg
// when it is not nil.
func NewHandler(parsers map[drip.Provider]Parser, rec Recorder, c clock.Clock, log *slog.Logger, reg prometheus.Registerer) *Handler {
	h := &Handler{parsers: parsers, rec: rec, log: log, clock: c,
		bounces: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "twostep_bounces_total",
			Help: "Bounces reported after the SMTP session (webhooks, bounce mailbox), counted once per event."}, []string{"provider", "type"}),
		complaints: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "twostep_complaints_total",
			Help: "Spam complaints reported by providers or feedback loops, counted once per event."}, []string{"provider"}),
	}
	if reg != nil {
		reg.MustRegister(h.bounces, h.complaints)
	}
	return h
}

// Count adds fresh events to the metrics; the bounce mailbox reader, which
// records without a request, calls it too.
func (h *Handler) Count(fresh []drip.Recorded) {
	for _, e := range fresh {
		if e.Kind == drip.ReportComplaint {
			h.complaints.WithLabelValues(string(e.Provider)).Inc()
		} else {
			h.bounces.WithLabelValues(string(e.Provider), string(e.Kind)).Inc()
		}
	}
}

// ServeHTTP verifies the request, stores and acts on its events, and only
// then answers 2xx, so a crash before the answer makes the provider retry
// and a crash after it loses nothing.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := drip.Provider(chi.URLParam(r, "provider"))
	parser := h.parsers[p]
	if parser == nil {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody(p)))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = ErrTooLarge
		}
		h.refuse(w, r, p, err)
		return
	}
	b, err := parser.Parse(r.Context(), r, body)
	if err != nil {
		h.refuse(w, r, p, err)
		return
	}
	fresh, err := h.rec.RecordReports(r.Context(), h.clock.Now(), b)
	if err != nil {
		h.refuse(w, r, p, err)
		return
	}
	h.Count(fresh)
	for _, f := range fresh {
		if f.Outcome == drip.OutcomeUnmatched {
			h.log.Warn("webhook report matched no reader", "provider", p, "event", f.ID, "kind", f.Kind, "message_id", f.MessageID)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// refuse answers a request that changed nothing, with one log line.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, p drip.Provider, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrSignature):
		status = http.StatusUnauthorized
	case errors.Is(err, ErrTopic), errors.Is(err, ErrCertURL):
		status = http.StatusForbidden
	case errors.Is(err, drip.ErrReplay):
		// 406 is the answer after which Mailgun stops retrying.
		status = http.StatusNotAcceptable
	case errors.Is(err, ErrStale), errors.Is(err, ErrMalformed):
		status = http.StatusBadRequest
	}
	if status == http.StatusInternalServerError {
		// Ours, or the certificate host's: the provider retries.
		h.log.Error("webhook failed", "provider", p, "remote", r.RemoteAddr, "err", err)
	} else {
		h.log.Warn("webhook refused", "provider", p, "status", status, "remote", r.RemoteAddr, "err", err)
	}
	http.Error(w, http.StatusText(status), status)
}
