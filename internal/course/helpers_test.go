package course

import (
	"fmt"
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
// Line layout: 1 "---", 2 number, 3 title, 4 slug, 5 preheader, 6 "---",
// 7 blank (BodyLine), paragraphs on 8, 10, 12 and 14, "## Try this week"
// on 16, its text on 18, "## Reflect" on 20, the question on 22.
func lessonMD(n int, slug, title string) string {
	return lessonWith(n, slug, title, lessonBody(n))
}

// lessonBody is the body of lessonMD, starting at line 8 of the file.
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

// lessonWith returns a lesson file with the given body on line 8 onwards.
func lessonWith(n int, slug, title, body string) string {
	return fmt.Sprintf("---\nnumber: %d\ntitle: %q\nslug: %s\npreheader: \"What lesson %d is about, in one line.\"\n---\n\n%s", n, title, slug, n, body)
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
