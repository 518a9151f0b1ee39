package web_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// prefixes parses TRUSTED_PROXIES-style CIDRs for a harness.
func prefixes(cidrs ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}

// signupVia posts a signup to base with header, given as name, value pairs;
// a name given twice is sent as two header lines.
func signupVia(t *testing.T, base, email string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/subscribe", strings.NewReader(signup(email, "", "UTC").Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// consentIP is the address stored as email's record of consent.
func (h *harness) consentIP(email string) string {
	h.t.Helper()
	var ip string
	if err := h.db.Pool.QueryRow(context.Background(), `SELECT consent_ip FROM subscribers WHERE email = $1`, email).Scan(&ip); err != nil {
		h.t.Fatalf("consent IP of %s: %v", email, err)
	}
	return ip
}

func TestAForgedForwardingHeaderFromAnUntrustedAddressChangesNeitherTheRateLimitNorTheConsentRecord(t *testing.T) {
	// The test connects from 127.0.0.1, which is not among the trusted.
	h := newHarness(t, harnessOpts{rateLimit: 2, trusted: prefixes("10.0.0.0/8", "fd00::/8")})
	forged := [][]string{
		{"X-Forwarded-For", "203.0.113.1"},
		{"Forwarded", "for=203.0.113.2", "X-Forwarded-For", "10.0.0.1"},
		{"X-Forwarded-For", "203.0.113.3, 10.0.0.1", "X-Real-IP", "203.0.113.3"},
	}
	for i, hdr := range forged[:2] {
		email := "f" + strconv.Itoa(i) + "@example.com"
		if resp := signupVia(t, h.srv.URL, email, hdr...); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("signup %d answered %d, want 303", i+1, resp.StatusCode)
		}
		if ip := h.consentIP(email); ip != "127.0.0.1" {
			t.Errorf("signup with %v recorded consent from %q, want the connecting address 127.0.0.1", hdr, ip)
		}
	}
	if resp := signupVia(t, h.srv.URL, "f2@example.com", forged[2]...); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third signup with yet another forged address answered %d, want 429: the header escaped the rate limit", resp.StatusCode)
	}
}

func TestBehindATrustedProxyTwoClientsHaveTheirOwnSignupLimitsAndConsentRecords(t *testing.T) {
	h := newHarness(t, harnessOpts{rateLimit: 2, trusted: prefixes("127.0.0.1/32")})
	for i := range 2 {
		email := "a" + strconv.Itoa(i) + "@example.com"
		if resp := signupVia(t, h.srv.URL, email, "X-Forwarded-For", "203.0.113.1"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("A's signup %d answered %d, want 303", i+1, resp.StatusCode)
		}
		if ip := h.consentIP(email); ip != "203.0.113.1" {
			t.Errorf("A's consent recorded from %q, want 203.0.113.1", ip)
		}
	}
	if resp := signupVia(t, h.srv.URL, "a2@example.com", "X-Forwarded-For", "203.0.113.1"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("A's third signup answered %d, want 429", resp.StatusCode)
	}
	if resp := signupVia(t, h.srv.URL, "b@example.com", "X-Forwarded-For", "203.0.113.2"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("B's signup answered %d, want 303: B shares A's rate limit", resp.StatusCode)
	}
	if ip := h.consentIP("b@example.com"); ip != "203.0.113.2" {
		t.Errorf("B's consent recorded from %q, want 203.0.113.2", ip)
	}
}

func TestTheClientIsTheRightMostUntrustedHopAndGarbageStopsTheWalk(t *testing.T) {
	h := newHarness(t, harnessOpts{trusted: prefixes("127.0.0.1/32", "10.0.0.0/8", "fd00::/8")})
	longChain := strings.Repeat("10.0.0.9, ", 500) + "10.0.0.2"
	tests := []struct {
		name   string
		header []string
		want   string
	}{
		{"no header: the proxy itself", nil, "127.0.0.1"},
		{"one hop", []string{"X-Forwarded-For", "203.0.113.5"}, "203.0.113.5"},
		{"a hop with a port", []string{"X-Forwarded-For", "203.0.113.5:4711"}, "203.0.113.5"},
		{"an IPv6 hop", []string{"X-Forwarded-For", "2001:db8::5"}, "2001:db8::5"},
		{"an IPv6 hop in brackets with a port", []string{"X-Forwarded-For", "[2001:DB8::5]:4711"}, "2001:db8::5"},
		{"an IPv4-mapped IPv6 hop is IPv4", []string{"X-Forwarded-For", "::ffff:203.0.113.5"}, "203.0.113.5"},
		{"two proxies of ours", []string{"X-Forwarded-For", "203.0.113.5, 10.0.0.2, 10.0.0.3"}, "203.0.113.5"},
		{"IPv6 proxies of ours", []string{"X-Forwarded-For", "2001:db8::5, fd00::2"}, "2001:db8::5"},
		{"entries a client typed before its own are ignored", []string{"X-Forwarded-For", "198.51.100.1, 203.0.113.5, 10.0.0.2"}, "203.0.113.5"},
		{"a client typing a trusted address gets no further", []string{"X-Forwarded-For", "10.0.0.66, 203.0.113.5, 10.0.0.2"}, "203.0.113.5"},
		{"several header lines are one list", []string{"X-Forwarded-For", "198.51.100.1", "X-Forwarded-For", "203.0.113.5, 10.0.0.2"}, "203.0.113.5"},
		{"every hop trusted: the left-most", []string{"X-Forwarded-For", "10.0.0.9, 10.0.0.2"}, "10.0.0.9"},
		{"a long chain of proxies of ours", []string{"X-Forwarded-For", "203.0.113.5, " + longChain}, "203.0.113.5"},
		{"garbage right-most: the connecting address", []string{"X-Forwarded-For", "203.0.113.5, garbage"}, "127.0.0.1"},
		{"garbage behind a trusted hop: that hop", []string{"X-Forwarded-For", "garbage, 10.0.0.2"}, "10.0.0.2"},
		{"garbage is never jumped over", []string{"X-Forwarded-For", "198.51.100.1, unknown, 10.0.0.2"}, "10.0.0.2"},
		{"an empty element is garbage", []string{"X-Forwarded-For", "198.51.100.1, , 10.0.0.2"}, "10.0.0.2"},
		{"an empty header: the connecting address", []string{"X-Forwarded-For", ""}, "127.0.0.1"},
		{"an address with a zone is that address", []string{"X-Forwarded-For", "fe80::1%eth0"}, "fe80::1"},
		{"an overlong hop is garbage", []string{"X-Forwarded-For", strings.Repeat("9", 5000)}, "127.0.0.1"},
		{"a hostname is garbage", []string{"X-Forwarded-For", "evil.example, 10.0.0.2"}, "10.0.0.2"},

		{"Forwarded for=", []string{"Forwarded", "for=203.0.113.5"}, "203.0.113.5"},
		{"Forwarded with a quoted IPv6 address and port", []string{"Forwarded", `for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"Forwarded through two proxies", []string{"Forwarded", "for=198.51.100.1, for=203.0.113.5;proto=https;by=10.0.0.2, for=10.0.0.2"}, "203.0.113.5"},
		{"Forwarded's parameters in any order and case", []string{"Forwarded", "Proto=http;For=203.0.113.5"}, "203.0.113.5"},
		{"Forwarded's commas inside quotes do not split", []string{"Forwarded", `for="203.0.113.5, 198.51.100.1", for=10.0.0.2`}, "10.0.0.2"},
		{"Forwarded for=unknown: the connecting address", []string{"Forwarded", "for=unknown"}, "127.0.0.1"},
		{"Forwarded with an obfuscated node stops there", []string{"Forwarded", "for=198.51.100.1, for=_hidden, for=10.0.0.2"}, "10.0.0.2"},
		{"Forwarded without for=", []string{"Forwarded", "proto=https;host=example.com"}, "127.0.0.1"},
		{"Forwarded with an unterminated quote", []string{"Forwarded", `for="203.0.113.5`}, "127.0.0.1"},
		{"X-Forwarded-For wins over Forwarded", []string{"X-Forwarded-For", "203.0.113.5", "Forwarded", "for=198.51.100.66"}, "203.0.113.5"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := "c" + strconv.Itoa(i) + "@example.com"
			if resp := signupVia(t, h.srv.URL, email, tt.header...); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("signup answered %d, want 303", resp.StatusCode)
			}
			if ip := h.consentIP(email); ip != tt.want {
				t.Fatalf("with %q the consent was recorded from %q, want %q", tt.header, ip, tt.want)
			}
		})
	}
}

// on6 serves h's handler on [::1], so requests connect over IPv6.
func on6(t *testing.T, h *harness) string {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatalf("listen on [::1] (the IPv6 tests need a loopback IPv6 address): %v", err)
	}
	srv := httptest.NewUnstartedServer(h.srv.Config.Handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestAnIPv6ProxyIsTrustedOnlyWhenListed(t *testing.T) {
	trusted := newHarness(t, harnessOpts{trusted: prefixes("::1/128")})
	if resp := signupVia(t, on6(t, trusted), "six@example.com", "X-Forwarded-For", "203.0.113.6"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signup answered %d", resp.StatusCode)
	}
	if ip := trusted.consentIP("six@example.com"); ip != "203.0.113.6" {
		t.Errorf("behind the trusted proxy ::1 the consent was recorded from %q, want 203.0.113.6", ip)
	}

	untrusted := newHarness(t, harnessOpts{trusted: prefixes("127.0.0.1/32")})
	if resp := signupVia(t, on6(t, untrusted), "six@example.com", "X-Forwarded-For", "203.0.113.6"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signup answered %d", resp.StatusCode)
	}
	if ip := untrusted.consentIP("six@example.com"); ip != "::1" {
		t.Errorf("from the untrusted ::1 the consent was recorded from %q, want ::1", ip)
	}
}
