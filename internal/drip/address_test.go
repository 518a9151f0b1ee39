package drip

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseEmailAcceptsPlainAddresses(t *testing.T) {
	for _, s := range []string{"ann@example.com", " Ann.Lee+news@Example.co.uk ", "o'brien@mail.example.ie", "ünï@exämple.de"} {
		if _, err := ParseEmail(s); err != nil {
			t.Errorf("ParseEmail(%q) = %v, want ok", s, err)
		}
	}
}

func TestParseEmailRefusesGarbageAndAttacks(t *testing.T) {
	cases := map[string]string{
		"empty":              "",
		"no at":              "annexample.com",
		"no domain dot":      "ann@localhost",
		"display name":       "Ann <ann@example.com>",
		"quoted local part":  `"ann smith"@example.com`,
		"CR LF":              "ann@example.com\r\nBcc: victim@example.com",
		"LF":                 "ann@exa\nmple.com",
		"NUL":                "ann\x00@example.com",
		"two addresses":      "ann@example.com, bob@example.com",
		"too long":           strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com",
		"local part over 64": strings.Repeat("a", 65) + "@example.com",
		"double dot domain":  "ann@example..com",
		"trailing dot":       "ann@example.com.",
		"invalid UTF-8":      "ann\xff@example.com",
		"space inside":       "ann lee@example.com",
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if got, err := ParseEmail(s); err == nil {
				t.Fatalf("ParseEmail(%q) = %q, want an error", s, got)
			}
		})
	}
}

func TestCleanName(t *testing.T) {
	if n, err := CleanName("  Ann Lee "); err != nil || n != "Ann Lee" {
		t.Fatalf("CleanName = %q, %v", n, err)
	}
	if n, err := CleanName(strings.Repeat("é", 100)); err != nil || n == "" {
		t.Fatalf("100 characters should pass: %v", err)
	}
	for _, bad := range []string{strings.Repeat("a", 101), "Ann\r\nBcc: x@y.z", "Ann\x00", "Ann\tLee", "\xff"} {
		if _, err := CleanName(bad); err == nil {
			t.Errorf("CleanName(%q) should fail", bad)
		}
	}
}

func TestTruncateNeverSplitsACharacter(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc"},
		{"zoë", 3, "zo"}, // ë is two bytes: cut before it, not through it
		{"日本語", 4, "日"},  // three bytes each
		{"日本語", 6, "日本"},
		{"", 0, ""},
		{"\xff\xfeab", 3, "a"}, // invalid bytes are dropped, not kept
	}
	for _, c := range cases {
		got := Truncate(c.in, c.n)
		if got != c.want || len(got) > c.n || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestAddressProblemsAreInvalidSentences(t *testing.T) {
	for _, in := range []string{"", "no-at-sign", "a@b", strings.Repeat("x", 300) + "@example.com"} {
		_, err := ParseEmail(in)
		var inv Invalid
		if !errors.As(err, &inv) || !strings.HasSuffix(inv.Error(), ".") {
			t.Errorf("ParseEmail(%q): %v, want an Invalid sentence", in, err)
		}
	}
}
