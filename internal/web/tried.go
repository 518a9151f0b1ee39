package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
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
	if err := httpx.ParseForm(r, MaxBody); err != nil {
		s.formError(w, r, err)
		return
	}
	sub, lesson, ok := s.triedTarget(w, r)
	if !ok {
		return
	}
	n := lesson.N
	if err := s.db.Tried(r.Context(), sub.ID, sub.TokenGen, n, s.opts.Now()); err != nil {
		if errors.Is(err, drip.ErrNotReceived) {
			err = drip.ErrNotFound
		}
		s.fail(w, r, err)
		return
	}
	q, err := s.opts.Lessons.Reflection(r.Context(), n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := prefs{Sub: sub, Lesson: lesson, Question: q}
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
		if title, err = s.opts.Lessons.Title(r.Context(), n); err != nil {
			s.fail(w, r, err)
			return nil, receivedLesson{}, false
		}
	}
	if title == "" {
		s.fail(w, r, drip.ErrNotFound)
		return nil, receivedLesson{}, false
	}
	return sub, receivedLesson{N: n, Title: title}, true
}
