package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
)

// words is a heading and a message of the error page (or the JSON error).
type words struct{ heading, message string }

const linkNotValid = "The link may be incomplete or no longer in use. Copy the whole link from the email, or sign up again on the front page."

// errorWords are the reader's words for each kind of error; the status
// comes from the one table (httpx.Classify). The changes of the
// preferences page are answered on that page (prefsProblem).
var errorWords = map[httpx.Key]words{
	httpx.KeyExpired:  {"This link has expired", "Confirmation links work for seven days. Sign up again on the front page and we will send a fresh one."},
	httpx.KeyBadLink:  {"This link is not valid", linkNotValid},
	httpx.KeyNotFound: {"This link is not valid", linkNotValid},
	httpx.KeyGone:     {"This address can't receive lessons", "Mail to this address was refused by its server, so we stopped sending."},
	httpx.KeyTaken:    {"That address is taken", "The new address already has its own subscription, so nothing was changed."},
	httpx.KeyTooLarge: {"That didn't work", "The form was too large."},
	httpx.KeyBadForm:  {"That didn't work", "The form could not be read."},
}

// fail answers err with its status (httpx's table) and the reader's words
// for it; a kind the reader's pages have no words for gets general ones,
// with its status. An error of ours is logged, and the reader sees a
// generic message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	a := httpx.Classify(err)
	wd, known := errorWords[a.Key]
	switch {
	case a.Key == httpx.KeyInternal:
		wd = words{"Something went wrong", httpx.InternalMessage}
		s.log.Error("request failed", "method", r.Method, "path", redactPath(r.URL.Path), "err", err)
	case !known:
		wd = words{"That didn't work", "That can't be done right now."}
	}
	if httpx.WantsJSON(r) {
		httpx.WriteJSON(w, a.Status, map[string]string{"error": wd.message})
		return
	}
	s.render(w, r, a.Status, "error", page{Heading: wd.heading, Message: wd.message, NoIndex: true})
}

// prefsProblem is what the preferences page says when the change done
// (its ?done= key) did not apply, with the status to answer; false for an
// error that goes to the error page instead.
func prefsProblem(err error, done string, sub *drip.Subscriber) (int, string, bool) {
	a := httpx.Classify(err)
	switch a.Key {
	case httpx.KeyProblem:
		return a.Status, err.Error(), true
	case httpx.KeyTooSoon:
		if done == "email" {
			return a.Status, "You asked to change your address less than an hour ago. Please try again later.", true
		}
		return a.Status, "You asked for a lesson early less than a day ago. Try again tomorrow.", true
	case httpx.KeyRefused:
		if errors.Is(err, drip.ErrNotReceived) {
			return a.Status, "You can only go back to a lesson you have already received.", true
		}
		return a.Status, "That isn't possible right now: " + statusText(sub.Status) + ".", true
	}
	return 0, "", false
}
