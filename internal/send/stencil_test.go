package send

import (
	"bytes"
	"strings"
	"testing"

	twostep "github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/token"
)

// TestStencilsRenderExactlyWhatTheTemplatesDo compares, for every shipped
// lesson and for names that test every escaping rule, the email a pass
// sends (from a stencil) with the email the templates render for the same
// reader and links.
func TestStencilsRenderExactlyWhatTheTemplatesDo(t *testing.T) {
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
	l := &Letters{Course: c, Renderer: r, Signer: signer, BaseURL: "https://mail.example.org/course?x=1&y=<2>", From: c.From}
	names := []string{
		"", "Ann", "Zoë Ünal", "O'Brien & <Sons> \"Ltd\"", "a+b", "  spaced \t out\r\nname ",
		"{{first_name}}", "<script>alert(1)</script>", "\u202eevil", strings.Repeat("x", 80),
		"tsmk", "tsmk0123456789abcdefnx", "\x00nul",
	}
	stenciled := 0
	for _, ls := range c.Lessons {
		for i, name := range names {
			sub := &drip.Subscriber{ID: int64(1000 + i), Name: name, TokenGen: i}
			got, err := l.lessonEmail(c, ls, sub)
			if err != nil {
				t.Fatal(err)
			}
			want, err := r.Lesson(c, ls, l.LessonRecipient(sub, ls.Number))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("lesson %d for %q: the stencil differs from the templates:\nHTML equal %v\ntext equal %v\nstencil text:\n%s\ntemplate text:\n%s",
					ls.Number, name, got.HTML == want.HTML, got.Text == want.Text, got.Text, want.Text)
			}
		}
		if personal, _ := r.HasPlaceholders(ls); !personal {
			stenciled++
		}
	}
	if stenciled < len(c.Lessons)-2 {
		t.Fatalf("only %d of %d lessons go through stencils", stenciled, len(c.Lessons))
	}
	if n := len(l.stencils.cache); n != 2*stenciled {
		t.Fatalf("%d stencils cached, want one per lesson and shape (%d)", n, 2*stenciled)
	}
}
