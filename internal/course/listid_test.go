package course

import (
	netmail "net/mail"
	"regexp"
	"strings"
	"testing"
)

// listIDSyntax is RFC 2919's list-id, as the labels of a domain.
var listIDSyntax = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9-]+)+$`)

func TestListIDIsTheTitleAndItsSlugOnTheFromDomain(t *testing.T) {
	for _, tc := range []struct {
		name, title, from, courseFrom string
		wantPhrase, wantID            string
	}{
		{"the shipped course, as the issue's example", "Lead & Relate", "", "Lead & Relate <lessons@twostep.example>",
			"Lead & Relate", "lead-and-relate.twostep.example"},
		{"an ampersand without spaces", "Q&A", "", "z@example.com",
			"Q&A", "q-and-a.example.com"},
		{"MAIL_FROM's domain wins over the course's", "Lead & Relate", "Team <news@Mail.Example.ORG>", "x@twostep.example",
			"Lead & Relate", "lead-and-relate.mail.example.org"},
		{"accents and an apostrophe", "Zoë's Course: Part 1", "", "z@example.com",
			"Zoë's Course: Part 1", "zoes-course-part-1.example.com"},
		{"a quote and a backslash", `The "Best" \ Course`, "", "z@example.com",
			`The "Best" \ Course`, "the-best-course.example.com"},
		{"a title in Chinese", "领导力 课程", "", "z@example.com",
			"领导力 课程", "course.example.com"},
		{"CR LF in the title", "Lead\r\nBcc: x@y", "", "z@example.com",
			"Lead Bcc: x@y", "lead-bcc-x-y.example.com"},
		{"a very long title", strings.Repeat("word ", 40), "", "z@example.com",
			strings.TrimSpace(strings.Repeat("word ", 40)), strings.TrimSuffix(strings.Repeat("word-", 12), "-") + ".example.com"},
		{"a From without a usable domain", "Lead", "", "lessons@[127.0.0.1]",
			"Lead", "lead.twostep.invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ListID(&Course{Title: tc.title, From: tc.courseFrom}, tc.from)
			i := strings.LastIndex(got, " <")
			if i < 0 || !strings.HasSuffix(got, ">") || strings.ContainsAny(got, "\r\n") {
				t.Fatalf("ListID = %q, want `phrase <id>` on one line", got)
			}
			// The phrase has a display name's grammar, so net/mail reads it.
			a, err := netmail.ParseAddress(got[:i] + " <x@example.com>")
			if err != nil || a.Name != tc.wantPhrase {
				t.Fatalf("ListID = %q: phrase reads back as %q (%v), want %q", got, a.Name, err, tc.wantPhrase)
			}
			id := got[i+2 : len(got)-1]
			if id != tc.wantID || !listIDSyntax.MatchString(id) || len(id) > 255 {
				t.Fatalf("ListID = %q: id %q, want %q", got, id, tc.wantID)
			}
		})
	}
}

func TestListIDOfAnAllAtomTitleNeedsNoQuotes(t *testing.T) {
	got := ListID(&Course{Title: "Lead & Relate", From: "Lead & Relate <lessons@twostep.example>"}, "")
	if want := "Lead & Relate <lead-and-relate.twostep.example>"; got != want {
		t.Fatalf("ListID = %q, want %q", got, want)
	}
}
