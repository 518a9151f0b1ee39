package course

import (
	"strings"
	"testing"
	"time"
)

func TestParseLessonReadsTheFrontMatterAndBody(t *testing.T) {
	src := lessonMD(1, "one", "One")
	l, ps := ParseLesson("01-one.md", []byte(src))
	if ps != nil {
		t.Fatalf("problems: %v", ps)
	}
	type fields struct {
		Number                       int
		Title, Slug, Preheader, File string
		BodyLine, Words              int
	}
	want := fields{1, "One", "one", "What lesson 1 is about, in one line.", "01-one.md", 8, 260}
	got := fields{l.Number, l.Title, l.Slug, l.Preheader, l.File, l.BodyLine, l.Words}
	if got != want {
		t.Errorf("lesson = %+v, want %+v", got, want)
	}
	if l.Body != "\n"+lessonBody(1) {
		t.Errorf("body = %q", l.Body)
	}
	if string(l.Source) != src {
		t.Error("source is not the file as read")
	}
}

func TestParseLessonWithoutAFileNameSkipsTheNameCheck(t *testing.T) {
	if _, ps := ParseLesson("", []byte(lessonMD(5, "five", "Five"))); ps != nil {
		t.Errorf("problems: %v", ps)
	}
}

func TestMarkdownRoundTripsThroughParseLesson(t *testing.T) {
	tests := []struct {
		name   string
		lesson *Lesson
	}{
		{"a lesson as read returns its source", func() *Lesson {
			l, _ := ParseLesson("01-one.md", []byte(lessonMD(1, "one", "One")))
			return l
		}()},
		{"a lesson built in code gets front matter", &Lesson{Number: 12, Title: `Ask "before" you advise: it's #1`, Slug: "ask-before-you-advise", Part: PartHome,
			Preheader: "Quotes \"and\" colons: {fine} – and accents é.", Body: "\n" + lessonBody(12)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.lesson
			back, ps := ParseLesson(l.FileName(), l.Markdown())
			if ps != nil {
				t.Fatalf("ParseLesson(Markdown()): %v\n%s", ps, l.Markdown())
			}
			if back.Number != l.Number || back.Title != l.Title || back.Slug != l.Slug || back.Preheader != l.Preheader || back.Part != l.Part || back.Body != l.Body {
				t.Errorf("round trip changed the lesson:\n got %+v\nwant %+v", back, l)
			}
		})
	}
}

func TestReadingTimeIsWordsAt230PerMinute(t *testing.T) {
	tests := []struct {
		words int
		want  time.Duration
	}{
		{0, 0},
		{230, time.Minute},
		{115, 30 * time.Second},
		{450, 450 * time.Minute / 230},
	}
	for _, tt := range tests {
		if got := (&Lesson{Words: tt.words}).ReadingTime(); got != tt.want {
			t.Errorf("ReadingTime(%d words) = %v, want %v", tt.words, got, tt.want)
		}
	}
	if d := (&Lesson{Words: MaxWords}).ReadingTime(); d >= 2*time.Minute {
		t.Errorf("the longest allowed lesson takes %v, the confirmation promises under two minutes", d)
	}
}

func TestSummaryGivesTheCountTheLongestLessonAndTheAverageReadingEase(t *testing.T) {
	// Reading ease 116.1 and 92.9 (see TestReadingEaseFollowsFleschOnKnownSentences).
	const cat, scrap = "The cat sat on the mat.\n", "Keep a scrap of paper by your keyboard.\n"
	tests := []struct {
		name   string
		words  []int
		bodies []string
		want   string
	}{
		{"no lessons", nil, nil, "0 lessons"},
		{"one lesson", []int{230}, []string{cat}, "1 lesson, longest 1m0s, reading ease 116.1"},
		{"the longest decides, the average is of lessons", []int{100, 453, 300}, []string{cat, scrap, scrap}, "3 lessons, longest 1m58s, reading ease 100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Course{}
			for i, w := range tt.words {
				c.Lessons = append(c.Lessons, &Lesson{Number: i + 1, Words: w, Body: tt.bodies[i]})
			}
			if got := c.Summary(); got != tt.want {
				t.Errorf("Summary() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCourseLessonFindsByNumber(t *testing.T) {
	c, ps := Load(validCourse())
	if ps != nil {
		t.Fatal(ps)
	}
	if l := c.Lesson(2); l == nil || l.Slug != "two" {
		t.Errorf("Lesson(2) = %v", l)
	}
	if l := c.Lesson(3); l != nil {
		t.Errorf("Lesson(3) = %v, want nil", l)
	}
	if c.Lessons[0].Number != 1 || c.Lessons[1].Number != 2 {
		t.Error("lessons are not sorted by number")
	}
}

func TestParseCourseYAMLReadsEveryField(t *testing.T) {
	c, ps := ParseCourseYAML([]byte(courseYAML))
	if ps != nil {
		t.Fatal(ps)
	}
	got := []any{c.Title, c.Tagline, c.Language, c.Author, c.From, c.ReplyTo, c.PostalAddress, c.SendHour, c.LessonCount}
	want := []any{"Test Course", "A course for tests.", "en-GB", "Ada Author", "Test Course <lessons@example.com>",
		"Ada Author <ada@example.com>", "1 Test Street, Testville", 8, 2}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestLanguageTagsThatArePlausibleAreAccepted(t *testing.T) {
	for _, tag := range []string{"en", "de", "en-GB", "pt-BR", "zh-Hant-TW", "es-419", "de-CH-1996", "fil"} {
		if !languageRe.MatchString(tag) {
			t.Errorf("%q was rejected", tag)
		}
	}
	for _, tag := range []string{"", "english", "e", "en_GB", "en-", "123", "en GB"} {
		if languageRe.MatchString(tag) {
			t.Errorf("%q was accepted", tag)
		}
	}
}

func TestSentencesSplitAtEndPunctuation(t *testing.T) {
	s := `He said "stop." Then left! Why? Because… it was late. e.g.done`
	var got []string
	for _, span := range splitSentences(s) {
		got = append(got, s[span[0]:span[1]])
	}
	want := []string{`He said "stop."`, "Then left!", "Why?", "Because…", "it was late.", "e.g.done"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sentences = %q, want %q", got, want)
	}
}
