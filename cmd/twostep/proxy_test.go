package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestServeBelievesForwardedForOnlyFromTheTrustedProxies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		trusted, want string
	}{
		{"127.0.0.1,::1", "203.0.113.9"}, // the test is the proxy
		{"10.0.0.0/8", "127.0.0.1"},      // the test is a visitor forging the header
	} {
		vars := map[string]string{"TRUSTED_PROXIES": tt.trusted}
		p, base := startServe(t, t.TempDir(), vars)
		form := url.Values{"email": {"ann@example.com"}, "tz": {"Europe/Amsterdam"}, "website": {""}}
		req, _ := http.NewRequest("POST", base+"/subscribe", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		resp, err := noRedirect.Do(req)
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("signup: %v %v", resp, err)
		}
		resp.Body.Close()
		if n := sql(t, vars["DATABASE_URL"], "SELECT count(*) FROM subscribers WHERE consent_ip = $1", tt.want); n != 1 {
			t.Errorf("with TRUSTED_PROXIES=%s the consent was not recorded from %s", tt.trusted, tt.want)
		}
		terminate(t, p)
	}
}

func TestABadTrustedProxiesEntryExitsWithStatus2NamingTheVariable(t *testing.T) {
	t.Parallel()
	code, _, stderr := runCmd(t, map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}, "serve")
	if code != 2 || !strings.HasPrefix(stderr, "twostep: TRUSTED_PROXIES: ") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit status %d, stderr %q; want 2 and one line naming TRUSTED_PROXIES", code, stderr)
	}
}
