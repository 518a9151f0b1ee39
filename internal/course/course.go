// Package course holds the lessons of a twostep course: it loads course.yaml
// and the NN-slug.md lesson files, validates them (every problem reported as
// "file:line: msg", or "course: msg" for a rule of the whole course), and
// renders lessons into emails and web fragments.
package course

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// MaxLessons is the most lessons a course can have: lesson files are named
// with two digits and the product promises a year of weekly lessons.
const MaxLessons = 52

// WordsPerMinute is the reading speed ReadingTime assumes.
const WordsPerMinute = 230

// Body length limits in words. 450 words at WordsPerMinute is just under two
// minutes, which is what the confirmation email promises.
const (
	MinWords = 200
	MaxWords = 450
)

// MaxLessonSize is the largest lesson file, in bytes, that is parsed as
// Markdown or rendered: ten times the longest lesson the word limit allows.
// Pathological Markdown takes time that grows faster than its length, so the
// limit is what keeps a pasted megabyte from stalling the admin preview.
const MaxLessonSize = 32 << 10

const courseFile = "course.yaml"

// Course is the whole course: its settings from course.yaml and its lessons.
type Course struct {
	Title, Tagline, Language, Author string
	From, ReplyTo                    string // RFC 5322 addresses, validated with net/mail
	PostalAddress                    string
	SendHour                         int // 0..23, the default local hour of delivery
	// LessonCount is how many lessons the course has ("lessons" in
	// course.yaml). Emails say "Lesson 7 of <LessonCount>".
	LessonCount int
	Lessons     []*Lesson // sorted by Number
	// Closing is the closing email after the last lesson (closing.md).
	Closing *Closing

	lines map[string]int // course.yaml line of each field, for problems
}

// Lesson is one lesson file.
type Lesson struct {
	Number                 int
	Title, Slug, Preheader string
	Part                   Part   // "part" in the front matter: work or home
	File                   string // base file name, e.g. "07-purpose-over-rules.md"
	Source                 []byte // the whole file as read: what a stored revision keeps
	Body                   string // Markdown after the front matter
	BodyLine               int    // 1-based line of the file where Body starts
	Words                  int

	lines     map[string]int // file line of each front-matter key, for problems
	sentences struct {       // found by ParseLesson, for Validate
		ok   bool
		body string // the Body they were found in
		list []sentence
	}
}

// ReadingTime is how long the body takes to read at WordsPerMinute.
func (l *Lesson) ReadingTime() time.Duration {
	return time.Duration(l.Words) * time.Minute / WordsPerMinute
}

// FileName is the name the lesson's file should have: "07-purpose-over-rules.md".
func (l *Lesson) FileName() string {
	return fmt.Sprintf("%02d-%s.md", l.Number, l.Slug)
}

// Markdown returns the lesson as a file that ParseLesson accepts: the source
// as read when there is one, otherwise front matter rebuilt from the fields
// followed by Body. The returned slice must not be modified.
func (l *Lesson) Markdown() []byte {
	if len(l.Source) > 0 {
		return l.Source
	}
	str := func(v string, style yaml.Style) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: style}
	}
	fm := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		str("number", 0), {Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(l.Number)},
		str("title", 0), str(l.Title, yaml.DoubleQuotedStyle),
		str("slug", 0), str(l.Slug, 0),
		str("preheader", 0), str(l.Preheader, yaml.DoubleQuotedStyle),
		str("part", 0), str(string(l.Part), 0),
	}}
	out, err := yaml.Marshal(fm)
	if err != nil {
		// Marshalling a mapping of plain scalars cannot fail; keep the
		// fields readable rather than losing the lesson.
		out = fmt.Appendf(nil, "number: %d\ntitle: %q\nslug: %s\npreheader: %q\npart: %s\n", l.Number, l.Title, l.Slug, l.Preheader, l.Part)
	}
	var b strings.Builder
	b.WriteString("---\n")
	b.Write(out)
	b.WriteString("---\n")
	b.WriteString(l.Body)
	return []byte(b.String())
}

// line is the file line of a front-matter key, or 1 when unknown.
func (l *Lesson) line(key string) int {
	if n := l.lines[key]; n > 0 {
		return n
	}
	return 1
}

// line is the course.yaml line of a field, or 1 when unknown.
func (c *Course) line(key string) int {
	if n := c.lines[key]; n > 0 {
		return n
	}
	return 1
}

// Lesson returns lesson number n, or nil when the course has none.
func (c *Course) Lesson(n int) *Lesson {
	for _, l := range c.Lessons {
		if l.Number == n {
			return l
		}
	}
	return nil
}

// count is the number of lessons emails announce ("of 52").
func (c *Course) count() int {
	if c.LessonCount > 0 {
		return c.LessonCount
	}
	return len(c.Lessons)
}

// Summary describes the course in one line, e.g. "52 lessons, longest
// 1m58s, reading ease 63.5": the longest reading time and the average
// Flesch reading ease (ReadingEase), the two figures the signup page's
// promise of short, plain lessons rests on.
func (c *Course) Summary() string {
	var longest time.Duration
	for _, l := range c.Lessons {
		longest = max(longest, l.ReadingTime())
	}
	noun := "lessons"
	if len(c.Lessons) == 1 {
		noun = "lesson"
	}
	if len(c.Lessons) == 0 {
		return "0 lessons"
	}
	return fmt.Sprintf("%d %s, longest %s, reading ease %.1f", len(c.Lessons), noun, longest.Round(time.Second), c.ReadingEase())
}

// Load reads course.yaml, every lesson file (NN-*.md) and closing.md at the
// root of fsys, checks each of them and then the course as a whole
// (Validate). It
// returns every problem found, sorted by file and line, or nil when the
// course is valid; the course holds whatever could be parsed either way.
func Load(fsys fs.FS) (*Course, Problems) {
	var ps Problems
	c := &Course{}
	if src, ok := readFile(fsys, courseFile, "course.yaml is missing", &ps); ok {
		var cps Problems
		c, cps = ParseCourseYAML(src)
		ps = append(ps, cps...)
	}

	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		ps.add(".", 1, "cannot list the lesson files: %v", err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !isLessonFileName(name) {
			continue
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			ps.add(name, 1, "cannot read the file: %v", err)
			continue
		}
		l, lps := ParseLesson(name, src)
		ps = append(ps, lps...)
		if l.Number > 0 {
			c.Lessons = append(c.Lessons, l)
		}
	}
	sortLessons(c.Lessons)
	src, err := fs.ReadFile(fsys, ClosingFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A course folder from before closing.md existed still loads: its
		// readers get a plain goodbye until it has words of its own.
		src = defaultClosing
	case err != nil:
		ps.add(ClosingFile, 1, "cannot read %s: %v", ClosingFile, err)
	}
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		var cps Problems
		c.Closing, cps = ParseClosing(src)
		ps = append(ps, cps...)
	}
	ps = append(ps, Validate(c)...)
	return c, ps.sorted()
}

// defaultClosing is the closing email of a course folder without a
// closing.md.
//
//go:embed defaults/closing.md
var defaultClosing []byte

// readFile reads one of the course folder's fixed files, reporting it as
// missing (with missing as the problem) or unreadable.
func readFile(fsys fs.FS, name, missing string, ps *Problems) ([]byte, bool) {
	src, err := fs.ReadFile(fsys, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ps.add(name, 1, "%s", missing)
	case err != nil:
		ps.add(name, 1, "cannot read %s: %v", name, err)
	}
	return src, err == nil
}

// isLessonFileName says whether Load treats a file as a lesson: a Markdown
// file whose name starts with a digit, so that a README.md can sit next to
// the lessons while a misnamed lesson such as "7-x.md" is still checked.
func isLessonFileName(name string) bool {
	return path.Ext(name) == ".md" && name != "" && unicode.IsDigit(rune(name[0]))
}

func sortLessons(ls []*Lesson) {
	slices.SortStableFunc(ls, func(a, b *Lesson) int {
		if a.Number != b.Number {
			return a.Number - b.Number
		}
		return strings.Compare(a.File, b.File)
	})
}
