package drip

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what a subscriber may give us.
const (
	MaxEmailLen = 254 // RFC 5321 path limit less the angle brackets
	MaxNameLen  = 100 // characters
)

// Invalid is a problem with what a reader typed, worded to be shown to
// them as it is: a whole sentence, unlike the errors that wrap.
type Invalid string

func (e Invalid) Error() string { return string(e) }

// Truncate cuts s to at most n bytes without splitting a character, for
// storing text we did not write (a User-Agent, an SMTP reply) within a
// bound.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// ParseEmail checks a subscriber's address: what net/mail accepts, and
// stricter still — a bare address with no display name, no quoted local
// part, no control characters, at most MaxEmailLen bytes, and a domain with
// a dot in it. The error is fit to show the reader.
func ParseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", Invalid("Please enter your email address.")
	case len(s) > MaxEmailLen:
		return "", Invalid("That email address is too long.")
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", Invalid("That email address contains characters that are not allowed.")
	case strings.ContainsAny(s, "\"<>()[],;: \\"):
		return "", Invalid("Please enter just the address, like name@example.com.")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", Invalid("That does not look like an email address, like name@example.com.")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", Invalid("That does not look like an email address, like name@example.com.")
	}
	return s, nil
}

// CleanName checks an optional name: trimmed, at most MaxNameLen characters,
// valid UTF-8 and no control characters (which could break a mail header).
func CleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", Invalid("Your name contains characters that are not allowed.")
	case utf8.RuneCountInString(s) > MaxNameLen:
		return "", Invalid("Please keep your name under 100 characters.")
	}
	return s, nil
}
