package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler returns every route twostep serves.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(resolveClient(s.opts.TrustedProxies)) // ClientIP and IsHTTPS, once per request
	r.Use(middleware.Recoverer)
	r.Use(s.logRequests)
	r.Use(limitBody)
	r.Use(securityHeaders)

	r.Get("/", s.signupPage)
	r.With(s.signupLimit()).Post("/subscribe", s.subscribe)
	r.Get("/subscribed", s.checkInbox)
	r.Get("/confirm/{token}", s.confirmPage)
	r.Post("/confirm/{token}", s.confirm)
	r.Get("/unsubscribe/{token}", s.unsubscribePage)
	r.Post("/unsubscribe/{token}", s.unsubscribe)

	r.Route("/preferences/{token}", func(r chi.Router) {
		r.Get("/", s.prefsPage)
		r.Post("/schedule", s.prefsAction("schedule", s.setSchedule))
		r.Post("/pause", s.prefsAction("paused", s.pause))
		r.Post("/resume", s.prefsAction("resumed", s.resume))
		r.Post("/next", s.prefsAction("next", s.nextNow))
		r.Post("/back", s.prefsAction("back", s.goBack))
		r.Post("/name", s.prefsAction("name", s.setName))
		r.Post("/email", s.prefsAction("email", s.changeEmail))
		r.Post("/unsubscribe", s.prefsAction("unsubscribed", s.prefsUnsubscribe))
		r.Post("/resubscribe", s.prefsAction("resubscribed", s.resubscribe))
		r.Post("/erase", s.erase)
		r.Get("/data", s.myData)
		r.Get("/lessons", s.myLessons)
		r.Get("/lessons/{n}", s.lessonPage)
	})
	r.Get("/tried/{token}/{n}", s.triedPage)
	r.Post("/tried/{token}/{n}", s.tried)
	r.Get("/email/{token}", s.emailChangePage)
	r.Post("/email/{token}", s.emailChange)
	if s.opts.Admin != nil {
		r.Mount("/admin", s.opts.Admin)
	}
	if s.opts.Webhooks != nil {
		r.Post("/webhooks/{provider}", s.opts.Webhooks.ServeHTTP)
	}

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Handle("/metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))

	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, "error", page{Heading: "Page not found", Message: "There is nothing at this address."})
	})
	return r
}

// limitBody caps every request body at MaxBody; handlers answer 413 when a
// form is larger.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The admin sets its own limit on each route (a CSV upload is far
		// larger than any form), and so do the webhooks (webhook.MaxBody).
		if r.URL.Path != "/admin" && !strings.HasPrefix(r.URL.Path, "/admin/") && !strings.HasPrefix(r.URL.Path, "/webhooks/") {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		}
		next.ServeHTTP(w, r)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin: the signup form's POST carries the page it was on,
		// for the consent record, while no link ever leaks a token elsewhere.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		// Pages use only their own inline style and one inline script.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		s.log.Debug("request", "method", r.Method, "path", redactPath(r.URL.Path), "status", ww.Status(), "took", time.Since(start))
	})
}
