package letter

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	twostep "github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/token"
)

// TestStencilsRenderExactlyWhatTheTemplatesDo compares, for every shipped
// lesson and for names that test every escaping rule, the email a pass
// sends (from a stencil) with the email the templates render for the same
// reader and links.
func TestStencilsRenderExactlyWhatTheTemplatesDo(t *testing.T) {
	l := shippedLetters(t, stencilBaseURL)
	c, r := l.Course, l.Renderer
	named := 0
	for _, ls := range c.Lessons {
		for i, name := range stencilNames {
			sameAsTemplates(t, l, ls, &drip.Subscriber{ID: int64(1000 + i), Name: name, TokenGen: i})
		}
		if blocks, _ := r.NamedBlocks(ls); len(blocks) > 0 {
			named++
		}
	}
	if named == 0 {
		t.Fatal("no shipped lesson greets the reader by name in its body: the test no longer covers re-wrapping")
	}
	// Lessons that use the name in their body too, like every other.
	if n := usable(l); n != 2*len(c.Lessons) {
		t.Fatalf("%d stencils cached, want one per lesson and shape (%d)", n, 2*len(c.Lessons))
	}
}

// stencilBaseURL is a base URL with characters each part escapes.
const stencilBaseURL = "https://mail.example.org/course?x=1&y=<2>"

// stencilNames are names that test every escaping rule, the cleaning of a
// name and markers like a stencil's own.
var stencilNames = []string{
	"", "Ann", "Zoë Ünal", "O'Brien & <Sons> \"Ltd\"", "a+b", "  spaced \t out\r\nname ",
	"{{first_name}}", "<script>alert(1)</script>", "\u202eevil", strings.Repeat("x", 80),
	"tsmk", "tsmk0123456789abcdefnx", "\x00nul",
}

// The confirmation a signup gets comes from a stencil too, and is exactly
// what the templates render for the same reader and links.
func TestTheConfirmationStencilRendersExactlyWhatTheTemplatesDo(t *testing.T) {
	l := shippedLetters(t, stencilBaseURL)
	for i, name := range stencilNames {
		sub := &drip.Subscriber{ID: int64(1000 + i), Name: name, TokenGen: i}
		for _, expires := range []time.Time{time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC), time.Unix(1<<40, 0)} {
			sameConfirmationAsTemplates(t, l, sub, expires)
		}
	}
	if n := usable(l); n != 2 {
		t.Fatalf("%d confirmation stencils cached, want one per shape (2)", n)
	}
	// A pass of an edited course, whose lessons' stencils replace the old
	// course's, leaves the confirmation's (of Letters.Course) in place.
	edited := *l.Course
	if _, err := l.lesson(&edited, edited.Lessons[0], &drip.Subscriber{ID: 7, Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	if n := len(l.stencils.confirmations.of(l.Course, false)); n != 2 {
		t.Fatalf("%d confirmation stencils cached after a pass of another course, want 2", n)
	}
}

// sameConfirmationAsTemplates fails t unless the confirmation the outbox
// sends sub is exactly what the templates render for sub.
func sameConfirmationAsTemplates(t *testing.T, l *Letters, sub *drip.Subscriber, expires time.Time) {
	t.Helper()
	got, gotUnsub, err := l.confirmationEmail(sub, expires)
	if err != nil {
		t.Fatal(err)
	}
	want, err := l.Renderer.Confirmation(l.Course, sub.FirstName(), l.Link(token.Confirm, sub, expires), l.Link(token.Unsubscribe, sub, time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	if got != want || gotUnsub != l.Link(token.Unsubscribe, sub, time.Time{}) {
		t.Fatalf("the confirmation for %q differs from the templates:\nHTML equal %v\ntext equal %v\nsent text:\n%s\ntemplate text:\n%s",
			sub.Name, got.HTML == want.HTML, got.Text == want.Text, got.Text, want.Text)
	}
}

// shippedLetters are Letters for the shipped course and templates, with
// links to baseURL.
func shippedLetters(t testing.TB, baseURL string) *Letters {
	t.Helper()
	c, problems := course.Load(twostep.Lessons)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	r, err := course.NewRenderer(twostep.Templates)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := token.NewSigner(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &Letters{Course: c, Renderer: r, Signer: signer, BaseURL: baseURL, From: c.From}
}

// usable counts the cached stencils, lessons' and confirmations', not
// the mails rendered in full.
func usable(l *Letters) int {
	n := 0
	for _, c := range []stencilCache{l.stencils.lessons, l.stencils.confirmations} {
		for _, m := range c.m {
			for _, st := range m {
				if st != nil {
					n++
				}
			}
		}
	}
	return n
}

// Templates from TEMPLATES_DIR may put the name where a stencil cannot
// reproduce the escaping or the wrapping; such lessons are rendered in full,
// so the mail is still exactly what the templates say; so is the confirmation.
func TestCustomTemplatesAStencilCannotReproduceAreRenderedInFull(t *testing.T) {
	c, problems := course.Load(twostep.Lessons)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	edits := map[string][3]string{
		"name in a link": {"email/layout.html",
			`{{if .FirstName}}Hi {{.FirstName}},{{else}}Hi there,{{end}}`,
			`{{if .FirstName}}Hi <a href="https://example.com/hello?n={{.FirstName}}">{{.FirstName}}</a>,{{else}}Hi there,{{end}}`},
		"name in an unquoted attribute": {"email/layout.html",
			`{{if .FirstName}}Hi {{.FirstName}},{{else}}Hi there,{{end}}`,
			`{{if .FirstName}}Hi <span title={{.FirstName}}>{{.FirstName}}</span>,{{else}}Hi there,{{end}}`},
		"name in a line that wraps": {"email/layout.txt",
			`{{if .FirstName}}Hi {{.FirstName}},{{else}}Hi there,{{end}}`,
			`{{if .FirstName}}Hi {{.FirstName}}, this greeting is long enough that a long name makes it wrap at seventy-eight.{{else}}Hi there,{{end}}`},
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, twostep.Templates); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, edit[0])
			b, err := os.ReadFile(file)
			if err != nil || !bytes.Contains(b, []byte(edit[1])) {
				t.Fatalf("%s does not hold the line to change (%v)", edit[0], err)
			}
			if err := os.WriteFile(file, bytes.Replace(b, []byte(edit[1]), []byte(edit[2]), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := course.NewRenderer(os.DirFS(dir))
			if err != nil {
				t.Fatal(err)
			}
			signer, _ := token.NewSigner(bytes.Repeat([]byte{7}, 32))
			l := &Letters{Course: c, Renderer: r, Signer: signer, BaseURL: "https://example.com", From: c.From}
			// The last: a no-break space becomes a space in the greeting,
			// which an unquoted attribute must not end at.
			for i, n := range []string{"Ann", "Zoë&Co", "Bartholomew-Maximilian-Alexander", "A\u00a0onmouseover=alert(1)`"} {
				sub := &drip.Subscriber{ID: int64(i + 1), Name: n}
				sameAsTemplates(t, l, c.Lessons[0], sub)
				sameConfirmationAsTemplates(t, l, sub, time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC))
			}
			if n := usable(l); n != 0 {
				t.Fatalf("%d stencils in use for templates a stencil cannot reproduce", n)
			}
		})
	}
}

// sameAsTemplates fails t unless the lesson ls that a pass sends sub is
// exactly what the templates render for sub, and, from a stencil, the
// message it writes is byte for byte the one its parts as strings make.
func sameAsTemplates(t *testing.T, l *Letters, ls *course.Lesson, sub *drip.Subscriber) {
	t.Helper()
	lb, err := l.lesson(l.Course, ls, sub)
	if err != nil {
		t.Fatal(err)
	}
	got := lb.strings()
	want, err := l.Renderer.Lesson(l.Course, ls, l.LessonRecipient(sub, ls.Number))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("lesson %d for %q differs from the templates:\nHTML equal %v\ntext equal %v\nsent text:\n%s\ntemplate text:\n%s",
			ls.Number, sub.Name, got.HTML == want.HTML, got.Text == want.Text, got.Text, want.Text)
	}
	if lb.filled == nil {
		return
	}
	e := mail.Envelope{From: l.From, ToName: sub.Name, ToAddr: "reader@example.com", Subject: got.Subject,
		Date: time.Unix(0, 0), MessageID: "1@twostep.example", Lesson: ls.Number}
	fromPieces, fromStrings := e, e
	fromPieces.TextBody, fromPieces.HTMLBody = lb.filled.writeText, lb.filled.writeHTML
	fromStrings.Text, fromStrings.HTML = got.Text, got.HTML
	if a, b := written(t, fromPieces), written(t, fromStrings); !bytes.Equal(a, b) {
		t.Fatalf("lesson %d for %q: the message written from the stencil's pieces differs from the one of its strings:\n%s\n---\n%s",
			ls.Number, sub.Name, a, b)
	}
}

// written is the message of e as go-mail writes it, with a fixed boundary.
func written(t *testing.T, e mail.Envelope) []byte {
	t.Helper()
	m, err := new(mail.Composer).Compose(e)
	if err != nil {
		t.Fatal(err)
	}
	m.SetBoundary("BOUNDARY")
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A lesson that uses the reader's name in its body is wrapped around the
// name: a stencil wraps those paragraphs again for each reader, and a name
// that would push a line past the width (where the templates' tidying
// re-wraps the whole line) is rendered in full. Names of every length up
// to the longest an email holds, and with spaces inside, come out exactly
// as the templates make them.
func TestStencilsWrapTheNameAsTheTemplatesDo(t *testing.T) {
	l := shippedLetters(t, "https://example.com")
	c, r := l.Course, l.Renderer
	// Built in code: a lesson file would have to be a whole lesson.
	quoted := &course.Lesson{Number: 9, Title: "Quoted", Slug: "quoted", Preheader: "A quote that ends in a long word.",
		Body: "Some words first, then a quote:\n\n> Said to {{first_name}}:" + strings.Repeat("y", 40) +
			" and more words after it, enough to wrap the line.\n\n" +
			"- A list item for {{first_name|you}}, long enough that the name moves where this line wraps.\n"}
	// With a long name the quote's long word passes the width.
	if blocks, err := r.NamedBlocks(quoted); err != nil || len(blocks) != 2 {
		t.Fatalf("%d blocks hold the name in the quoted lesson (%v), want 2", len(blocks), err)
	} else if _, fits := blocks[0].Text(strings.Repeat("x", 60)); fits {
		t.Fatal("a 60-letter name fits the quote: the test no longer covers the names rendered in full")
	}
	var lessons []*course.Lesson
	for _, ls := range append(c.Lessons, quoted) {
		if blocks, _ := r.NamedBlocks(ls); len(blocks) > 0 {
			lessons = append(lessons, ls)
		}
	}
	if len(lessons) < 2 {
		t.Fatalf("%d lessons use the name in their body; the test needs the shipped ones and its own", len(lessons))
	}
	var names []string
	for n := 1; n <= 64; n++ {
		names = append(names, strings.Repeat("x", n), strings.Repeat("é", n/2)+"\t"+strings.Repeat("b", n/2))
	}
	for _, ls := range lessons {
		for i, name := range names {
			sameAsTemplates(t, l, ls, &drip.Subscriber{ID: int64(i + 1), Name: name})
		}
	}
	if n := usable(l); n != 2*len(lessons) {
		t.Fatalf("%d stencils in use, want both shapes of each of the %d lessons", n, len(lessons))
	}
}

// A stencil is good for the course it was made for: the templates may read
// anything in it. When a lesson is edited, Library.Current brings a new
// course, and the pass's next lessons come from stencils made for it, of
// the edited lesson and of the others alike. Workers still on the course
// they began with keep theirs, so turning between the two builds nothing
// again; a third course drops the oldest, so stencils do not pile up.
func TestAfterALessonEditEveryLessonComesFromAStencilOfTheNewCourse(t *testing.T) {
	l := shippedLetters(t, "https://example.com")
	old := l.Course
	sub := &drip.Subscriber{ID: 7, Name: "Ann", Email: "ann@example.com"}
	for _, ls := range old.Lessons[:3] {
		if _, err := l.lesson(old, ls, sub); err != nil {
			t.Fatal(err)
		}
	}
	// The edit: lesson 1 gets a new title, and the course-wide title is
	// changed too, which every lesson's email shows.
	edited := *old.Lessons[0]
	edited.Title = "A first step, edited"
	cur := *old
	cur.Title = "Relate Two"
	cur.Lessons = append([]*course.Lesson{&edited}, old.Lessons[1:]...)
	for _, ls := range cur.Lessons[:2] {
		lb, err := l.lesson(&cur, ls, sub)
		if err != nil {
			t.Fatal(err)
		}
		got := lb.strings()
		want, err := l.Renderer.Lesson(&cur, ls, l.LessonRecipient(sub, ls.Number))
		if err != nil {
			t.Fatal(err)
		}
		if got != want || !strings.Contains(got.Text, cur.Title) {
			t.Fatalf("lesson %d after the edit is not the new course's (course title in it: %v)", ls.Number, strings.Contains(got.Text, cur.Title))
		}
	}
	lessons := &l.stencils.lessons
	if !strings.Contains(lessons.of(&cur, false)[stencilKey{&edited, true}].email.Subject, edited.Title) {
		t.Fatal("the edited lesson's stencil does not carry its new title")
	}
	if len(lessons.of(&cur, false)) != 2 || len(lessons.of(old, false)) != 3 {
		t.Fatalf("%d and %d stencils cached for the new and the old course, want 2 and 3", len(lessons.of(&cur, false)), len(lessons.of(old, false)))
	}
	// Workers on either course, in turn: nothing is built again.
	before := lessons.of(old, false)[stencilKey{old.Lessons[1], true}]
	for range 3 {
		for _, c := range []*course.Course{old, &cur} {
			if _, err := l.lesson(c, c.Lessons[1], sub); err != nil {
				t.Fatal(err)
			}
		}
	}
	if lessons.of(old, false)[stencilKey{old.Lessons[1], true}] != before {
		t.Fatal("the old course's stencil was built again while workers turned between the two courses")
	}
	// Another edit: the oldest course's stencils go.
	next := cur
	if _, err := l.lesson(&next, next.Lessons[1], sub); err != nil {
		t.Fatal(err)
	}
	if lessons.of(old, false) != nil || len(lessons.of(&cur, false)) != 2 || len(lessons.of(&next, false)) != 1 {
		t.Fatal("after a third course, want the two newest courses' stencils only")
	}
}

// strings is the lesson with both parts as strings, as a stencil writes
// them or the templates rendered them.
func (lb lessonBody) strings() course.Email {
	if lb.filled != nil {
		return lb.filled.email()
	}
	return lb.email
}
