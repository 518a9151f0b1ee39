package web

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/link"
	"github.com/twostep/twostep/internal/token"
)

// Handler returns every route twostep serves.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(resolveClient(s.opts.TrustedProxies)) // ClientIP and IsHTTPS, once per request
	r.Use(middleware.Recoverer)
	r.Use(s.logRequests)
	r.Use(httpx.SecurityHeaders(publicCSP))
	if s.opts.Admin != nil {
		// The admin sets its own body limit on each route (a CSV upload is
		// far larger than any form) and its own headers.
		r.Mount("/admin", s.opts.Admin)
	}
	if s.opts.Webhooks != nil {
		// Each provider's body limit is the webhook package's own.
		r.Post("/webhooks/{provider}", s.opts.Webhooks.ServeHTTP)
	}
	r.Group(func(r chi.Router) { s.public(r) })

	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, "error", page{Heading: "Page not found", Message: "There is nothing at this address."})
	})
	return r
}

// publicCSP is the public pages' content security policy: they use only
// their own inline style and one inline script.
const publicCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// public lists the reader's routes, every body capped at MaxBody.
func (s *Server) public(r chi.Router) {
	r.Use(httpx.LimitBody(MaxBody))

	r.Get("/", s.signupPage)
	r.With(s.signupLimit()).Post("/subscribe", s.subscribe)
	r.Get("/subscribed", s.checkInbox)
	// The signed pages, at the paths every email links to (package link).
	r.Get(link.Route(token.Confirm), s.confirmPage)
	r.Post(link.Route(token.Confirm), s.confirm)
	r.Get(link.Route(token.Unsubscribe), s.unsubscribePage)
	r.Post(link.Route(token.Unsubscribe), s.unsubscribe)

	r.Route(link.Route(token.Preferences), func(r chi.Router) {
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
		r.Get(link.Lessons, s.myLessons)
		r.Get(link.Lessons+"/{n}", s.lessonPage)
	})
	r.Get("/erased", s.erased)
	r.Get(link.Route(token.Tried)+"/{n}", s.triedPage)
	r.Post(link.Route(token.Tried)+"/{n}", s.tried)
	r.Get(link.Route(token.EmailChange), s.emailChangePage)
	r.Post(link.Route(token.EmailChange), s.emailChange)

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Handle("/metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		s.log.Debug("request", "method", r.Method, "path", redactPath(r.URL.Path), "status", ww.Status(), "took", time.Since(start))
	})
}
