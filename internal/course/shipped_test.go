package course_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/course"
)

// This test fails until all 52 shipped lessons exist and are valid: it is
// the check that `twostep lessons check` would run on the embedded course.
func TestTheShippedCourseLoadsWithoutProblems(t *testing.T) {
	c, ps := course.Load(twostep.Lessons)
	for _, p := range ps {
		t.Error(p)
	}
	if ps := course.Validate(c); ps != nil {
		t.Errorf("Validate found problems Load did not report:\n%v", ps)
	}
	if c.LessonCount != 52 || len(c.Lessons) != c.LessonCount {
		t.Errorf("the course has %d of %d lessons, want 52", len(c.Lessons), c.LessonCount)
	}
	t.Log(c.Summary())
}

func TestEveryShippedLessonRendersWithTheShippedTemplates(t *testing.T) {
	c, _ := course.Load(twostep.Lessons)
	r, err := course.NewRenderer(twostep.Templates)
	if err != nil {
		t.Fatal(err)
	}
	rc := course.Recipient{FirstName: "Anna", UnsubscribeURL: "https://example.com/u/t", PreferencesURL: "https://example.com/p/t"}
	for _, l := range c.Lessons {
		e, err := r.Lesson(c, l, rc)
		if err != nil {
			t.Errorf("%s: %v", l.File, err)
			continue
		}
		for i, line := range strings.Split(e.Text, "\n") {
			if utf8.RuneCountInString(line) > course.Width && strings.Contains(strings.TrimSpace(line), " ") {
				t.Errorf("%s: text line %d has %d columns: %q", l.File, i+1, utf8.RuneCountInString(line), line)
			}
		}
		if strings.Contains(e.Text, "{{") || strings.Contains(e.HTML, "{{") {
			t.Errorf("%s: a placeholder was left unfilled", l.File)
		}
	}
	if _, err := r.Confirmation(c, "", "https://example.com/confirm/t", "https://example.com/u/t"); err != nil {
		t.Error(err)
	}
}
