package course

import (
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestPartsAreExactlyWorkAndHome(t *testing.T) {
	for _, s := range []string{"work", "home"} {
		if p, ok := ParsePart(s); !ok || string(p) != s {
			t.Errorf("ParsePart(%q) = %q, %v", s, p, ok)
		}
	}
	for _, s := range []string{"", "Work", "HOME", " home", "family", "both"} {
		if _, ok := ParsePart(s); ok {
			t.Errorf("ParsePart(%q) accepted it", s)
		}
	}
}

func TestTryWordsMatchWholeWordsWithTheirPluralsAndPossessives(t *testing.T) {
	team := tryNeeds[0].words
	tests := []struct {
		text, want string
	}{
		{"Ask your team.", "your team"},
		{"Write your team's goal.", "your team"},
		{"Write your team’s goal.", "your team"},
		{"Tell YOUR TEAM first.", "your team"},
		{"Tell your\nteam first.", "your team"},
		{"Point it out to the team.", "the team"},
		{"Meet the teams.", "the team"},
		{"At your next team meeting, ask.", "team meeting"},
		{"Before your next one-to-one, write.", "one-to-one"},
		{"In your one-to-ones this week.", "one-to-one"},
		{"Ask each of your direct reports.", "direct report"},
		{"Think of a team you depend on but don't manage.", ""},
		{"Let off steam with the teammates.", ""},
		{"Let off some steam.", ""},
	}
	for _, tt := range tests {
		if got := mentions(tt.text, team); got != tt.want {
			t.Errorf("mentions(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	home := tryNeeds[1].words
	for text, want := range map[string]string{
		"Ask your partner.":              "partner",
		"Both partners agree.":           "partner",
		"Sit down as a household.":       "household",
		"Pick three jobs in your home.":  "your home",
		"A partnership works both ways.": "",
		"Go home early.":                 "",
	} {
		if got := mentions(text, home); got != want {
			t.Errorf("mentions(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestNumberRangesAreCompact(t *testing.T) {
	for _, tt := range []struct {
		ns   []int
		want string
	}{
		{nil, ""}, {[]int{4}, "4"}, {[]int{1, 2, 3, 5}, "1-3, 5"}, {[]int{9, 7, 8, 1}, "1, 7-9"},
	} {
		if got := numberRanges(tt.ns); got != tt.want {
			t.Errorf("numberRanges(%v) = %q, want %q", tt.ns, got, tt.want)
		}
	}
}

func TestProblemsWithTheWholeCoursePrintWithoutALineAndComeLast(t *testing.T) {
	var ps Problems
	ps.addCourse("too samey")
	ps.add("02-two.md", 3, "second")
	ps.add(courseFile, 2, "first")
	got := problemStrings(ps.sorted())
	want := []string{"course.yaml:2: first", "02-two.md:3: second", "course: too samey"}
	if !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
}

// fixtureCourse is testdata/course, a four-lesson course written to pass
// every rule, as a map that test cases can edit.
func fixtureCourse(t *testing.T) fstest.MapFS {
	t.Helper()
	entries, err := os.ReadDir("testdata/course")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for _, e := range entries {
		b, err := os.ReadFile("testdata/course/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		fsys[e.Name()] = &fstest.MapFile{Data: b}
	}
	return fsys
}

func TestTheRulesHoldOnAWrittenCourseAndCatchEachBreak(t *testing.T) {
	base := fixtureCourse(t)
	const one, two, three, four = "01-ask-what-the-work-needs.md", "02-the-question-nobody-asks.md", "03-the-dishes-at-ten.md", "04-your-own-week.md"
	tests := []struct {
		name string
		fsys fstest.MapFS
		want []string
	}{
		{"the course as written has no problems", base, nil},
		{"without its home lesson it has four work lessons in a row",
			edit(base, three, "part: home\n", "part: work\n"),
			[]string{`course: lessons 1 to 4 are all part: work; at least one lesson in every 4 in a row must be part: home`}},
		{"without its No team? sentence the team task is reported on its line",
			edit(base, two, " No team? Ask a colleague or a friend the same question about something you are doing together.", ""),
			[]string{`02-the-question-nobody-asks.md:21: "## Try this week" mentions "your team", which not every reader has (a team): add a variant for them in a sentence starting "No team?"`}},
		{"without its No partner? sentence the household task is reported",
			edit(base, three, " No partner? Do the same with a flatmate, or with a job you share with a friend or a parent.", ""),
			[]string{`03-the-dishes-at-ten.md:21: "## Try this week" mentions "partner", which not every reader has (a partner or a shared home): add a variant for them in a sentence starting "No partner?"`}},
		{"without its No kids? sentence the task with children is reported",
			edit(base, three, " No kids? Skip that part.", ""),
			[]string{`03-the-dishes-at-ten.md:21: "## Try this week" mentions "your kid", which not every reader has (children): add a variant for them in a sentence starting "No kids?"`}},
		{"a second opening with a named person in a named place is one too many",
			edit(base, four, "Think back over the last five working days.", "Priya runs a bakery in Leeds, and she thinks back over the last five working days."),
			[]string{`course: 2 of 4 lessons open with a named person in a named place; at most 1 may (lessons 1, 4)`}},
		{"the same sentence in two lessons is reported",
			edit(base, four, "That is normal.", "They see things you cannot see from where you stand."),
			[]string{`04-your-own-week.md:17: sentence "They see things you cannot see from where you stand." also appears in 01-ask-what-the-work-needs.md:15`}},
		{"a lesson over two minutes is reported",
			// 251 words less "That is normal." plus 25 sentences of 10.
			edit(base, four, "That is normal.", strings.Repeat("It gets easier with each week you keep the hour. ", 25)),
			[]string{`04-your-own-week.md:1: body has 498 words; a lesson needs 200 to 450`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := loadAll(tt.fsys)
			if got := problemStrings(ps); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	c, _ := Load(base)
	if ease := c.ReadingEase(); ease < MinReadingEase {
		t.Errorf("the written course reads at %.1f", ease)
	}
}
