package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// answer is how the reader's pages answer an error: its status, and the
// heading and message of the error page (or the JSON error).
type answer struct {
	err              error
	status           int
	heading, message string
}

const linkNotValid = "The link may be incomplete or no longer in use. Copy the whole link from the email, or sign up again on the front page."

// answers is the one table from the errors a reader can meet to what they
// see; the first entry the error matches (errors.Is) wins. The changes of
// the preferences page are answered on that page (prefsAction).
var answers = []answer{
	{token.ErrExpired, http.StatusGone, "This link has expired", "Confirmation links work for seven days. Sign up again on the front page and we will send a fresh one."},
	{token.ErrMalformed, http.StatusNotFound, "This link is not valid", linkNotValid},
	{token.ErrPurpose, http.StatusNotFound, "This link is not valid", linkNotValid},
	{drip.ErrNotFound, http.StatusNotFound, "This link is not valid", linkNotValid},
	{drip.ErrGone, http.StatusGone, "This address can't receive lessons", "Mail to this address was refused by its server, so we stopped sending."},
	{store.ErrTaken, http.StatusConflict, "That address is taken", "The new address already has its own subscription, so nothing was changed."},
	{httpx.ErrTooLarge, http.StatusRequestEntityTooLarge, "That didn't work", "The form was too large."},
	{httpx.ErrBadForm, http.StatusBadRequest, "That didn't work", "The form could not be read."},
}

// fail answers err as the table says. Any other error is ours: it is
// logged, and the reader sees a generic message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	a := answer{status: http.StatusInternalServerError, heading: "Something went wrong",
		message: "Something went wrong on our side. Please try again in a minute."}
	known := false
	for _, e := range answers {
		if errors.Is(err, e.err) {
			a, known = e, true
			break
		}
	}
	if !known {
		s.log.Error("request failed", "method", r.Method, "path", redactPath(r.URL.Path), "err", err)
	}
	if wantsJSON(r) {
		writeJSON(w, a.status, map[string]string{"error": a.message})
		return
	}
	s.render(w, r, a.status, "error", page{Heading: a.heading, Message: a.message, NoIndex: true})
}
