package httpx

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// Key names what went wrong, so that each surface can put it in its own
// words (the reader's pages in web/errors.go, the admin's in
// admin/errors.go) while the status is decided here, once.
type Key string

// The keys Classify gives.
const (
	KeyInternal      Key = "internal"       // ours: logged, and a generic message shown
	KeyExpired       Key = "expired"        // a link past its lifetime
	KeyBadLink       Key = "bad_link"       // a token that is malformed, forged or for another page
	KeyNotFound      Key = "not_found"      // no such subscriber, lesson, delivery…
	KeyGone          Key = "gone"           // it existed, but can no longer act (bounced, erased)
	KeyTaken         Key = "taken"          // the address belongs to another subscription
	KeyStale         Key = "stale"          // someone else saved the lesson since it was opened
	KeyTooSoon       Key = "too_soon"       // asked again before the rule's interval
	KeyNoSuchLesson  Key = "no_such_lesson" // a lesson number outside the course
	KeyNotPermitted  Key = "not_permitted"  // this actor may never ask for this
	KeyRefused       Key = "refused"        // the state machine refused the change in the current state
	KeyNotApplicable Key = "not_applicable" // another action that does not fit what it acts on now
	KeyProblem       Key = "problem"        // a mistake in the form, in words for the person (Problem)
	KeyTooLarge      Key = "too_large"      // a body over the route's limit
	KeyBadForm       Key = "bad_form"       // a body that is not a form
)

// Answer is how an error is answered: its HTTP status and its key.
type Answer struct {
	Status int
	Key    Key
}

// Problem is a mistake in what someone typed or chose, already in words
// for them; it is answered 422 and shown on the form's page.
type Problem string

func (p Problem) Error() string { return string(p) }

// answers is the one table from the errors of the domain, the store and
// form reading to statuses; the first row the error matches wins, so the
// specific reasons of a refusal come before the refusal itself.
//
// A refusal (drip.Refused, store.NotApplicableError) is 409 Conflict on
// every surface: the request is well formed and allowed, but does not fit
// the current state of what it acts on (pausing a reader who left,
// retrying a delivery already sent), and the same request may succeed
// once that state changes. 422 is kept for input that is wrong whatever
// the state (a Problem, a lesson number outside the course).
var answers = []struct {
	match func(error) bool
	Answer
}{
	{is(token.ErrExpired), Answer{http.StatusGone, KeyExpired}},
	{is(token.ErrMalformed), Answer{http.StatusNotFound, KeyBadLink}},
	{is(token.ErrPurpose), Answer{http.StatusNotFound, KeyBadLink}},
	{is(drip.ErrNotFound), Answer{http.StatusNotFound, KeyNotFound}},
	{is(drip.ErrGone), Answer{http.StatusGone, KeyGone}},
	{is(store.ErrTaken), Answer{http.StatusConflict, KeyTaken}},
	{is(store.ErrRevisionConflict), Answer{http.StatusConflict, KeyStale}},
	{is(drip.ErrTooSoon), Answer{http.StatusTooManyRequests, KeyTooSoon}},
	{is(drip.ErrNoSuchLesson), Answer{http.StatusUnprocessableEntity, KeyNoSuchLesson}},
	{is(drip.ErrNotPermitted), Answer{http.StatusForbidden, KeyNotPermitted}},
	{as[*drip.Refused], Answer{http.StatusConflict, KeyRefused}},
	{is(drip.ErrNotNow), Answer{http.StatusConflict, KeyRefused}},
	{is(drip.ErrNotReceived), Answer{http.StatusConflict, KeyRefused}},
	{as[store.NotApplicableError], Answer{http.StatusConflict, KeyNotApplicable}},
	{as[Problem], Answer{http.StatusUnprocessableEntity, KeyProblem}},
	{is(ErrTooLarge), Answer{http.StatusRequestEntityTooLarge, KeyTooLarge}},
	{is(ErrBadForm), Answer{http.StatusBadRequest, KeyBadForm}},
}

// Classify is how err is answered. An error outside the table is ours:
// 500, KeyInternal, and the caller logs it.
func Classify(err error) Answer {
	for _, a := range answers {
		if a.match(err) {
			return a.Answer
		}
	}
	return Answer{http.StatusInternalServerError, KeyInternal}
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func as[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}
