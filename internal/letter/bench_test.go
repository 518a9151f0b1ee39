package letter_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/token"
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
	c, problems := course.Load(twostep.Lessons)
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	r, err := course.NewRenderer(twostep.Templates)
	if err != nil {
		b.Fatal(err)
	}
	signer, _ := token.NewSigner(bytes.Repeat([]byte{7}, 32))
	l := &letter.Letters{Course: c, Renderer: r, Signer: signer, BaseURL: "https://lessons.example.org", From: c.From}
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
