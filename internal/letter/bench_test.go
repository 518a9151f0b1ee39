package letter

import (
	"io"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
)

// BenchmarkLesson is the per-message work of a delivery pass that is this
// package's: lesson 1 of the shipped course (which greets the reader by
// name in its body) made into a message for one reader, from the stencil,
// with its signed links and headers. /write also writes the message out
// as go-mail does during the SMTP transaction, which the bare go-mail loop
// of BenchmarkPass pays as well (docs/BENCHMARKS.md).
//
//	go test -run '^$' -bench BenchmarkLesson -benchmem ./internal/letter/
func BenchmarkLesson(b *testing.B) {
	l := shippedLetters(b, "https://lessons.example.org")
	c := l.Course
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for _, write := range []bool{false, true} {
		name := "compose"
		if write {
			name = "write"
		}
		b.Run(name, func(b *testing.B) {
			var id int64
			for b.Loop() {
				id++
				sub := &drip.Subscriber{ID: id, Name: "Reader 1", Email: "reader1@example.com", NextLesson: 1}
				m, _, err := l.Lesson(c, c.Lesson(1), sub, now)
				if err != nil {
					b.Fatal(err)
				}
				if write {
					if _, err := m.WriteTo(io.Discard); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkConfirmation renders the shipped confirmation for one reader,
// with its signed links: /stencil from its stencil, as the outbox does;
// /templates with the templates, as every confirmation was rendered before
// the stencil. Composing the message is the same for both (BenchmarkLesson).
//
//	go test -run '^$' -bench BenchmarkConfirmation -benchmem ./internal/letter/
func BenchmarkConfirmation(b *testing.B) {
	l := shippedLetters(b, "https://lessons.example.org")
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		render func(*drip.Subscriber, time.Time) (course.Email, string, error)
	}{{"stencil", l.confirmationEmail}, {"templates", l.confirmationInFull}} {
		b.Run(c.name, func(b *testing.B) {
			var id int64
			for b.Loop() {
				id++
				if _, _, err := c.render(&drip.Subscriber{ID: id, Name: "Reader 1", Email: "reader1@example.com"}, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
