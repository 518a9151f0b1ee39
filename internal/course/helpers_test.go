package course

import (
	"fmt"
	"io/fs"
	"strings"
	"testing/fstest"
)

// courseYAML is a valid course.yaml for a two-lesson course. Line numbers
// matter to the tests: title is line 1, lessons line 9.
const courseYAML = `title: "Test Course"
tagline: "A course for tests."
language: en-GB
author: "Ada Author"
from: "Test Course <lessons@example.com>"
reply_to: "Ada Author <ada@example.com>"
postal_address: "1 Test Street, Testville"
send_hour: 8
lessons: 2
`

// lessonMD returns a valid lesson with 260 words whose sentences mention
// the lesson number, so that no sentence repeats across lessons.
//
// Line layout: 1 "---", 2 number, 3 title, 4 slug, 5 preheader, 6 part,
// 7 "---", 8 blank (BodyLine), paragraphs on 9, 11, 13 and 15, "## Try this
// week" on 17, its text on 19, "## Reflect" on 21, the question on 23.
func lessonMD(n int, slug, title string) string {
	return lessonWith(n, slug, title, lessonBody(n))
}

// lessonBody is the body of lessonMD, starting at line 9 of the file.
func lessonBody(n int) string {
	var b strings.Builder
	for p := 1; p <= 4; p++ {
		for s := 1; s <= 6; s++ {
			fmt.Fprintf(&b, "Sentence %d of paragraph %d in lesson %d says something. ", s, p, n)
		}
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "## Try this week\n\nDo the small exercise from lesson %d before Friday.\n\n", n)
	fmt.Fprintf(&b, "## Reflect\n\nWhat did lesson %d change for you?\n", n)
	return b.String()
}

// lessonWith returns a part: work lesson file with the given body on line 9
// onwards.
func lessonWith(n int, slug, title, body string) string {
	return lessonIn(PartWork, n, slug, title, body)
}

// lessonIn is lessonWith for a lesson of the given part.
func lessonIn(part Part, n int, slug, title, body string) string {
	return fmt.Sprintf("---\nnumber: %d\ntitle: %q\nslug: %s\npreheader: \"What lesson %d is about, in one line.\"\npart: %s\n---\n\n%s", n, title, slug, n, part, body)
}

// validCourse is a two-lesson course with no problems.
func validCourse() fstest.MapFS {
	return fstest.MapFS{
		"course.yaml": {Data: []byte(courseYAML)},
		"01-one.md":   {Data: []byte(lessonMD(1, "one", "One"))},
		"02-two.md":   {Data: []byte(lessonMD(2, "two", "Two"))},
		"closing.md":  {Data: []byte(closingMD)},
	}
}

// courseOf is a valid course with a lesson for each letter of parts, "w"
// for part: work and "h" for part: home; lesson n is "0n-lesson-n.md".
func courseOf(parts string) fstest.MapFS {
	fsys := fstest.MapFS{"course.yaml": {Data: []byte(strings.Replace(courseYAML, "lessons: 2", fmt.Sprintf("lessons: %d", len(parts)), 1))}}
	for i, p := range parts {
		n, part := i+1, PartWork
		if p == 'h' {
			part = PartHome
		}
		slug := fmt.Sprintf("lesson-%d", n)
		fsys[fmt.Sprintf("%02d-%s.md", n, slug)] = &fstest.MapFile{Data: []byte(lessonIn(part, n, slug, fmt.Sprintf("Lesson %d", n), lessonBody(n)))}
	}
	return fsys
}

// closingMD is a valid closing.md.
const closingMD = `---
subject: "You finished Test Course"
preheader: "Two lessons, and what comes next."
button: "Restart"
signoff: "Thanks,"
---

That was the last lesson, {{first_name|reader}}.

{{button}}

Or do nothing.
`

// edit returns a copy of fsys with old replaced by new in file; it panics
// when old is absent so that a broken test case cannot pass silently.
func edit(fsys fstest.MapFS, file, old, new string) fstest.MapFS {
	src := string(fsys[file].Data)
	if !strings.Contains(src, old) {
		panic(fmt.Sprintf("edit %s: %q not found", file, old))
	}
	out := fstest.MapFS{}
	for k, v := range fsys {
		out[k] = v
	}
	out[file] = &fstest.MapFile{Data: []byte(strings.Replace(src, old, new, 1))}
	return out
}

// rename returns a copy of fsys with a file renamed (and new content when
// data is not nil).
func rename(fsys fstest.MapFS, from, to string, data []byte) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range fsys {
		out[k] = v
	}
	if data == nil {
		data = out[from].Data
	}
	delete(out, from)
	out[to] = &fstest.MapFile{Data: data}
	return out
}

// without returns a copy of fsys without the file.
func without(fsys fstest.MapFS, file string) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range fsys {
		if k != file {
			out[k] = v
		}
	}
	return out
}

// with returns a copy of fsys with a file added or replaced.
func with(fsys fstest.MapFS, file, data string) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range fsys {
		out[k] = v
	}
	out[file] = &fstest.MapFile{Data: []byte(data)}
	return out
}

func problemStrings(ps Problems) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

// loadAll is Load with the editorial rules' advice added, sorted as Load
// sorts: every rule a table of cases may break.
func loadAll(fsys fs.FS) (*Course, Problems) {
	c, ps := Load(fsys)
	return c, append(ps, Editorial(c)...).sorted()
}
