package httpx

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
