package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

func TestAFormIsReadOrRefusedAsTooLargeOrMalformed(t *testing.T) {
	cases := []struct {
		name, body string
		want       error
	}{
		{"a form within the limit is read", "email=ann%40example.com", nil},
		{"a form over the limit is too large", "email=" + strings.Repeat("a", 200), ErrTooLarge},
		{"a malformed form is refused", "email=%zz", ErrBadForm},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got error
			h := LimitBody(100)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ParseForm(r, 100) }))
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			h.ServeHTTP(httptest.NewRecorder(), r)
			if !errors.Is(got, c.want) {
				t.Fatalf("ParseForm = %v, want %v", got, c.want)
			}
		})
	}
}

func TestEveryPageCarriesTheSecurityHeadersWithItsOwnPolicy(t *testing.T) {
	h := SecurityHeaders("default-src 'none'")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
		"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'"} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestEachErrorOfTheDomainIsAnsweredWithOneStatusOnEverySurface(t *testing.T) {
	refused := func(reason error) error {
		return fmt.Errorf("change: %w", &drip.Refused{Action: drip.ActPause, Actor: drip.ActorAdmin, Status: drip.StatusUnsubscribed, Reason: reason})
	}
	cases := []struct {
		err    error
		status int
		key    Key
	}{
		{token.ErrExpired, http.StatusGone, KeyExpired},
		{token.ErrMalformed, http.StatusNotFound, KeyBadLink},
		{token.ErrPurpose, http.StatusNotFound, KeyBadLink},
		{fmt.Errorf("load: %w", drip.ErrNotFound), http.StatusNotFound, KeyNotFound},
		{drip.ErrGone, http.StatusGone, KeyGone},
		{store.ErrTaken, http.StatusConflict, KeyTaken},
		{store.ErrRevisionConflict, http.StatusConflict, KeyStale},
		{refused(drip.ErrNotNow), http.StatusConflict, KeyRefused},
		{refused(drip.ErrNotReceived), http.StatusConflict, KeyRefused},
		{drip.ErrNotNow, http.StatusConflict, KeyRefused},
		{refused(drip.ErrTooSoon), http.StatusTooManyRequests, KeyTooSoon},
		{refused(drip.ErrNoSuchLesson), http.StatusUnprocessableEntity, KeyNoSuchLesson},
		{refused(drip.ErrNotPermitted), http.StatusForbidden, KeyNotPermitted},
		{store.NotApplicableError("already sent"), http.StatusConflict, KeyNotApplicable},
		{Problem("Please choose a day from the list."), http.StatusUnprocessableEntity, KeyProblem},
		{ErrTooLarge, http.StatusRequestEntityTooLarge, KeyTooLarge},
		{ErrBadForm, http.StatusBadRequest, KeyBadForm},
		{errors.New("connection reset"), http.StatusInternalServerError, KeyInternal},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != (Answer{c.status, c.key}) {
			t.Errorf("Classify(%v) = %+v, want %d %s", c.err, got, c.status, c.key)
		}
	}
}

func TestAPageIsRenderedWholeOrAsAClean500(t *testing.T) {
	fsys := fstest.MapFS{
		"web/layout.html": {Data: []byte(`{{define "layout"}}<main>{{template "body" .}}</main>{{end}}`)},
		"web/ok.html":     {Data: []byte(`{{define "body"}}hello {{.}}{{end}}`)},
		"web/broken.html": {Data: []byte(`{{define "body"}}before {{.Missing}}{{end}}`)},
	}
	if _, err := ParsePages(fsys, "web", nil, "ok", "absent"); err == nil || !strings.Contains(err.Error(), "web/absent.html is missing") {
		t.Fatalf("a missing page: %v", err)
	}
	pages, err := ParsePages(fsys, "web", nil, "ok", "broken")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := pages.Render(rec, http.StatusCreated, "ok", "Ann"); err != nil || rec.Code != http.StatusCreated || rec.Body.String() != "<main>hello Ann</main>" {
		t.Fatalf("Render ok = %v, %d %q", err, rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	if err := pages.Render(rec, http.StatusOK, "broken", "Ann"); err == nil || rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "before") {
		t.Fatalf("Render broken = %v, %d %q: want a clean 500", err, rec.Code, rec.Body.String())
	}
}
