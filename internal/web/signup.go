package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/httprate"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
)

// signupForm is the signup form as submitted, for re-rendering on error.
type signupForm struct {
	Email string
	Name  string
	TZ    string
}

func (s *Server) consentText() string {
	return fmt.Sprintf("By subscribing you agree to receive %d weekly emails from %s. We keep your address, your name and when and where you signed up as the record of your consent, and never share them. Every email has a one-click unsubscribe link.",
		s.opts.Site.Lessons, s.opts.Site.Title)
}

func (s *Server) signupPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "signup", page{Consent: s.consentText()})
}

func (s *Server) checkInbox(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "check_inbox", page{NoIndex: true})
}

// subscribe handles the signup form. It answers the same whether or not
// the address was known, so the form reveals nothing about who subscribed.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) {
	if err := httpx.ParseForm(r, MaxBody); err != nil {
		s.formError(w, r, err)
		return
	}
	form := signupForm{Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), TZ: r.PostFormValue("tz")}
	// Bots fill every field; people never see this one.
	if r.PostFormValue("website") != "" {
		s.metrics.signups.WithLabelValues("honeypot").Inc()
		s.subscribed(w, r)
		return
	}
	email, err := drip.ParseEmail(form.Email)
	if err != nil {
		s.invalidSignup(w, r, form, "email", err)
		return
	}
	name, err := drip.CleanName(form.Name)
	if err != nil {
		s.invalidSignup(w, r, form, "name", err)
		return
	}
	loc, _ := drip.LoadLocation(form.TZ) // unknown zones become UTC
	queued, err := s.db.Signup(r.Context(), drip.Signup{
		Email:          email,
		Name:           name,
		TimeZone:       loc.String(),
		IP:             ClientIP(r),
		UserAgent:      drip.Truncate(r.UserAgent(), 500),
		FormURL:        drip.Truncate(r.Referer(), 500),
		ConsentVersion: ConsentVersion,
		At:             s.opts.Now(),
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if queued {
		s.metrics.signups.WithLabelValues("queued").Inc()
		if s.opts.Nudge != nil {
			s.opts.Nudge()
		}
	} else {
		s.metrics.signups.WithLabelValues("known").Inc()
	}
	s.subscribed(w, r)
}

func (s *Server) subscribed(w http.ResponseWriter, r *http.Request) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "check-inbox", "message": "Check your inbox for a confirmation link."})
		return
	}
	http.Redirect(w, r, "/subscribed", http.StatusSeeOther)
}

func (s *Server) invalidSignup(w http.ResponseWriter, r *http.Request, form signupForm, field string, err error) {
	s.metrics.signups.WithLabelValues("invalid").Inc()
	if wantsJSON(r) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error(), "field": field})
		return
	}
	// Re-show what they typed, minus anything that could not be shown.
	form.Email = drip.Truncate(strings.ToValidUTF8(form.Email, ""), 254)
	form.Name = drip.Truncate(strings.ToValidUTF8(form.Name, ""), 100)
	s.render(w, r, http.StatusUnprocessableEntity, "signup", page{Form: form, Error: err.Error(), Consent: s.consentText()})
}

func (s *Server) formError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusBadRequest, "The form could not be read."
	if errors.Is(err, httpx.ErrTooLarge) {
		status, msg = http.StatusRequestEntityTooLarge, "The form was too large."
	}
	if wantsJSON(r) {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	s.render(w, r, status, "error", page{Heading: "That didn't work", Message: msg})
}

// signupLimit allows SignupRateLimit signups per client IP per minute.
func (s *Server) signupLimit() func(http.Handler) http.Handler {
	if s.opts.SignupRateLimit <= 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	return httprate.LimitBy(s.opts.SignupRateLimit, time.Minute,
		func(r *http.Request) (string, error) { return ClientIP(r), nil },
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			s.metrics.signups.WithLabelValues("rate_limited").Inc()
			msg := "Too many signups from your network. Please wait a minute and try again."
			if wantsJSON(r) {
				writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": msg})
				return
			}
			s.render(w, r, http.StatusTooManyRequests, "error", page{Heading: "Please wait a minute", Message: msg})
		}))
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
