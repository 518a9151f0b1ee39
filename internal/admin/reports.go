package admin

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

type reportsData struct {
	Filter    store.ReportFilter
	Kinds     []drip.ReportKind
	Providers []drip.Provider
	Page      store.ReportPage
	NextURL   string
}

// reportFilterFrom reads the list's filter from the query string; a value
// that is no kind or provider is ignored, as the subscriber list does.
func reportFilterFrom(q url.Values) store.ReportFilter {
	var f store.ReportFilter
	if k := drip.ReportKind(q.Get("type")); k.Valid() {
		f.Kind = k
	}
	for _, p := range drip.Providers {
		if q.Get("provider") == string(p) {
			f.Provider = p
		}
	}
	return f
}

// reports lists the bounces and complaints reported after the send,
// newest first, with what each one did.
func (h *handler) reports(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := reportFilterFrom(q)
	p, err := h.db.Reports(r.Context(), store.ReportQuery{ReportFilter: f, Before: idCursor(q, "before"), Limit: pageSize})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data := reportsData{Filter: f, Kinds: drip.ReportKinds, Providers: drip.Providers, Page: p}
	if p.Next != 0 {
		v := url.Values{}
		if f.Kind != "" {
			v.Set("type", string(f.Kind))
		}
		if f.Provider != "" {
			v.Set("provider", string(f.Provider))
		}
		data.NextURL = nextPage("/admin/reports", v, "before", strconv.FormatInt(p.Next, 10))
	}
	h.render(w, r, http.StatusOK, "reports", page{Title: "Bounces and complaints", Nav: "reports", Data: data})
}
