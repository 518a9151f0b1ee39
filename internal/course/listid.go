package course

import (
	netmail "net/mail"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// ListID is the List-Id header value (RFC 2919) of the course's mail:
// the title as the phrase, and the slugified title on the domain of from
// (the From address the mail goes out with; "" means the course's) as the
// list's id, e.g. `Lead & Relate <lead-and-relate.twostep.example>`.
// Readers' filters and providers' feedback loops key on it, so it stays
// the same as long as the title and the From domain do.
func ListID(c *Course, from string) string {
	if from == "" {
		from = c.From
	}
	id := listLabel(c.Title) + "." + listDomain(from)
	if p := listPhrase(c.Title); p != "" {
		return p + " <" + id + ">"
	}
	return "<" + id + ">"
}

// listLabel is title as a DNS label: lower-case ASCII letters, digits and
// single hyphens, "&" spelt "and", accents dropped ("Zoë" gives "zoe"), at
// most 63 characters cut between words; "course" when nothing is left, as
// of a title in Chinese.
func listLabel(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFD.String(strings.ToLower(strings.ReplaceAll(title, "&", " and "))) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r), r == '\'', r == '’':
			// An accent or an apostrophe joins its word: "zoë's" is "zoes".
		default:
			dash = true
		}
	}
	s := b.String()
	if len(s) > 63 {
		cut := s[:63]
		if s[63] != '-' {
			if i := strings.LastIndexByte(cut, '-'); i > 0 {
				cut = cut[:i]
			}
		}
		s = strings.TrimRight(cut, "-")
	}
	if s == "" {
		return "course"
	}
	return s
}

// listDomain is the lower-cased domain of from, or twostep.invalid when
// from has none that a list id can hold (dot-atom ASCII).
func listDomain(from string) string {
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return "twostep.invalid"
	}
	_, d, ok := strings.Cut(a.Address, "@")
	d = strings.ToLower(d)
	if !ok || d == "" || strings.Trim(d, "abcdefghijklmnopqrstuvwxyz0123456789-.") != "" ||
		strings.Contains(d, "..") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
		return "twostep.invalid"
	}
	return d
}

// listPhrase is s as an RFC 5322 phrase: as it is when it is all atoms
// ("Lead & Relate"), else written the way net/mail writes a display name
// (a quoted-string with escapes, or RFC 2047 words when it is not ASCII).
func listPhrase(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if s == "" {
		return ""
	}
	if strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~ ") == "" {
		return s
	}
	const tail = " <x@x>"
	return strings.TrimSuffix((&netmail.Address{Name: s, Address: "x@x"}).String(), tail)
}
