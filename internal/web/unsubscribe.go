package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// unsubscribePage asks for a click; a GET never changes anything, because
// mail scanners and link previews follow every link.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	sub, err := s.tokenSubscriber(r, token.Unsubscribe)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.URL.Query().Get("done") == "1" && sub.Status == drip.StatusUnsubscribed {
		s.render(w, r, http.StatusOK, "unsubscribed", page{NoIndex: true})
		return
	}
	s.render(w, r, http.StatusOK, "unsubscribe", page{Email: sub.Email, Action: r.URL.Path, NoIndex: true})
}

// unsubscribe is both the page's button and RFC 8058 one-click: a POST
// from the mail client with List-Unsubscribe=One-Click, no cookie, answered
// 200 without a redirect.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if err := httpx.ParseForm(r, MaxBody); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.signer.Verify(chiToken(r), token.Unsubscribe, s.opts.Clock.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.change(r, store.Ref{ID: c.Subscriber, Gen: c.Gen}, drip.Change{Action: drip.ActUnsubscribe}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.metrics.unsubscribes.Inc()
	if httpx.WantsJSON(r) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "unsubscribed"})
		return
	}
	if r.PostFormValue("from") == "page" {
		// The page's own button: POST-redirect-GET, so a reload does not
		// resubmit. A mail client's one-click POST still gets its 200.
		http.Redirect(w, r, r.URL.Path+"?done=1", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "unsubscribed", page{NoIndex: true})
}
