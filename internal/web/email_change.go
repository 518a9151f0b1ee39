package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/link"
	"github.com/twostep/twostep/internal/token"
)

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
	if err := httpx.ParseForm(r, MaxBody); err != nil {
		s.fail(w, r, err)
		return
	}
	sub, err := s.emailChangeSubscriber(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sub, err = s.db.ConfirmEmailChange(r.Context(), sub.ID, sub.TokenGen, s.opts.Clock.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.opts.Nudge != nil {
		s.opts.Nudge() // the note to the old address
	}
	tok := s.signer.Sign(token.Claims{Purpose: token.Preferences, Subscriber: sub.ID, Gen: sub.TokenGen})
	http.Redirect(w, r, link.To(token.Preferences, tok)+"?done=email_changed", http.StatusSeeOther)
}

// emailChangeSubscriber checks an address-change link: it must be for the
// latest request, whose time its expiry encodes, so the link mailed for an
// earlier request cannot confirm a later address.
func (s *Server) emailChangeSubscriber(r *http.Request) (*drip.Subscriber, error) {
	c, err := s.signer.Verify(chiToken(r), token.EmailChange, s.opts.Clock.Now())
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
