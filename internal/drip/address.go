package drip

import (
	"errors"
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

// ParseEmail checks a subscriber's address: what net/mail accepts, and
// stricter still — a bare address with no display name, no quoted local
// part, no control characters, at most MaxEmailLen bytes, and a domain with
// a dot in it. The error is fit to show the reader.
func ParseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errors.New("Please enter your email address.")
	case len(s) > MaxEmailLen:
		return "", errors.New("That email address is too long.")
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", errors.New("That email address contains characters that are not allowed.")
	case strings.ContainsAny(s, "\"<>()[],;: \\"):
		return "", errors.New("Please enter just the address, like name@example.com.")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", errors.New("That does not look like an email address, like name@example.com.")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", errors.New("That does not look like an email address, like name@example.com.")
	}
	return s, nil
}

// CleanName checks an optional name: trimmed, at most MaxNameLen characters,
// valid UTF-8 and no control characters (which could break a mail header).
func CleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", errors.New("Your name contains characters that are not allowed.")
	case utf8.RuneCountInString(s) > MaxNameLen:
		return "", errors.New("Please keep your name under 100 characters.")
	}
	return s, nil
}
