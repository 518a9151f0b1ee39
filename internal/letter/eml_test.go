package letter_test

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/token"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestLessonEmailMatchesTheGoldenEML renders the fixed test lesson as a
// whole message. Only the MIME boundary is random; it is replaced before
// comparing, so every header, part and link is checked byte for byte.
func TestLessonEmailMatchesTheGoldenEML(t *testing.T) {
	yamlSrc, err := os.ReadFile("../../lessons/course.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := course.ParseCourseYAML(yamlSrc)
	src, err := os.ReadFile("../course/testdata/07-the-test-lesson.md")
	if err != nil {
		t.Fatal(err)
	}
	ls, problems := course.ParseLesson("07-the-test-lesson.md", src)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	c.Lessons = []*course.Lesson{ls}
	renderer, err := course.NewRenderer(twostep.Templates)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := token.NewSigner(bytes.Repeat([]byte("g"), 32))
	letters := &letter.Letters{Course: c, Renderer: renderer, Signer: signer, BaseURL: "https://lessons.example.org", From: c.From}
	wd, hour := time.Monday, 8
	sub := &drip.Subscriber{ID: 42, TokenGen: 1, Name: "Ann Lee", Email: "ann@example.com", SendWeekday: &wd, SendHour: &hour, NextLesson: 7}
	msg, id, err := letters.Lesson(c, ls, sub, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	got = bytes.ReplaceAll(got, []byte(id), []byte("MESSAGE-ID@twostep.example"))
	boundary := regexp.MustCompile(`boundary=([0-9a-f]+)`).FindSubmatch(got)
	if boundary == nil {
		t.Fatalf("no boundary in:\n%s", got)
	}
	got = bytes.ReplaceAll(got, boundary[1], []byte("BOUNDARY"))

	const golden = "testdata/lesson.golden.eml"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the lesson email differs from %s (go test ./internal/letter -run Golden -update to accept):\n%s", golden, got)
	}
}
