package admin

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/store"
)

type suppressionsData struct {
	Query   string
	Page    store.SuppressionPage
	NextURL string
}

// suppressions lists the addresses never mailed until lifted, by address,
// searchable by address prefix.
func (h *handler) suppressions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefix := strings.TrimSpace(q.Get("q"))
	if len(prefix) > drip.MaxEmailLen {
		prefix = prefix[:drip.MaxEmailLen]
	}
	after := q.Get("after")
	if len(after) > drip.MaxEmailLen {
		after = ""
	}
	p, err := h.db.Suppressions(r.Context(), store.SuppressionQuery{Email: prefix, After: after, Limit: pageSize})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data := suppressionsData{Query: prefix, Page: p}
	v := url.Values{}
	if prefix != "" {
		v.Set("q", prefix)
	}
	data.NextURL = nextPage("/admin/suppressions", v, "after", p.Next)
	var flash string
	if q.Get("done") == "lifted" {
		flash = "Lifted: the address may sign up and be mailed again. No reader was reactivated."
	}
	h.render(w, r, http.StatusOK, "suppressions", page{Title: "Suppression list", Nav: "suppressions", Flash: flash, Data: data})
}

// liftSuppression takes one address off the suppression list; the store
// writes the audit entry in the same transaction.
func (h *handler) liftSuppression(w http.ResponseWriter, r *http.Request) {
	if err := httpx.ParseForm(r, maxForm); err != nil {
		h.fail(w, r, err)
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if email == "" || len(email) > drip.MaxEmailLen {
		h.fail(w, r, errNotFound)
		return
	}
	if err := h.db.LiftSuppression(r.Context(), email, h.action(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/admin/suppressions?done=lifted")
}
