package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// triedPage is where the "I tried it" link in a lesson lands. The GET
// records nothing (scanners follow links); its button does.
func (s *Server) triedPage(w http.ResponseWriter, r *http.Request) {
	sub, lesson, ok := s.triedTarget(w, r)
	if !ok {
		return
	}
	p := prefs{Sub: sub, Lesson: lesson, Action: r.URL.Path}
	s.render(w, r, http.StatusOK, "tried", page{NoIndex: true, Prefs: p})
}

func (s *Server) tried(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		s.formError(w, r, err)
		return
	}
	sub, lesson, ok := s.triedTarget(w, r)
	if !ok {
		return
	}
	n := lesson.N
	if err := s.db.Tried(r.Context(), sub.ID, sub.TokenGen, n); err != nil {
		if errors.Is(err, drip.ErrNotReceived) {
			err = drip.ErrNotFound
		}
		s.fail(w, r, err)
		return
	}
	p := prefs{Sub: sub, Lesson: lesson, Question: s.opts.Lessons.Reflection(r.Context(), n)}
	s.render(w, r, http.StatusOK, "tried_done", page{NoIndex: true, Prefs: p})
}

// triedTarget is the reader and the lesson an "I tried it" link names.
func (s *Server) triedTarget(w http.ResponseWriter, r *http.Request) (*drip.Subscriber, receivedLesson, bool) {
	sub, err := s.tokenSubscriber(r, token.Tried)
	if err != nil {
		s.fail(w, r, err)
		return nil, receivedLesson{}, false
	}
	n, err := strconv.Atoi(chi.URLParam(r, "n"))
	title := ""
	if err == nil {
		title = s.opts.Lessons.Title(r.Context(), n)
	}
	if title == "" {
		s.fail(w, r, drip.ErrNotFound)
		return nil, receivedLesson{}, false
	}
	return sub, receivedLesson{N: n, Title: title}, true
}

// emailChangePage asks the reader to confirm their new address.
func (s *Server) emailChangePage(w http.ResponseWriter, r *http.Request) {
	sub, err := s.emailChangeSubscriber(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "confirm_email", page{NoIndex: true, Email: *sub.PendingEmail, Action: r.URL.Path})
}

func (s *Server) emailChange(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		s.formError(w, r, err)
		return
	}
	sub, err := s.emailChangeSubscriber(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sub, err = s.db.ConfirmEmailChange(r.Context(), sub.ID, sub.TokenGen)
	if errors.Is(err, store.ErrTaken) {
		s.render(w, r, http.StatusConflict, "error", page{NoIndex: true, Heading: "That address is taken",
			Message: "The new address already has its own subscription, so nothing was changed."})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.opts.Nudge != nil {
		s.opts.Nudge() // the note to the old address
	}
	link := s.signer.Sign(token.Claims{Purpose: token.Preferences, Subscriber: sub.ID, Gen: sub.TokenGen})
	http.Redirect(w, r, "/preferences/"+link+"?done=email_changed", http.StatusSeeOther)
}

// emailChangeSubscriber checks an address-change link: it must be for the
// latest request, whose time its expiry encodes, so the link mailed for an
// earlier request cannot confirm a later address.
func (s *Server) emailChangeSubscriber(r *http.Request) (*drip.Subscriber, error) {
	c, err := s.signer.Verify(chiToken(r), token.EmailChange, s.opts.Now())
	if err != nil {
		return nil, err
	}
	sub, err := s.db.Subscriber(r.Context(), c.Subscriber, c.Gen)
	if err != nil {
		return nil, err
	}
	if sub.PendingEmail == nil || sub.PendingEmailAt == nil || !c.Expires.Equal(sub.PendingEmailAt.Add(token.ConfirmTTL)) {
		return nil, drip.ErrNotFound
	}
	return sub, nil
}
