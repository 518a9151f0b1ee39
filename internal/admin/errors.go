package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
)

// internalError is what the admin reads when the fault is ours.
const internalError = httpx.InternalMessage

// words puts an error into the admin's words, by its key in the one table
// of statuses (httpx.Classify); the admin's pages say nothing else about
// errors. It reports false for an error that is ours.
func (h *handler) words(err error) (httpx.Answer, string, bool) {
	a := httpx.Classify(err)
	switch a.Key {
	case httpx.KeyInternal:
		return a, internalError, false
	case httpx.KeyNotFound, httpx.KeyGone:
		return a, "That no longer exists. It may have been erased.", true
	case httpx.KeyRefused, httpx.KeyNoSuchLesson:
		var r *drip.Refused
		if errors.As(err, &r) {
			return a, refusalText(r, h.d.Library.Base.LessonCount), true
		}
		return a, chooseLesson(h.d.Library.Base.LessonCount), true
	case httpx.KeyNotApplicable, httpx.KeyProblem:
		return a, err.Error(), true
	case httpx.KeyStale:
		return a, "The lesson was changed by someone else since you opened it.", true
	case httpx.KeyBadForm:
		return a, "The form could not be read.", true
	case httpx.KeyTooLarge:
		return a, "That was too large to accept.", true
	}
	return a, "That is not possible.", true
}

// fail answers err on the error page, with its status and words; an error
// that is ours is logged and shown as a generic message.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	a, msg, known := h.words(err)
	if !known {
		h.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	h.render(w, r, a.Status, "error", page{Title: http.StatusText(a.Status), Data: errorData{Message: msg}})
}

// explain is the status and words of an action that did not apply (a
// refusal, or input that does not fit), for showing on the page the
// action was asked on. It reports false for any other error, which goes
// to fail.
func (h *handler) explain(err error) (int, string, bool) {
	a, msg, _ := h.words(err)
	switch a.Key {
	case httpx.KeyRefused, httpx.KeyNoSuchLesson, httpx.KeyNotApplicable, httpx.KeyProblem:
		return a.Status, msg, true
	}
	return 0, "", false
}

// chooseLesson is what the admin reads when a lesson number is not one of
// the course's lessons.
func chooseLesson(lessons int) string { return fmt.Sprintf("Choose a lesson from 1 to %d.", lessons) }

// refusalText is what the admin reads when the state machine refuses.
func refusalText(r *drip.Refused, lessons int) string {
	this := "; this one is " + string(r.Status) + "."
	switch {
	case errors.Is(r, drip.ErrNoSuchLesson):
		return chooseLesson(lessons)
	case r.Action == drip.ActPause:
		return "Only an active subscriber can be paused" + this
	case r.Action == drip.ActResume:
		return "Only a paused subscriber can be resumed" + this
	case r.Action == drip.ActMove:
		return "Only an active, paused or completed subscriber can be moved" + this
	case r.Action == drip.ActUnsubscribe:
		return "This subscriber has already unsubscribed."
	}
	return "That is not possible for this subscriber" + this
}
