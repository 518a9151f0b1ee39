package course

import (
	"strings"
	"testing"
)

func TestTheClosingEmailIsReadFromClosingMDWithTheNameFilledIn(t *testing.T) {
	cl, ps := ParseClosing([]byte(closingMD))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	n := cl.Notice("Ann")
	if n.Subject != "You finished Test Course" || n.Preheader != "Two lessons, and what comes next." ||
		n.ButtonLabel != "Restart" || n.Signoff != "Thanks," {
		t.Fatalf("notice %+v", n)
	}
	if len(n.Paragraphs) != 1 || n.Paragraphs[0] != "That was the last lesson, Ann." ||
		len(n.After) != 1 || n.After[0] != "Or do nothing." {
		t.Fatalf("paragraphs %q, after %q", n.Paragraphs, n.After)
	}
	if got := cl.Notice("").Paragraphs[0]; got != "That was the last lesson, reader." {
		t.Fatalf("without a name: %q", got)
	}
}

func TestAProblemInClosingMDIsReportedAtItsLine(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"a missing key", `button: "Restart"` + "\n", "", `closing.md:1: missing front-matter key "button"`},
		{"an unknown key", `signoff: "Thanks,"`, `signoff: "Thanks,"` + "\ncolour: blue", `closing.md:6: unknown front-matter key "colour"`},
		{"a placeholder in the subject", `Test Course"`, `{{first_name}}"`, "closing.md:2: subject must not contain {{...}}"},
		{"an unknown placeholder", "{{first_name|reader}}", "{{email}}", "closing.md:8: {{email}} is not allowed"},
		{"no button", "{{button}}\n", "", "closing.md:1: the body has no {{button}} paragraph"},
		{"two buttons", "Or do nothing.", "{{button}}", "closing.md:12: {{button}} is given twice"},
		{"a heading", "Or do nothing.", "## Next", "closing.md:12: a heading: the closing email is paragraphs of plain text"},
		{"a link", "Or do nothing.", "[Leave](https://example.com)", "closing.md:12: a link or image"},
		{"no front matter", "---\nsubject", "subject", "closing.md:1: missing front matter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(closingMD, c.old) {
				t.Fatalf("%q is not in closingMD", c.old)
			}
			_, ps := ParseClosing([]byte(strings.Replace(closingMD, c.old, c.new, 1)))
			if !strings.Contains(ps.Error(), c.want) {
				t.Fatalf("problems:\n%v\nwant one containing %q", ps, c.want)
			}
		})
	}
}

func TestACourseWithoutClosingMDLoadsWithThePlainGoodbye(t *testing.T) {
	fsys := validCourse()
	delete(fsys, "closing.md")
	c, ps := Load(fsys)
	if ps != nil {
		t.Fatalf("a course folder from before closing.md existed: %v", ps)
	}
	if c.Closing == nil || c.Closing.Subject != "You have finished the course" || len(c.Closing.Before) == 0 {
		t.Errorf("closing %+v, want the default", c.Closing)
	}
}
