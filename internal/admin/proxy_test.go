package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/web"
)

// behindProxy serves h's admin the way serve does, mounted in the web
// handler, so the client-address middleware runs, with trusted as
// TRUSTED_PROXIES. The test's connections come from 127.0.0.1.
func behindProxy(t *testing.T, trusted ...string) *harness {
	t.Helper()
	h := newHarness(t)
	var prefixes []netip.Prefix
	for _, s := range trusted {
		prefixes = append(prefixes, netip.MustParsePrefix(s))
	}
	s, err := web.New(h.db, h.letters.Signer, web.Options{
		Site:      web.Site{Title: h.course.Title, Lessons: h.course.LessonCount, SendHour: h.course.SendHour},
		Templates: twostep.Templates, Admin: h.admin, TrustedProxies: prefixes, Clock: h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Close()
	h.srv = httptest.NewServer(s.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// failSignIn makes one wrong sign-in with header, each time for another
// account, so that only the per-address limit can add up.
func (h *harness) failSignIn(n int, header ...string) int {
	h.t.Helper()
	resp := h.do(newClient(), "POST", "/admin/login", strings.NewReader(url.Values{
		"email": {"nobody" + strconv.Itoa(n) + "@example.com"}, "password": {"wrong password!"}}.Encode()),
		"application/x-www-form-urlencoded", header...)
	drain(resp)
	return resp.StatusCode
}

// signIn signs a fresh client in with the right password and header, and
// returns the answer and the session cookie it set.
func (h *harness) signIn(header ...string) (*http.Response, *http.Cookie) {
	h.t.Helper()
	resp := h.do(newClient(), "POST", "/admin/login", strings.NewReader(url.Values{
		"email": {adminEmail}, "password": {adminPassword}}.Encode()), "application/x-www-form-urlencoded", header...)
	drain(resp)
	for _, c := range resp.Cookies() {
		if c.Name == "twostep_admin" && c.Value != "" {
			return resp, c
		}
	}
	return resp, nil
}

// wantSignInFrom checks the address the one sign-in's audit entry and
// session recorded.
func (h *harness) wantSignInFrom(ip string) {
	h.t.Helper()
	if got := h.text(`SELECT ip FROM admin_audit WHERE action = 'session.sign_in'`); got != ip {
		h.t.Errorf("audit log recorded the sign-in from %q, want %s", got, ip)
	}
	if got := h.text(`SELECT ip FROM admin_sessions`); got != ip {
		h.t.Errorf("the session recorded %q, want %s", got, ip)
	}
}

func (h *harness) text(sql string, args ...any) string {
	h.t.Helper()
	var s string
	if err := h.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestAForgedForwardedForFromAnUntrustedAddressNeitherEscapesTheLockoutNorGetsRecorded(t *testing.T) {
	t.Parallel()
	h := behindProxy(t) // TRUSTED_PROXIES empty
	for i := range 5 {
		if st := h.failSignIn(i, "X-Forwarded-For", "203.0.113."+strconv.Itoa(i+1), "Forwarded", "for=198.51.100."+strconv.Itoa(i+1)); st != http.StatusUnauthorized {
			t.Fatalf("wrong password %d answered %d, want 401", i+1, st)
		}
	}
	if n := h.count(`SELECT count(*) FROM admin_login_attempts WHERE ip <> '127.0.0.1'`); n != 0 {
		t.Fatalf("%d sign-in attempts recorded under a forged address", n)
	}
	// A sixth try with yet another forged address, and the right password,
	// is still the same visitor: locked out.
	resp, cookie := h.signIn("X-Forwarded-For", "203.0.113.99")
	if resp.StatusCode != http.StatusTooManyRequests || cookie != nil {
		t.Fatalf("sign-in after 5 failures with a forged X-Forwarded-For answered %d (cookie %v), want 429 and no session", resp.StatusCode, cookie)
	}

	h.advance(16 * time.Minute)
	resp, cookie = h.signIn("X-Forwarded-For", "203.0.113.99", "X-Forwarded-Proto", "https")
	if resp.StatusCode != http.StatusSeeOther || cookie == nil {
		t.Fatalf("sign-in after the window answered %d, want 303 with a session", resp.StatusCode)
	}
	if cookie.Secure {
		t.Error("X-Forwarded-Proto: https from an untrusted address made the session cookie Secure")
	}
	h.wantSignInFrom("127.0.0.1") // the connecting address
}

func TestBehindATrustedProxyEachClientHasItsOwnLockoutAndAddress(t *testing.T) {
	t.Parallel()
	h := behindProxy(t, "127.0.0.1/32", "10.0.0.0/8")
	// Client A, through two proxies of ours, gets itself locked out.
	a := []string{"X-Forwarded-For", "203.0.113.1, 10.0.0.7"}
	for i := range 5 {
		if st := h.failSignIn(i, a...); st != http.StatusUnauthorized {
			t.Fatalf("A's wrong password %d answered %d, want 401", i+1, st)
		}
	}
	if resp, _ := h.signIn(a...); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("A's sixth try answered %d, want 429", resp.StatusCode)
	}
	if n := h.count(`SELECT count(*) FROM admin_login_attempts WHERE ip = '203.0.113.1' AND NOT ok`); n != 5 {
		t.Fatalf("%d failures recorded for A's address 203.0.113.1, want 5", n)
	}

	// Client B, on IPv6 and through the same proxies, is not locked out by
	// A, and signs in over https as the proxy reports.
	resp, cookie := h.signIn("X-Forwarded-For", "2001:db8::b, 10.0.0.7", "X-Forwarded-Proto", "https")
	if resp.StatusCode != http.StatusSeeOther || cookie == nil {
		t.Fatalf("B's sign-in answered %d, want 303 with a session: A's lockout reached B", resp.StatusCode)
	}
	if !cookie.Secure {
		t.Error("X-Forwarded-Proto: https from a trusted proxy left the session cookie without Secure")
	}
	h.wantSignInFrom("2001:db8::b")
}

func TestBehindATrustedProxyAnAdminActionIsAuditedWithTheClientsAddress(t *testing.T) {
	t.Parallel()
	h := behindProxy(t, "127.0.0.1/32")
	id := h.addSubscriber("ann@example.com", "Ann", 2, h.clock())
	// Plain http at the proxy: the cookie stays sendable over the test's http.
	if resp := h.post("/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}},
		"X-Forwarded-For", "198.51.100.20"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in answered %d", resp.StatusCode)
	}
	for _, c := range h.client.Jar.Cookies(mustURL(t, h.srv.URL+"/admin/")) {
		if c.Secure {
			t.Fatal("a sign-in without X-Forwarded-Proto set a Secure cookie")
		}
	}
	resp := h.post("/admin/subscribers/"+itoa(id)+"/pause", url.Values{}, "X-Forwarded-For", "198.51.100.21", "Origin", h.srv.URL)
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause answered %d, want 303", resp.StatusCode)
	}
	if ip := h.text(`SELECT ip FROM admin_audit WHERE action = 'subscriber.pause'`); ip != "198.51.100.21" {
		t.Fatalf("audit log recorded the pause from %q, want the client's 198.51.100.21", ip)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
