package web

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The client-address rule, in one place. Every use of a visitor's address
// (the signup rate limit, the consent record, the admin's sign-in limits and
// lockout, its sessions and audit log) reads ClientIP, which the middleware
// below resolves once per request:
//
//   - The connecting address is the client unless it is one of
//     TRUSTED_PROXIES. Then, and only then, the forwarding headers are read:
//     X-Forwarded-For when present, otherwise the for= parameters of RFC 7239
//     Forwarded. X-Forwarded-For wins because the proxies the README shows
//     (Caddy, nginx) write it and pass a client's own Forwarded header on
//     untouched: reading Forwarded first would let any client choose its
//     address.
//   - The hops are walked right to left, past every trusted proxy; the first
//     untrusted hop is the client. When every hop is trusted, the left-most
//     one is.
//   - An entry that is not an address (garbage, "unknown", an obfuscated
//     "_node", an empty element) stops the walk at the last good address:
//     the trusted hop right of it, or the connecting address when it is the
//     right-most entry. Whoever wrote the garbage gets no say, and the walk
//     never jumps over it to something further left a client may have typed.
//
// X-Forwarded-Proto: https from a trusted proxy marks the request as secure
// (IsHTTPS), which makes cookies Secure. From anyone else it changes nothing.

type clientKey struct{}

// client is what the middleware resolved for one request.
type client struct {
	ip    string
	https bool
}

// resolveClient is the middleware: it stores the request's client address
// and scheme in its context for ClientIP and IsHTTPS.
func resolveClient(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := resolve(r, trusted)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
		})
	}
}

// ClientIP is the request's client address as resolveClient found it. On a
// request that did not pass through the middleware (the admin mounted on
// its own, in a test) it is the connecting address: no header is believed.
func ClientIP(r *http.Request) string {
	if c, ok := r.Context().Value(clientKey{}).(client); ok {
		return c.ip
	}
	return resolve(r, nil).ip
}

// IsHTTPS reports whether the visitor reached us over TLS: directly, or
// through a trusted proxy that said so with X-Forwarded-Proto: https.
// Cookies set on such a request are Secure.
func IsHTTPS(r *http.Request) bool {
	if c, ok := r.Context().Value(clientKey{}).(client); ok {
		return c.https
	}
	return r.TLS != nil
}

func resolve(r *http.Request, trusted []netip.Prefix) client {
	c := client{ip: r.RemoteAddr, https: r.TLS != nil}
	remote, ok := parseHop(r.RemoteAddr)
	if !ok {
		return c // not an address at all: keep it as given, trust nothing
	}
	c.ip = remote.String()
	if !isTrusted(remote, trusted) {
		return c
	}
	if lastValue(r.Header.Values("X-Forwarded-Proto")) == "https" {
		c.https = true
	}
	var hops []string
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		hops = splitList(strings.Join(xff, ","))
	} else if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		hops = forwardedFor(strings.Join(fwd, ","))
	}
	c.ip = walk(remote, hops, trusted).String()
	return c
}

// walk goes right to left through hops, the addresses each proxy saw,
// starting after the trusted connecting address; see the rule above.
func walk(last netip.Addr, hops []string, trusted []netip.Prefix) netip.Addr {
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return last
		}
		if !isTrusted(a, trusted) {
			return a
		}
		last = a
	}
	return last
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one node: 192.0.2.1, 192.0.2.1:4711, 2001:db8::1,
// [2001:db8::1] or [2001:db8::1]:4711. IPv4-mapped IPv6 becomes IPv4 and a
// zone is dropped, so one client has one spelling.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// splitList splits a comma-separated header value, keeping empty elements
// (they count as garbage in the walk).
func splitList(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// forwardedFor returns the for= value of every element of an RFC 7239
// Forwarded header, in order; an element without one gives "" (garbage).
// Quoted strings may hold commas and semicolons and use backslash escapes.
func forwardedFor(s string) []string {
	var hops []string
	for _, elem := range splitQuoted(s, ',') {
		hop := ""
		for _, pair := range splitQuoted(elem, ';') {
			k, v, ok := strings.Cut(pair, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
				hop = unquote(strings.TrimSpace(v))
				break
			}
		}
		hops = append(hops, hop)
	}
	return hops
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	inQuote, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case inQuote && c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unquote undoes an RFC 7230 quoted-string; a token is returned as is.
func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		if v[i] == '\\' && i+1 < len(v)-1 {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// lastValue is the right-most element of a list header, lower-cased: the
// one the proxy nearest to us wrote.
func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	parts := splitList(values[len(values)-1])
	return strings.ToLower(parts[len(parts)-1])
}
