package course

import (
	"net/mail"
	"strings"
)

// reservedDomains can never receive mail: RFC 2606 and RFC 6761 keep them
// for examples and tests. Subdomains are reserved too.
var reservedDomains = []string{"example.com", "example.net", "example.org", "example", "test", "invalid", "localhost"}

// IsReservedDomain says whether an email domain is one of the names kept
// for examples and tests ("twostep.example", "example.com", "x.test"),
// which no reader's mail can reach.
func IsReservedDomain(domain string) bool {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	for _, r := range reservedDomains {
		if d == r || strings.HasSuffix(d, "."+r) {
			return true
		}
	}
	return false
}

// AddressWarnings returns a warning for each of course.yaml's from and
// reply_to that uses a reserved example domain, located like a Problem. The shipped course does, so
// that no real person's address goes out by mistake; an install that keeps
// it sends mail that readers' servers refuse and replies that bounce. These
// are warnings, not Problems: a course under test or in preview is fine
// with them, so `lessons check` passes and `serve` starts, both saying so.
func AddressWarnings(c *Course) []Problem {
	var out []Problem
	for _, f := range []struct{ key, addr, effect string }{
		{"from", c.From, "readers' mail servers will refuse or junk the lessons"},
		{"reply_to", c.ReplyTo, "readers' replies will bounce"},
	} {
		a, err := mail.ParseAddress(f.addr)
		if err != nil {
			continue // ParseCourseYAML reports it
		}
		domain := a.Address[strings.LastIndexByte(a.Address, '@')+1:]
		if IsReservedDomain(domain) {
			out = append(out, Problem{File: courseFile, Line: c.line(f.key),
				Msg: f.key + " " + a.Address + " uses " + domain + ", a reserved example domain: " + f.effect + "; set a real address"})
		}
	}
	return out
}
