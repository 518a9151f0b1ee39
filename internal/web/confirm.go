package web

import (
	"fmt"
	"net/http"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/link"
	"github.com/twostep/twostep/internal/token"
)

// confirmPage shows a button and changes nothing: mail scanners follow
// links, and a GET that confirmed would let them subscribe anyone.
func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	sub, err := s.tokenSubscriber(r, token.Confirm)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if sub.Status == drip.StatusBounced {
		s.fail(w, r, drip.ErrGone)
		return
	}
	if r.URL.Query().Get("done") == "1" && sub.Status != drip.StatusPending && sub.Status != drip.StatusUnsubscribed {
		s.renderConfirmed(w, r, sub)
		return
	}
	s.render(w, r, http.StatusOK, "confirm", page{Email: sub.Email, Action: r.URL.Path, NoIndex: true})
}

func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	sub, err := s.tokenSubscriber(r, token.Confirm)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	loc, _ := drip.LoadLocation(sub.TimeZone)
	now := s.opts.Clock.Now()
	slot := drip.DefaultSlot(now, loc, s.opts.Site.SendHour)
	sub, err = s.db.Confirm(r.Context(), sub.ID, sub.TokenGen, slot.Weekday, slot.Hour, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.metrics.confirmations.Inc()
	if httpx.WantsJSON(r) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": string(sub.Status)})
		return
	}
	// POST-redirect-GET: a reload shows the welcome page, not a resubmit prompt.
	http.Redirect(w, r, r.URL.Path+"?done=1", http.StatusSeeOther)
}

// renderConfirmed is the welcome page: the slot and the preferences link.
func (s *Server) renderConfirmed(w http.ResponseWriter, r *http.Request, sub *drip.Subscriber) {
	p := page{Email: sub.Email, TimeZone: sub.TimeZone, NoIndex: true,
		Action: link.To(token.Preferences, s.signer.Sign(token.Claims{Purpose: token.Preferences, Subscriber: sub.ID, Gen: sub.TokenGen}))}
	if sub.SendWeekday != nil && sub.SendHour != nil {
		p.Weekday = sub.SendWeekday.String()
		p.Hour = fmt.Sprintf("%02d:00", *sub.SendHour)
	}
	s.render(w, r, http.StatusOK, "confirmed", p)
}

// tokenSubscriber checks the {token} in the path for purpose p and loads
// the subscriber it names.
func (s *Server) tokenSubscriber(r *http.Request, p token.Purpose) (*drip.Subscriber, error) {
	c, err := s.signer.Verify(chiToken(r), p, s.opts.Clock.Now())
	if err != nil {
		return nil, err
	}
	return s.db.Subscriber(r.Context(), c.Subscriber, c.Gen)
}
