// Package httpx is the HTTP plumbing the reader's pages (package web) and
// the admin share: reading forms within a size limit, the security headers
// every page carries, parsing and rendering page templates (pages.go), and
// the one table from errors to HTTP statuses (errors.go). Each surface
// keeps its own words; the mechanics and the statuses live here once.
package httpx

import (
	"errors"
	"mime"
	"net/http"
)

// Errors of reading a form; each surface answers them 400 and 413.
var (
	ErrBadForm  = errors.New("malformed form")
	ErrTooLarge = errors.New("request body too large")
)

// ParseForm reads the request's form, URL-encoded or multipart (kept in
// memory up to maxMemory), into r.Form and r.PostForm. A body over the
// route's limit (LimitBody) is ErrTooLarge; anything unreadable is
// ErrBadForm.
func ParseForm(r *http.Request, maxMemory int64) error {
	var err error
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		err = r.ParseMultipartForm(maxMemory)
	} else {
		err = r.ParseForm()
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return ErrTooLarge
	case err != nil:
		return ErrBadForm
	}
	return nil
}

// LimitBody caps request bodies at n bytes; reading more fails with an
// *http.MaxBytesError, which ParseForm turns into ErrTooLarge.
func LimitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// SecurityHeaders sets the headers every page carries: no MIME sniffing,
// no framing, the referrer only to this site (a signup records the page
// it was on, and no link leaks a token elsewhere), and csp as the content
// security policy.
func SecurityHeaders(csp string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Content-Security-Policy", csp)
			next.ServeHTTP(w, r)
		})
	}
}
