package course

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadReportsEachProblemWithItsFileAndLine(t *testing.T) {
	base := validCourse()
	one := "01-one.md"
	body1 := lessonBody(1)
	longWords := strings.Repeat("Extra sentence of lesson one adds ten words to length. ", 20)
	const noTeamVariant = `01-one.md:19: "## Try this week" mentions "your team", which not every reader has (a team): add a variant for them in a sentence starting "No team?"`
	tests := []struct {
		name string
		fsys fstest.MapFS
		want []string
	}{
		{"a valid course has no problems", base, nil},
		{"a file with CRLF line ends has no problems",
			with(base, one, strings.ReplaceAll(lessonMD(1, "one", "One"), "\n", "\r\n")), nil},
		{"a README next to the lessons is ignored", with(base, "README.md", "# Notes\n"), nil},

		// Front matter.
		{"a lesson without front matter is reported on line 1",
			with(base, one, body1),
			[]string{`01-one.md:1: missing front matter: the file must start with a "---" line, then number, title, slug, preheader and part, then "---"`}},
		{"front matter that is never closed is reported",
			edit(base, one, "part: work\n---\n", "part: work\n"),
			[]string{`01-one.md:1: front matter is not closed by a "---" line`}},
		{"empty front matter is reported",
			with(base, one, "---\n---\n\n"+body1),
			[]string{`01-one.md:1: front matter is empty: it needs number, title, slug, preheader and part`}},
		{"malformed front-matter YAML is reported on its line",
			edit(base, one, `title: "One"`, `title: One: Two`),
			[]string{`01-one.md:3: malformed YAML: mapping values are not allowed in this context`}},
		{"an unclosed list in the front matter is reported on its line",
			edit(base, one, "slug: one\n", "slug: [one\n"),
			[]string{`01-one.md:4: malformed YAML: did not find expected ',' or ']'`}},
		{"an unknown front-matter key is reported on its line",
			edit(base, one, "slug: one\n", "slug: one\nauthor: Ada\n"),
			[]string{`01-one.md:5: unknown front-matter key "author" (expected number, title, slug, preheader, part)`}},
		{"a front-matter key given twice is reported on the second",
			edit(base, one, "slug: one\n", "slug: one\nslug: one\n"),
			[]string{`01-one.md:5: front-matter key "slug" is given twice`}},
		{"a missing front-matter key is reported on line 1",
			edit(base, one, "preheader: \"What lesson 1 is about, in one line.\"\n", ""),
			[]string{`01-one.md:1: missing front-matter key "preheader"`}},
		{"a number outside 1..52 is reported",
			edit(base, one, "number: 1\n", "number: 53\n"),
			[]string{
				`course.yaml:9: lesson 1 is missing: no 01-*.md file with number: 1`,
				`01-one.md:2: number 53 is outside 1..52`,
			}},
		{"a number beyond the course's lesson count is reported",
			rename(edit(base, one, "number: 1\n", "number: 3\n"), one, "03-one.md", nil),
			[]string{
				`course.yaml:9: lesson 1 is missing: no 01-*.md file with number: 1`,
				`03-one.md:2: number 3 is outside 1..2 (course.yaml says the course has 2 lessons)`,
			}},
		{"a number that is not a whole number is reported",
			edit(base, one, "number: 1\n", "number: seven\n"),
			[]string{`01-one.md:2: number must be a whole number from 1 to 52`}},
		{"two lessons with the same number are reported, and the gap they leave",
			rename(edit(base, "02-two.md", "number: 2\n", "number: 1\n"), "02-two.md", "01-two.md", nil),
			[]string{
				`course.yaml:9: lesson 2 is missing: no 02-*.md file with number: 2`,
				`01-two.md:2: number 1 is also used by 01-one.md`,
			}},
		{"a missing lesson is reported against course.yaml",
			edit(base, "course.yaml", "lessons: 2", "lessons: 3"),
			[]string{`course.yaml:9: lesson 3 is missing: no 03-*.md file with number: 3`}},
		{"a file name that is not NN-slug.md is reported",
			rename(base, one, "1-one.md", nil),
			[]string{`1-one.md:1: file name must be NN-slug.md, e.g. "07-purpose-over-rules.md"`}},
		{"a file name that does not match the slug is reported",
			rename(base, one, "01-uno.md", nil),
			[]string{`01-uno.md:1: file name must be "01-one.md" to match number and slug`}},
		{"a file name that does not match the number is reported",
			rename(base, one, "02-one.md", nil),
			[]string{`02-one.md:1: file name must be "01-one.md" to match number and slug`}},
		{"a malformed slug is reported",
			edit(base, one, "slug: one\n", "slug: One_Two\n"),
			[]string{`01-one.md:4: slug "One_Two" must be lowercase letters, digits and single hyphens`}},
		{"two lessons with the same slug are reported",
			rename(edit(base, "02-two.md", "slug: two\n", "slug: one\n"), "02-two.md", "02-one.md", nil),
			[]string{`02-one.md:4: slug "one" is also used by 01-one.md`}},
		{"two titles that differ only in case are reported",
			edit(base, "02-two.md", `title: "Two"`, `title: "ONE"`),
			[]string{`02-two.md:3: title "ONE" is also used by 01-one.md`}},
		{"a title over 70 characters is reported",
			edit(base, one, `title: "One"`, `title: "`+strings.Repeat("x", 71)+`"`),
			[]string{`01-one.md:3: title is 71 characters long; the limit is 70`}},
		{"a title without double quotes is reported",
			edit(base, one, `title: "One"`, `title: One`),
			[]string{`01-one.md:3: title must be in double quotes: title: "..."`}},
		{"an empty title is reported",
			edit(base, one, `title: "One"`, `title: ""`),
			[]string{`01-one.md:3: title is empty`}},
		{"an escaped control character in the title is reported",
			edit(base, one, `title: "One"`, `title: "One\a"`),
			[]string{`01-one.md:3: title contains a control character`}},
		{"template syntax in the title is reported",
			edit(base, one, `title: "One"`, `title: "One for {{first_name}}"`),
			[]string{`01-one.md:3: title must not contain {{...}}: placeholders only work in the body`}},
		{"a preheader over 110 characters is reported",
			edit(base, one, `preheader: "What lesson 1 is about, in one line."`, `preheader: "`+strings.Repeat("y", 111)+`"`),
			[]string{`01-one.md:5: preheader is 111 characters long; the limit is 110`}},
		{"a preheader with a line break is reported",
			edit(base, one, `about, in one line."`, `about,\nin two lines."`),
			[]string{`01-one.md:5: preheader must be a single line, without line breaks`}},

		// Body.
		{"a body under 200 words is reported on line 1",
			with(base, one, lessonWith(1, "one", "One", "Short.\n\n## Try this week\n\nDo it.\n\n## Reflect\n\nWhy?\n")),
			[]string{`01-one.md:1: body has 8 words; a lesson needs 200 to 450`}},
		{"a body over 450 words is reported on line 1",
			edit(base, one, "## Try this week", longWords+"\n\n## Try this week"),
			[]string{`01-one.md:1: body has 460 words; a lesson needs 200 to 450`}},
		{"a lesson without its try-this-week section is reported",
			edit(base, one, "## Try this week\n\n", ""),
			[]string{`01-one.md:1: missing the "## Try this week" section before "## Reflect"`}},
		{"a lesson without its reflect section is reported",
			edit(base, one, "## Reflect\n\n", ""),
			[]string{`01-one.md:1: missing the "## Reflect" section after "## Try this week"`}},
		{"a lesson without either section is reported once",
			edit(edit(base, one, "## Reflect\n\n", ""), one, "## Try this week\n\n", ""),
			[]string{`01-one.md:1: missing the "## Try this week" and "## Reflect" sections at the end`}},
		{"sections in the wrong order are reported on the misplaced heading",
			edit(base, one, "## Try this week\n\nDo the small exercise from lesson 1 before Friday.\n\n## Reflect\n\nWhat did lesson 1 change for you?\n",
				"## Reflect\n\nWhat did lesson 1 change for you?\n\n## Try this week\n\nDo the small exercise from lesson 1 before Friday.\n"),
			[]string{`01-one.md:17: "## Reflect" must come after "## Try this week"`}},
		{"a section given twice is reported on the second",
			with(base, one, lessonMD(1, "one", "One")+"\n## Reflect\n\nAnd what else?\n"),
			[]string{`01-one.md:25: "## Reflect" appears more than once`}},
		{"an empty section is reported",
			edit(base, one, "What did lesson 1 change for you?\n", ""),
			[]string{`01-one.md:21: the "## Reflect" section is empty`}},
		{"any other heading is reported on its line",
			edit(base, one, "## Try this week", "### A subheading\n\n## Try this week"),
			[]string{`01-one.md:17: heading "A subheading" is not allowed: the only headings are "## Try this week" and "## Reflect"`}},
		{"a raw HTML block is reported on its line",
			edit(base, one, "## Try this week", "<script>alert(1)</script>\n\n## Try this week"),
			[]string{`01-one.md:17: raw HTML is not allowed (it is never sent)`}},
		{"inline raw HTML is reported once per line",
			edit(base, one, "says something.", "says <b>something</b>."),
			[]string{`01-one.md:9: raw HTML is not allowed (it is never sent)`}},
		{"an image is reported",
			edit(base, "01-one.md", "says something.", "says ![something](https://example.com/a.png)."),
			[]string{`01-one.md:9: images are not allowed (many readers have them turned off)`}},
		{"an https link is fine",
			edit(base, one, "says something.", "says [something](https://example.com/a?b=c#d)."), nil},
		{"a mailto link is fine",
			edit(base, one, "says something.", "says [something](mailto:ada@example.com)."), nil},
		{"a javascript: link is reported",
			edit(base, one, "says something.", "says [something](javascript:alert(1))."),
			[]string{`01-one.md:9: link "javascript:alert(1)" is not http(s) or mailto; it is left out of the email`}},
		{"a javascript: link hidden by character references is reported",
			edit(base, one, "says something.", "says [something](JavaScript&#58;alert(1))."),
			[]string{`01-one.md:9: link "JavaScript:alert(1)" is not http(s) or mailto; it is left out of the email`}},
		{"a data: link is reported",
			edit(base, one, "says something.", "says [something](data:text/html;base64,PHNjcmlwdD4=)."),
			[]string{`01-one.md:9: link "data:text/html;base64,PHNjcmlwdD4=" is not http(s) or mailto; it is left out of the email`}},
		{"a vbscript: autolink is reported",
			edit(base, one, "says something.", "says <vbscript:msgbox(1)>."),
			[]string{`01-one.md:9: link "vbscript:msgbox(1)" is not http(s) or mailto; it is left out of the email`}},
		{"a relative link is reported",
			edit(base, one, "says something.", "says [something](/about)."),
			[]string{`01-one.md:9: link "/about" is not http(s) or mailto; it is left out of the email`}},
		{"a malformed URL is reported",
			edit(base, one, "says something.", "says [something](http://[::1)."),
			[]string{`01-one.md:9: malformed URL "http://[::1": missing ']' in host`}},
		{"a URL without a host is reported",
			edit(base, one, "says something.", "says [something](https:///path)."),
			[]string{`01-one.md:9: malformed URL "https:///path": no host`}},
		{"a placeholder in a link address is reported",
			edit(base, one, "says something.", "says [something](https://example.com/{{first_name}})."),
			[]string{`01-one.md:9: link "https://example.com/{{first_name}}": placeholders cannot be used in a link address`}},
		{"the allowed placeholders are fine",
			edit(base, one, "says something.", "says {{first_name}} and {{first_name|dear reader}}."), nil},
		{"other template syntax is reported",
			edit(base, one, "says something.", `says {{env "DATABASE_URL"}} and {{.Secret}}.`),
			[]string{
				`01-one.md:9: {{env "DATABASE_URL"}} is not allowed: the only placeholder is {{first_name}} or {{first_name|fallback}}`,
				`01-one.md:9: {{.Secret}} is not allowed: the only placeholder is {{first_name}} or {{first_name|fallback}}`,
			}},
		{"a fallback that is not plain text is reported",
			edit(base, one, "says something.", "says {{first_name|you & me}}."),
			[]string{`01-one.md:9: placeholder fallback "you & me" must be plain text of at most 40 characters`}},
		{"a fallback over 40 characters is reported",
			edit(base, one, "says something.", "says {{first_name|"+strings.Repeat("a", 41)+"}}."),
			[]string{`01-one.md:9: placeholder fallback "` + strings.Repeat("a", 41) + `" must be plain text of at most 40 characters`}},
		{"an unclosed {{ is reported",
			edit(base, one, "says something.", "says {{first_name something."),
			[]string{`01-one.md:9: "{{" is not closed by "}}" on the same line`}},
		{"a sentence repeated in another lesson is reported, ignoring case and spacing",
			edit(base, "02-two.md", "Sentence 1 of paragraph 1 in lesson 2", "Sentence 3 of paragraph 2 in LESSON   1 says\tsomething. Sentence 1 of paragraph 1 in lesson 2"),
			[]string{`02-two.md:9: sentence "Sentence 3 of paragraph 2 in LESSON 1 says something." also appears in 01-one.md:11`}},
		{"a repeated sentence of five words is fine",
			edit(edit(base, one, "## Reflect", "Small words are fine here.\n\n## Reflect"), "02-two.md", "## Reflect", "Small words are fine here.\n\n## Reflect"), nil},
		{"a file over the size limit is reported and not parsed as Markdown",
			edit(base, one, "## Try this week", strings.Repeat("[a](", MaxLessonSize/4)+"\n\n## Try this week"),
			[]string{fmt.Sprintf("01-one.md:1: file is %d bytes; a lesson file is at most %d", len(lessonMD(1, "one", "One"))+MaxLessonSize+2, MaxLessonSize)}},
		{"invalid UTF-8 is reported on its line",
			edit(base, one, "says something.", "says some\xffthing."),
			[]string{`01-one.md:9: invalid UTF-8`}},
		{"a control character is reported on its line",
			edit(base, one, "says something.", "says some\athing."),
			[]string{`01-one.md:9: control character U+0007`}},
		{"a lone carriage return is reported as a control character",
			edit(base, one, "says something.", "says some\rthing."),
			[]string{`01-one.md:9: control character U+000D`}},
		{"an invisible direction override is reported as a control character",
			edit(base, one, "says something.", "says some\u202ething."),
			[]string{`01-one.md:9: control character U+202E`}},

		// The part a lesson belongs to.
		{"a lesson without a part is valid, as lessons written before parts are",
			edit(base, one, "part: work\n", ""), nil},
		{"a part other than work or home is reported on its line",
			edit(base, one, "part: work\n", "part: play\n"),
			[]string{`01-one.md:6: part "play" must be work or home`}},
		{"a part in capitals is reported: the values are exact",
			edit(base, one, "part: work\n", "part: Home\n"),
			[]string{`01-one.md:6: part "Home" must be work or home`}},
		{"a part that is not text is reported",
			edit(base, one, "part: work\n", "part: [home]\n"),
			[]string{`01-one.md:6: part must be work or home`}},
		{"an empty part is reported",
			edit(base, one, "part: work\n", "part: \"\"\n"),
			[]string{`01-one.md:6: part "" must be work or home`}},
		{"a home lesson is fine", edit(base, one, "part: work\n", "part: home\n"), nil},

		// A home lesson in every four in a row.
		{"four work lessons in a row are reported against the whole course",
			courseOf("wwww"),
			[]string{`course: lessons 1 to 4 are all part: work; at least one lesson in every 4 in a row must be part: home`}},
		{"three work lessons between home lessons are fine", courseOf("wwwhwwwhwww"), nil},
		{"each run of four or more work lessons is reported once",
			courseOf("hwwwwwhwwww"),
			[]string{
				`course: lessons 2 to 6 are all part: work; at least one lesson in every 4 in a row must be part: home`,
				`course: lessons 8 to 11 are all part: work; at least one lesson in every 4 in a row must be part: home`,
			}},
		{"a course of three work lessons is fine", courseOf("www"), nil},
		{"a lesson with a wrong part ends a run instead of adding to the noise",
			edit(courseOf("wwwww"), "03-lesson-3.md", "part: work\n", "part: play\n"),
			[]string{`03-lesson-3.md:6: part "play" must be work or home`}},

		// A variant for readers without a team, partner or children.
		{"a Try that needs a team and has no variant is reported on the sentence that needs it",
			edit(base, one, "Do the small exercise from lesson 1 before Friday.", "Do the small exercise from lesson 1 before Friday.\nAsk your team to do it too."),
			[]string{`01-one.md:20: "## Try this week" mentions "your team", which not every reader has (a team): add a variant for them in a sentence starting "No team?"`}},
		{"a Try that needs a team and has a No team? variant is fine",
			edit(base, one, "before Friday.\n", "before Friday with your team. No team? Do it with a friend.\n"), nil},
		{"the variant may be emphasised",
			edit(base, one, "before Friday.\n", "before Friday with your team. *No team?* Do it with a friend.\n"), nil},
		{"a variant outside the Try section does not count",
			edit(edit(base, one, "before Friday.\n", "before Friday with your team.\n"), one, "says something. \n\n## Try", "says something. No team? Read on.\n\n## Try"),
			[]string{noTeamVariant}},
		{"a variant in other words does not count",
			edit(base, one, "before Friday.\n", "before Friday with your team. If you have no team, do it with a friend.\n"),
			[]string{noTeamVariant}},
		{"the marker is exact: a lowercase one does not count",
			edit(base, one, "before Friday.\n", "before Friday with your team. no team? Do it with a friend.\n"),
			[]string{noTeamVariant}},
		{"a team in the lesson itself needs no variant",
			edit(base, one, "Sentence 1 of paragraph 1 in lesson 1 says something.", "Sentence 1 of paragraph 1 in lesson 1 says something about your team."), nil},
		{"one-to-ones and team meetings need a team",
			edit(edit(base, one, "before Friday.\n", "before Friday, in your one-to-ones.\n"), "02-two.md", "before Friday.\n", "before Friday, at the next team meeting.\n"),
			[]string{
				`01-one.md:19: "## Try this week" mentions "one-to-one", which not every reader has (a team): add a variant for them in a sentence starting "No team?"`,
				`02-two.md:19: "## Try this week" mentions "team meeting", which not every reader has (a team): add a variant for them in a sentence starting "No team?"`,
			}},
		{"a Try that needs a partner needs a No partner? variant",
			edit(base, one, "before Friday.\n", "before Friday with your partner.\n"),
			[]string{`01-one.md:19: "## Try this week" mentions "partner", which not every reader has (a partner or a shared home): add a variant for them in a sentence starting "No partner?"`}},
		{"a Try that needs children needs a No kids? variant",
			edit(base, one, "before Friday.\n", "before Friday with your kids.\n"),
			[]string{`01-one.md:19: "## Try this week" mentions "your kid", which not every reader has (children): add a variant for them in a sentence starting "No kids?"`}},
		{"a Try that needs a partner and children needs both variants",
			edit(base, one, "before Friday.\n", "before Friday with your partner and your children. No partner? Ask a friend.\n"),
			[]string{`01-one.md:19: "## Try this week" mentions "your children", which not every reader has (children): add a variant for them in a sentence starting "No kids?"`}},
		{"a Try with both variants is fine",
			edit(base, one, "before Friday.\n", "before Friday with your partner and your children. No partner? Ask a friend. No kids? Skip the second part.\n"), nil},

		// Openings.
		{"more than a third of lessons opening with a named person in a named place is reported against the whole course",
			edit(base, one, "Sentence 1 of paragraph 1 in lesson 1 says something.", "Abena works on the front desk of a dental practice in Accra."),
			[]string{`course: 1 of 2 lessons open with a named person in a named place; at most 0 may (lessons 1)`}},
		{"a third of lessons opening with a named person in a named place is fine",
			edit(courseOf("wwh"), "02-lesson-2.md", "Sentence 1 of paragraph 1 in lesson 2 says something.", "In Valencia, Tomás runs the loading bay of a busy warehouse."), nil},
		{"the lessons that open that way are listed",
			edit(edit(courseOf("wwh"), "01-lesson-1.md", "Sentence 1 of paragraph 1 in lesson 1 says something.", "In Valencia, Tomás runs the loading bay of a busy warehouse."),
				"02-lesson-2.md", "Sentence 1 of paragraph 1 in lesson 2 says something.", "On a Monday morning in Leeds, Amara starts her shift."),
			[]string{`course: 2 of 3 lessons open with a named person in a named place; at most 1 may (lessons 1-2)`}},
		{"an opening with a question is fine",
			edit(base, one, "Sentence 1 of paragraph 1 in lesson 1 says something.", "What would you do? Abena works on the front desk of a dental practice in Accra."), nil},

		// Reading ease.
		{"an average reading ease below 50 is reported against the whole course, with the hardest lessons",
			with(base, one, lessonWith(1, "one", "One", strings.Repeat("Organisational communication necessitates considerable interpersonal sensitivity. ", 35)+"\n\n## Try this week\n\nDo it.\n\n## Reflect\n\nWhy?\n")),
			// Lesson 1: 37 sentences, 213 words, 1053 syllables; lesson 2: 26, 182, 308.
			[]string{`course: the average Flesch reading ease is -80.3; it must be at least 50 (hardest: 01-one.md -217.2, 02-two.md 56.6)`}},

		// course.yaml.
		{"a missing course.yaml is reported",
			without(base, "course.yaml"),
			[]string{`course.yaml:1: course.yaml is missing`}},
		{"a missing course field is reported on line 1",
			edit(base, "course.yaml", "author: \"Ada Author\"\n", ""),
			[]string{`course.yaml:1: missing required field "author"`}},
		{"an empty course field is reported on its line",
			edit(base, "course.yaml", `tagline: "A course for tests."`, `tagline: ""`),
			[]string{`course.yaml:2: tagline is empty`}},
		{"a course field that is not text is reported",
			edit(base, "course.yaml", `title: "Test Course"`, `title: 42`),
			[]string{`course.yaml:1: title must be text`}},
		{"an address that does not parse is reported",
			edit(base, "course.yaml", `from: "Test Course <lessons@example.com>"`, `from: "Test Course lessons at example.com"`),
			[]string{`course.yaml:5: from "Test Course lessons at example.com" is not an email address: mail: no angle-addr`}},
		{"a reply-to address that does not parse is reported",
			edit(base, "course.yaml", `reply_to: "Ada Author <ada@example.com>"`, `reply_to: "ada@"`),
			[]string{`course.yaml:6: reply_to "ada@" is not an email address: mail: missing '@' or angle-addr`}},
		{"a send hour outside 0..23 is reported",
			edit(base, "course.yaml", "send_hour: 8", "send_hour: 24"),
			[]string{`course.yaml:8: send_hour must be a whole number from 0 to 23`}},
		{"a language that is not a BCP 47 tag is reported",
			edit(base, "course.yaml", "language: en-GB", "language: English"),
			[]string{`course.yaml:3: language "English" is not a language tag such as "en" or "en-GB"`}},
		{"a lesson count outside 1..52 is reported",
			edit(base, "course.yaml", "lessons: 2", "lessons: 53"),
			[]string{`course.yaml:9: lessons must be a whole number from 1 to 52`}},
		{"an unknown course field is reported on its line",
			with(base, "course.yaml", courseYAML+"colour: blue\n"),
			[]string{`course.yaml:10: unknown field "colour" (expected title, tagline, language, author, from, reply_to, postal_address, send_hour, lessons)`}},
		{"malformed course YAML is reported on its line",
			edit(base, "course.yaml", "send_hour: 8", "send_hour: [8"),
			[]string{`course.yaml:8: malformed YAML: did not find expected ',' or ']'`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := loadAll(tt.fsys)
			got := problemStrings(ps)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidateReportsWholeCourseProblemsOnly(t *testing.T) {
	c, ps := Load(validCourse())
	if ps != nil {
		t.Fatalf("Load: %v", ps)
	}
	c.Lessons = append(c.Lessons, &Lesson{Number: 2, Title: "two", Slug: "two", File: "02-copy.md"})
	got := problemStrings(Validate(c))
	want := []string{
		`02-copy.md:1: number 2 is also used by 02-two.md`,
		`02-copy.md:1: slug "two" is also used by 02-two.md`,
		`02-copy.md:1: title "two" is also used by 02-two.md`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Validate:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ps := Validate(nil); len(ps) != 1 {
		t.Errorf("Validate(nil) = %v, want one problem", ps)
	}
}

func TestProblemsPrintOnePerLineAsFileLineMessage(t *testing.T) {
	ps := Problems{{"a.md", 3, "first"}, {"b.md", 1, "second"}}
	if got, want := ps.Error(), "a.md:3: first\nb.md:1: second"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if Problems(nil).Err() != nil {
		t.Error("Err() of no problems is not nil")
	}
	if ps.Err() == nil {
		t.Error("Err() of problems is nil")
	}
}

func TestLoadStillReturnsWhatItCouldParse(t *testing.T) {
	fsys := edit(validCourse(), "01-one.md", "number: 1\n", "number: one\n")
	c, ps := Load(fsys)
	if len(ps) != 1 {
		t.Fatalf("problems = %v, want one", ps)
	}
	if c.Title != "Test Course" || len(c.Lessons) != 2 || c.Lesson(1) == nil || c.Lesson(1).Title != "One" {
		t.Errorf("course = %+v, want both lessons with lesson 1 numbered from its file name", c)
	}
}

func ExampleProblem_String() {
	fmt.Println(Problem{File: "07-purpose-over-rules.md", Line: 3, Msg: "title is empty"})
	// Output: 07-purpose-over-rules.md:3: title is empty
}
