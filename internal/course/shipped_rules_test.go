package course

import (
	"slices"
	"testing"
	"time"

	"github.com/twostep/twostep"
)

// The shipped course is product: these are the rules issue 14 set for its
// second edition, each run on the embedded course on its own so that a
// failure names the rule that regressed. Load runs them all as well (see
// TestTheShippedCourseLoadsWithoutProblems).
func TestTheShippedCourseKeepsEveryCourseRule(t *testing.T) {
	c, _ := Load(twostep.Lessons)
	if len(c.Lessons) == 0 {
		t.Fatal("the shipped course has no lessons")
	}
	for _, r := range append(slices.Clone(courseRules), editorialRules...) {
		t.Run(r.name, func(t *testing.T) {
			var ps Problems
			r.check(c, &ps)
			for _, p := range ps.sorted() {
				t.Error(p)
			}
		})
	}
}

func TestEveryShippedLessonHasAPartAndReadsInUnderTwoMinutes(t *testing.T) {
	c, _ := Load(twostep.Lessons)
	home := 0
	for _, l := range c.Lessons {
		if _, ok := ParsePart(string(l.Part)); !ok {
			t.Errorf("%s: part %q, want work or home", l.File, l.Part)
		}
		if l.Part == PartHome {
			home++
		}
		if d := l.ReadingTime(); d >= 2*time.Minute {
			t.Errorf("%s: reads in %v, the signup page promises under two minutes", l.File, d)
		}
	}
	// One in every four weeks at least: 13 of 52.
	if min := len(c.Lessons) / HomeEvery; home < min {
		t.Errorf("%d home lessons, want at least %d", home, min)
	}
	t.Logf("%s; %d home lessons", c.Summary(), home)
}
