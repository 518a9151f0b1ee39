package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/link"
	"github.com/twostep/twostep/internal/token"
)

// triedPage is where the "I tried it" link in a lesson lands. The GET
// records nothing (scanners follow links); its button does.
func (s *Server) triedPage(w http.ResponseWriter, r *http.Request) {
	sub, lesson, ok := s.triedTarget(w, r)
	if !ok {
		return
	}
	if r.URL.Query().Get("done") == "1" {
		s.renderTried(w, r, sub, lesson)
		return
	}
	p := prefs{Sub: sub, Lesson: lesson, Action: r.URL.Path}
	s.render(w, r, http.StatusOK, "tried", page{NoIndex: true, Prefs: p})
}

func (s *Server) tried(w http.ResponseWriter, r *http.Request) {
	if err := httpx.ParseForm(r, MaxBody); err != nil {
		s.fail(w, r, err)
		return
	}
	sub, lesson, ok := s.triedTarget(w, r)
	if !ok {
		return
	}
	n := lesson.N
	if err := s.db.Tried(r.Context(), sub.ID, sub.TokenGen, n, s.opts.Clock.Now()); err != nil {
		if errors.Is(err, drip.ErrNotReceived) {
			err = drip.ErrNotFound
		}
		s.fail(w, r, err)
		return
	}
	// POST-redirect-GET: a reload shows the thank-you page again and
	// records nothing twice.
	http.Redirect(w, r, r.URL.Path+"?done=1", http.StatusSeeOther)
}

// renderTried is the thank-you page, with the lesson's question and the
// way back to the reader's lessons.
func (s *Server) renderTried(w http.ResponseWriter, r *http.Request, sub *drip.Subscriber, lesson receivedLesson) {
	q, err := s.opts.Lessons.Reflection(r.Context(), lesson.N)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := prefs{Sub: sub, Lesson: lesson, Question: q, Base: link.To(token.Preferences,
		s.signer.Sign(token.Claims{Purpose: token.Preferences, Subscriber: sub.ID, Gen: sub.TokenGen}))}
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
	// A lesson still to come is not the reader's to read or tick yet, as
	// in the archive.
	got, err := s.db.HasReceived(r.Context(), sub.ID, n)
	if err != nil {
		s.fail(w, r, err)
		return nil, receivedLesson{}, false
	}
	if !got {
		s.notReceived(w, r, n)
		return nil, receivedLesson{}, false
	}
	return sub, receivedLesson{N: n, Title: title}, true
}
