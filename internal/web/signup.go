package web

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/httprate"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
)

// signupForm is the signup form as submitted, for re-rendering on error.
type signupForm struct {
	Email   string
	Name    string
	TZ      string
	Weekday string // "" for the default, else 0 (Sunday) to 6
	Hour    string // "" for the default, else 0 to 23
}

// weekdays and hours are the choices the signup form offers, in the order
// a reader reads them.
var (
	weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}
	hours    = func() []int {
		h := make([]int, 24)
		for i := range h {
			h[i] = i
		}
		return h
	}()
)

// signupCookie carries the address just typed from the signup POST to the
// check-your-inbox page, so that page can show it without the address ever
// appearing in a URL (and so in logs, history and Referer headers).
const signupCookie = "twostep_signup"

// signupCookieAge is how long the check-your-inbox page remembers the address.
const signupCookieAge = 15 * time.Minute

// parseSlotChoice reads the form's optional day and hour: nil for each the
// reader left at its default.
func parseSlotChoice(f signupForm) (*time.Weekday, *int, error) {
	var wd *time.Weekday
	var hour *int
	if f.Weekday != "" {
		d, ok := drip.ParseWeekday(f.Weekday)
		if !ok {
			return nil, nil, httpx.Problem("Please choose a day from the list.")
		}
		wd = &d
	}
	if f.Hour != "" {
		n, ok := drip.ParseHour(f.Hour)
		if !ok {
			return nil, nil, httpx.Problem("Please choose an hour from the list.")
		}
		hour = &n
	}
	return wd, hour, nil
}

func (s *Server) consentText() string {
	return fmt.Sprintf("By subscribing you agree to receive %d weekly emails from %s. We keep your address, your name and when and where you signed up as the record of your consent, and never share them. Every email has a one-click unsubscribe link.",
		s.opts.Site.Lessons, s.opts.Site.Title)
}

// signupPage shows the form. Coming back from the check-your-inbox page
// ("wrong address?" or a did-you-mean), it is filled with the address
// typed, or with the suggested one when ?fix=1.
func (s *Server) signupPage(w http.ResponseWriter, r *http.Request) {
	p := s.signupData(signupForm{})
	if typed := typedEmail(r); typed != "" {
		p.Form.Email = typed
		if suggested := drip.SuggestEmail(typed); suggested != "" && r.URL.Query().Get("fix") == "1" {
			p.Form.Email = suggested
		}
	}
	s.render(w, r, http.StatusOK, "signup", p)
}

func (s *Server) signupData(form signupForm) page {
	if form.Hour == "" {
		form.Hour = strconv.Itoa(s.opts.Site.SendHour)
	}
	return page{Form: form, Consent: s.consentText(), Weekdays: weekdays, Hours: hours}
}

func (s *Server) checkInbox(w http.ResponseWriter, r *http.Request) {
	typed := typedEmail(r)
	s.render(w, r, http.StatusOK, "check_inbox", page{NoIndex: true, Email: typed, Suggest: drip.SuggestEmail(typed)})
}

// rememberEmail sets the short-lived cookie the check-your-inbox page reads.
func rememberEmail(w http.ResponseWriter, r *http.Request, email string) {
	http.SetCookie(w, &http.Cookie{
		Name: signupCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(email)),
		Path: "/", MaxAge: int(signupCookieAge / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: IsHTTPS(r),
	})
}

// typedEmail is the address rememberEmail kept, or "" when there is none
// or the cookie does not hold a valid address (a cookie is the visitor's
// to forge, so it is parsed like any input).
func typedEmail(r *http.Request) string {
	c, err := r.Cookie(signupCookie)
	if err != nil {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return ""
	}
	email, err := drip.ParseEmail(string(raw))
	if err != nil {
		return ""
	}
	return email
}

// subscribe handles the signup form. It answers the same whether or not
// the address was known, so the form reveals nothing about who subscribed.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) {
	if err := httpx.ParseForm(r, MaxBody); err != nil {
		s.fail(w, r, err)
		return
	}
	form := signupForm{Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), TZ: r.PostFormValue("tz"),
		Weekday: r.PostFormValue("weekday"), Hour: r.PostFormValue("hour")}
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
	weekday, hour, err := parseSlotChoice(form)
	if err != nil {
		s.invalidSignup(w, r, form, "slot", err)
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
		At:             s.opts.Clock.Now(),
		Weekday:        weekday,
		Hour:           hour,
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
	// Set whether or not the address was known: the page looks the same.
	rememberEmail(w, r, email)
	s.subscribed(w, r)
}

func (s *Server) subscribed(w http.ResponseWriter, r *http.Request) {
	if httpx.WantsJSON(r) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "check-inbox", "message": "Check your inbox for a confirmation link."})
		return
	}
	http.Redirect(w, r, "/subscribed", http.StatusSeeOther)
}

func (s *Server) invalidSignup(w http.ResponseWriter, r *http.Request, form signupForm, field string, err error) {
	s.metrics.signups.WithLabelValues("invalid").Inc()
	if httpx.WantsJSON(r) {
		httpx.WriteJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error(), "field": field})
		return
	}
	// Re-show what they typed, minus anything that could not be shown.
	form.Email = drip.Truncate(strings.ToValidUTF8(form.Email, ""), 254)
	form.Name = drip.Truncate(strings.ToValidUTF8(form.Name, ""), 100)
	form.TZ = drip.Truncate(strings.ToValidUTF8(form.TZ, ""), 64)
	if _, _, err := parseSlotChoice(form); err != nil {
		form.Weekday, form.Hour = "", "" // re-show only choices from the lists
	}
	p := s.signupData(form)
	p.Error = err.Error()
	s.render(w, r, http.StatusUnprocessableEntity, "signup", p)
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
			if httpx.WantsJSON(r) {
				httpx.WriteJSON(w, http.StatusTooManyRequests, map[string]string{"error": msg})
				return
			}
			s.render(w, r, http.StatusTooManyRequests, "error", page{Heading: "Please wait a minute", Message: msg})
		}))
}
