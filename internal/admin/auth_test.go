package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/admin"
	"github.com/twostep/twostep/internal/store"
)

// routes is every admin route with a request that would do something if
// it were let through.
var routes = []struct {
	method, path string
}{
	{"GET", "/admin"},
	{"GET", "/admin/"},
	{"POST", "/admin/logout"},
	{"POST", "/admin/deliveries/1/retry"},
	{"GET", "/admin/lessons"},
	{"GET", "/admin/lessons/export.zip"},
	{"GET", "/admin/lessons/3"},
	{"POST", "/admin/lessons/3"},
	{"POST", "/admin/lessons/3/preview"},
	{"GET", "/admin/lessons/3/history"},
	{"POST", "/admin/lessons/3/restore"},
	{"POST", "/admin/lessons/3/test"},
	{"GET", "/admin/subscribers"},
	{"GET", "/admin/subscribers/export.csv"},
	{"GET", "/admin/subscribers/import"},
	{"POST", "/admin/subscribers/import"},
	{"GET", "/admin/subscribers/1"},
	{"POST", "/admin/subscribers/1/pause"},
	{"POST", "/admin/subscribers/1/resume"},
	{"POST", "/admin/subscribers/1/move"},
	{"POST", "/admin/subscribers/1/resend"},
	{"POST", "/admin/subscribers/1/unsubscribe"},
	{"POST", "/admin/subscribers/1/erase"},
	{"GET", "/admin/reports"},
	{"GET", "/admin/suppressions"},
	{"POST", "/admin/suppressions/lift"},
	{"GET", "/admin/audit"},
}

func TestEveryRouteWithoutASessionRedirectsToTheSignInPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.addSubscriber("ann@example.com", "Ann", 2, h.clock())
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			path := strings.Replace(rt.path, "/1", "/"+itoa(id), 1)
			form := url.Values{"source": {"x"}, "lesson": {"1"}, "confirm": {"erase"}, "revision": {"1"}, "to": {"a@example.com"}}
			var resp *http.Response
			if rt.method == "GET" {
				resp = h.get(path)
			} else {
				resp = h.post(path, form)
			}
			drain(resp)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/login") {
				t.Fatalf("%s %s = %d to %q, want 303 to /admin/login", rt.method, path, resp.StatusCode, loc)
			}
			if rt.method == "GET" && loc != "/admin/login?next="+url.QueryEscape(path) {
				t.Fatalf("GET %s redirects to %q, want the sign-in page to come back here", path, loc)
			}
		})
	}
	if n := h.count(`SELECT count(*) FROM subscribers s JOIN schedule p ON p.subscriber_id = s.id WHERE s.status = 'active' AND p.lesson = 2`); n != 1 {
		t.Fatal("a request without a session changed the subscriber")
	}
	if n := h.count(`SELECT count(*) FROM admin_audit`); n != 0 {
		t.Fatalf("%d audit entries after requests without a session, want 0", n)
	}
}

func TestSignInWithTheRightPasswordOpensTheDashboardAndRotatesTheSessionID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// A cookie planted before sign-in must not become the session.
	u, _ := url.Parse(h.srv.URL + "/admin/")
	h.client.Jar.SetCookies(u, []*http.Cookie{{Name: "twostep_admin", Value: "planted-by-an-attacker", Path: "/admin"}})

	resp := h.post("/admin/login", url.Values{"email": {"Owner@Example.com"}, "password": {adminPassword}, "next": {"/admin/lessons"}})
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/lessons" {
		t.Fatalf("sign-in = %d %q, want 303 to /admin/lessons", resp.StatusCode, resp.Header.Get("Location"))
	}
	var c *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "twostep_admin" {
			c = ck
		}
	}
	if c == nil || c.Value == "planted-by-an-attacker" || len(c.Value) < 40 {
		t.Fatalf("session cookie = %+v, want a fresh random id", c)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/admin" || c.Secure {
		t.Fatalf("cookie attributes = %+v, want HttpOnly, SameSite=Lax, Path=/admin, not Secure over http", c)
	}
	if got := h.page("/admin/"); !strings.Contains(got, "Dashboard") || !strings.Contains(got, adminEmail) {
		t.Fatalf("dashboard after sign-in:\n%s", got)
	}
	if n := h.count(`SELECT count(*) FROM admin_sessions`); n != 1 {
		t.Fatalf("%d sessions stored, want 1", n)
	}
	// Signing in again replaces the session rather than adding one.
	h.login()
	if n := h.count(`SELECT count(*) FROM admin_sessions`); n != 1 {
		t.Fatalf("%d sessions after signing in again, want 1", n)
	}
}

func TestSignInRedirectsOnlyWithinTheAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, next := range []string{"//evil.example/x", "https://evil.example/admin", "/admin\\@evil", "/elsewhere"} {
		c := newClient()
		resp := h.do(c, "POST", "/admin/login", strings.NewReader(url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {next}}.Encode()),
			"application/x-www-form-urlencoded")
		drain(resp)
		if loc := resp.Header.Get("Location"); loc != "/admin/" {
			t.Errorf("next=%q redirected to %q, want /admin/", next, loc)
		}
	}
}

func TestAWrongPasswordGets401AndTheSixthFailureIn15MinutesGets429(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	wrong := url.Values{"email": {adminEmail}, "password": {"not the password"}}
	for i := 1; i <= 5; i++ {
		resp := h.post("/admin/login", wrong)
		got := body(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(got, "do not match") {
			t.Fatalf("failure %d = %d, want 401 with a message", i, resp.StatusCode)
		}
	}
	// Now even the right password is refused, without being checked.
	resp := h.post("/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	got := body(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(got, "Too many") {
		t.Fatalf("sixth attempt = %d (Retry-After %q), want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if n := h.count(`SELECT count(*) FROM admin_sessions`); n != 0 {
		t.Fatal("a session was created past the limit")
	}
	// Each compared failure is in the audit log with who was tried and
	// from where; the refused sixth is not (a flood cannot fill the log).
	if n := h.count(`SELECT count(*) FROM admin_audit WHERE action = 'session.sign_in_failed' AND actor = $1 AND ip <> ''`, adminEmail); n != 5 {
		t.Fatalf("%d failed sign-ins in the audit log, want 5", n)
	}
	// After the window the right password works again.
	h.advance(16 * time.Minute)
	h.login()
	if audit := h.page("/admin/audit"); !strings.Contains(audit, "session.sign_in_failed") {
		t.Fatalf("the audit page does not show the failed sign-ins:\n%s", audit)
	}
}

func TestTheLimitCountsPerAccountAcrossIPsAndPerIPAcrossAccounts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	since := h.clock().Add(-15 * time.Minute)
	fail := func() bool { return false }
	// Five failures on the admin account from five addresses…
	for i := range 5 {
		if _, err := h.db.LoginAttempt(ctx, store.Login{IP: "10.0.0." + itoa(int64(i)), Account: adminEmail, At: h.clock(), Since: since, MaxFailures: 5, Check: fail}); err != nil {
			t.Fatal(err)
		}
	}
	// …lock the account for a sixth address too.
	resp := h.post("/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	drain(resp)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("account limit: %d, want 429", resp.StatusCode)
	}
	// Five failures from one address on other accounts lock that address.
	h2 := newHarness(t)
	for i := range 5 {
		resp := h2.post("/admin/login", url.Values{"email": {"guess" + itoa(int64(i)) + "@example.com"}, "password": {"x"}})
		drain(resp)
	}
	resp = h2.post("/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	drain(resp)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("IP limit: %d, want 429", resp.StatusCode)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	resp := h.post("/admin/logout", nil)
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out = %d", resp.StatusCode)
	}
	if n := h.count(`SELECT count(*) FROM admin_sessions`); n != 0 {
		t.Fatalf("%d sessions after sign-out, want 0", n)
	}
	resp = h.get("/admin/")
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("dashboard after sign-out = %d, want a redirect to sign in", resp.StatusCode)
	}
}

func TestAnExpiredOrIdleSessionNoLongerWorks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	h.advance(13 * time.Hour) // past the 12-hour idle timeout
	resp := h.get("/admin/")
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after 13 idle hours: %d, want a redirect to sign in", resp.StatusCode)
	}
}

func TestChangingThePasswordSignsEveryoneOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	// A copy started with another password.
	_, err := admin.New(context.Background(), admin.Deps{DB: h.db, Library: h.library, Templates: templatesFS(),
		AdminEmail: adminEmail, AdminPassword: "a different password", BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.count(`SELECT count(*) FROM admin_sessions`); n != 0 {
		t.Fatalf("%d sessions after the password changed, want 0", n)
	}
	// The same password again keeps sessions.
	h2 := newHarness(t)
	h2.login()
	if _, err := admin.New(context.Background(), admin.Deps{DB: h2.db, Library: h2.library, Templates: templatesFS(),
		AdminEmail: adminEmail, AdminPassword: adminPassword, BcryptCost: 4}); err != nil {
		t.Fatal(err)
	}
	if n := h2.count(`SELECT count(*) FROM admin_sessions`); n != 1 {
		t.Fatalf("%d sessions after a restart with the same password, want 1", n)
	}
}

func TestWithoutAdminCredentialsTheAdminIsDisabled(t *testing.T) {
	t.Parallel()
	h, err := admin.New(context.Background(), admin.Deps{})
	if h != nil || err != nil {
		t.Fatalf("New without credentials = %v, %v; want nil, nil", h, err)
	}
}

func TestCrossOriginPostsGet403AndChangeNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	id := h.addSubscriber("ann@example.com", "Ann", 2, h.clock())
	before := h.count(`SELECT count(*) FROM events`) + h.count(`SELECT count(*) FROM admin_audit`) + h.count(`SELECT count(*) FROM lesson_revisions`)
	src, _ := h.lessonSource(3)
	cases := []struct {
		path string
		form url.Values
	}{
		{"/admin/subscribers/" + itoa(id) + "/pause", nil},
		{"/admin/subscribers/" + itoa(id) + "/unsubscribe", nil},
		{"/admin/subscribers/" + itoa(id) + "/move", url.Values{"lesson": {"5"}}},
		{"/admin/subscribers/" + itoa(id) + "/erase", url.Values{"confirm": {"erase"}}},
		{"/admin/lessons/3", url.Values{"source": {strings.Replace(src, "?", "!", 1)}}},
		{"/admin/lessons/3/test", url.Values{"to": {"victim@example.com"}}},
		{"/admin/logout", nil},
		{"/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}},
	}
	headers := []struct {
		name   string
		header []string
	}{
		{"a cross-site fetch", []string{"Sec-Fetch-Site", "cross-site"}},
		{"an old browser's form from another origin", []string{"Origin", "https://evil.example"}},
	}
	for _, c := range cases {
		for _, hd := range headers {
			t.Run(c.path+" from "+hd.name, func(t *testing.T) {
				resp := h.post(c.path, c.form, hd.header...)
				drain(resp)
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d, want 403", resp.StatusCode)
				}
			})
		}
	}
	after := h.count(`SELECT count(*) FROM events`) + h.count(`SELECT count(*) FROM admin_audit`) + h.count(`SELECT count(*) FROM lesson_revisions`)
	if after != before {
		t.Fatalf("events + audit + revisions went from %d to %d", before, after)
	}
	if n := h.count(`SELECT count(*) FROM subscribers s JOIN schedule p ON p.subscriber_id = s.id WHERE s.id = $1 AND s.status = 'active' AND p.lesson = 2`, id); n != 1 {
		t.Fatal("the subscriber changed")
	}
	if len(h.smtp.Messages()) != 0 {
		t.Fatal("a cross-origin request sent mail")
	}
	// The session survived the cross-origin sign-out.
	h.page("/admin/")
	// The same requests from the admin's own pages work.
	resp := h.post("/admin/subscribers/"+itoa(id)+"/pause", nil, "Sec-Fetch-Site", "same-origin", "Origin", h.srv.URL)
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin pause = %d, want 303", resp.StatusCode)
	}
}
