package course

import (
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Front-matter limits, from the lesson format.
const (
	MaxTitle     = 70
	MaxPreheader = 110
)

var (
	fileNameRe = regexp.MustCompile(`^([0-9]{2})-([a-z0-9]+(?:-[a-z0-9]+)*)\.md$`)
	slugRe     = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	// A plausible BCP 47 tag: language, optional script, optional region,
	// optional variants ("en", "en-GB", "zh-Hant-TW", "de-CH-1996").
	languageRe = regexp.MustCompile(`^[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$`)
	yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// yamlParserErrors are the errors of yaml.v3's parser (as opposed to its
// scanner), whose line numbers start at 0 rather than 1.
var yamlParserErrors = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

var lessonKeys = []string{"number", "title", "slug", "preheader", "part"}

var courseKeys = []string{"title", "tagline", "language", "author", "from", "reply_to", "postal_address", "send_hour", "lessons"}

// ParseCourseYAML parses and checks course.yaml. Every field is required;
// problems carry the line of the field at fault (line 1 for a missing one).
// The course is returned even when there are problems.
func ParseCourseYAML(src []byte) (*Course, Problems) {
	c := &Course{lines: map[string]int{}}
	var ps Problems
	text := normalise(src)
	checkCharacters(courseFile, text, 1, &ps)

	fields, ok := yamlMapping(courseFile, text, 0, courseKeys, "field", &ps)
	if !ok {
		return c, ps.sorted()
	}
	for _, key := range courseKeys {
		f, ok := fields[key]
		if !ok {
			ps.add(courseFile, 1, "missing required field %q", key)
			continue
		}
		c.lines[key] = f.line
		switch key {
		case "send_hour":
			n, ok := yamlInt(f.value)
			if !ok || n < 0 || n > 23 {
				ps.add(courseFile, f.line, "send_hour must be a whole number from 0 to 23")
				continue
			}
			c.SendHour = n
			continue
		case "lessons":
			n, ok := yamlInt(f.value)
			if !ok || n < 1 || n > MaxLessons {
				ps.add(courseFile, f.line, "lessons must be a whole number from 1 to %d", MaxLessons)
				continue
			}
			c.LessonCount = n
			continue
		}
		s, ok := yamlString(f.value)
		if !ok {
			ps.add(courseFile, f.line, "%s must be text", key)
			continue
		}
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			ps.add(courseFile, f.line, "%s is empty", key)
			continue
		case strings.ContainsAny(s, "\r\n"):
			ps.add(courseFile, f.line, "%s must be a single line", key)
			continue
		}
		switch key {
		case "title":
			c.Title = s
		case "tagline":
			c.Tagline = s
		case "author":
			c.Author = s
		case "postal_address":
			c.PostalAddress = s
		case "language":
			if !languageRe.MatchString(s) {
				ps.add(courseFile, f.line, "language %q is not a language tag such as \"en\" or \"en-GB\"", s)
				continue
			}
			c.Language = s
		case "from", "reply_to":
			if _, err := mail.ParseAddress(s); err != nil {
				ps.add(courseFile, f.line, "%s %q is not an email address: %v", key, s, err)
				continue
			}
			if key == "from" {
				c.From = s
			} else {
				c.ReplyTo = s
			}
		}
	}
	return c, ps.sorted()
}

// ParseLesson parses and checks one lesson file on its own: front matter,
// file name (skipped when file is empty) and body: what a lesson needs to be
// sent at all. Checks that need the other lessons (duplicates, missing
// numbers) and the editorial rules (repeated sentences, variants in the Try
// section, openings, reading ease) are Validate's, so that a stored revision
// stays sendable when those rules grow. The lesson is never nil and holds whatever could be parsed;
// when the number is unreadable it is taken from the file name.
func ParseLesson(file string, src []byte) (*Lesson, Problems) {
	l := &Lesson{File: file, Source: src, lines: map[string]int{}}
	var ps Problems
	text := normalise(src)
	checkCharacters(file, text, 1, &ps)

	fm, body, bodyLine, closed := splitFrontMatter(text)
	switch {
	case fm == nil:
		ps.add(file, 1, `missing front matter: the file must start with a "---" line, then number, title, slug, preheader and part, then "---"`)
		l.Body, l.BodyLine = body, bodyLine
	case !closed:
		ps.add(file, 1, `front matter is not closed by a "---" line`)
	default:
		l.Body, l.BodyLine = body, bodyLine
		parseFrontMatter(l, *fm, &ps)
	}
	checkFileName(l, &ps)
	switch {
	case len(src) > MaxLessonSize:
		ps.add(file, 1, "file is %d bytes; a lesson file is at most %d", len(src), MaxLessonSize)
		l.Words = countWords(l.Body)
	case closed || fm == nil:
		checkBody(l, &ps)
	}
	return l, ps.sorted()
}

// parseFrontMatter fills the lesson's fields from the YAML between the
// "---" lines, which starts on line 2 of the file.
func parseFrontMatter(l *Lesson, fm string, ps *Problems) {
	file := l.File
	if strings.TrimSpace(fm) == "" {
		ps.add(file, 1, "front matter is empty: it needs number, title, slug, preheader and part")
		return
	}
	fields, ok := yamlMapping(file, fm, 1, lessonKeys, "front-matter key", ps)
	if !ok {
		return
	}
	for _, key := range lessonKeys {
		f, ok := fields[key]
		if !ok && key == "part" {
			// Optional: lessons written before parts existed, and
			// revisions stored then, stay valid (see editorialRules).
			continue
		}
		if !ok {
			ps.add(file, 1, "missing front-matter key %q", key)
			continue
		}
		l.lines[key] = f.line
		if key == "number" {
			n, ok := yamlInt(f.value)
			if !ok {
				ps.add(file, f.line, "number must be a whole number from 1 to %d", MaxLessons)
				continue
			}
			l.Number = n
			if n < 1 || n > MaxLessons {
				ps.add(file, f.line, "number %d is outside 1..%d", n, MaxLessons)
			}
			continue
		}
		s, ok := yamlString(f.value)
		if !ok && key == "part" {
			ps.add(file, f.line, "part must be %s", partList())
			continue
		}
		if !ok {
			ps.add(file, f.line, "%s must be text", key)
			continue
		}
		switch key {
		case "slug":
			l.Slug = s
			if s == "" {
				ps.add(file, f.line, "slug is empty")
			} else if !slugRe.MatchString(s) {
				ps.add(file, f.line, "slug %q must be lowercase letters, digits and single hyphens", s)
			}
		case "title":
			l.Title = s
			checkOneLine(file, f, key, s, MaxTitle, ps)
		case "preheader":
			l.Preheader = s
			checkOneLine(file, f, key, s, MaxPreheader, ps)
		case "part":
			p, ok := ParsePart(s)
			if !ok {
				ps.add(file, f.line, "part %q must be %s", shorten(s, 40), partList())
				continue
			}
			l.Part = p
		}
	}
}

// checkOneLine checks a title or preheader: double-quoted, not empty, one
// line, within its length, and free of template syntax (placeholders are
// only substituted in the body).
func checkOneLine(file string, f yamlField, key, s string, limit int, ps *Problems) {
	if f.value.Style != yaml.DoubleQuotedStyle {
		ps.add(file, f.line, `%s must be in double quotes: %s: "..."`, key, key)
	}
	n := utf8.RuneCountInString(s)
	switch {
	case strings.TrimSpace(s) == "":
		ps.add(file, f.line, "%s is empty", key)
	case strings.ContainsAny(s, "\r\n\u2028\u2029"):
		ps.add(file, f.line, "%s must be a single line, without line breaks", key)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		ps.add(file, f.line, "%s contains a control character", key)
	case n > limit:
		ps.add(file, f.line, "%s is %d characters long; the limit is %d", key, n, limit)
	}
	if strings.Contains(s, "{{") {
		ps.add(file, f.line, "%s must not contain {{...}}: placeholders only work in the body", key)
	}
}

// checkFileName checks that the file is named NN-slug.md after its number
// and slug. Without a readable number it falls back to the file name's.
func checkFileName(l *Lesson, ps *Problems) {
	if l.File == "" {
		return
	}
	m := fileNameRe.FindStringSubmatch(l.File)
	if m == nil {
		ps.add(l.File, 1, `file name must be NN-slug.md, e.g. "07-purpose-over-rules.md"`)
		return
	}
	if l.Number == 0 {
		l.Number, _ = strconv.Atoi(m[1])
		return
	}
	if l.Number >= 1 && l.Number <= MaxLessons && slugRe.MatchString(l.Slug) && l.File != l.FileName() {
		ps.add(l.File, 1, "file name must be %q to match number and slug", l.FileName())
	}
}

// normalise removes a leading byte-order mark and turns CRLF line ends into
// LF; line numbers stay the same.
func normalise(src []byte) string {
	s := strings.TrimPrefix(string(src), "\uFEFF")
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// splitFrontMatter splits a lesson into its front matter (nil when the file
// does not start with "---") and body. bodyLine is the body's first line.
func splitFrontMatter(text string) (fm *string, body string, bodyLine int, closed bool) {
	first, rest, _ := strings.Cut(text, "\n")
	if strings.TrimRight(first, " \t") != "---" {
		return nil, text, 1, false
	}
	line := 2
	for off := 0; off < len(rest); line++ {
		end := strings.IndexByte(rest[off:], '\n')
		next := len(rest)
		if end >= 0 {
			next = off + end + 1
		}
		if strings.TrimRight(strings.TrimSuffix(rest[off:next], "\n"), " \t") == "---" {
			f := rest[:off]
			return &f, rest[next:], line + 1, true
		}
		off = next
	}
	return &rest, "", 0, false
}

// checkCharacters reports invalid UTF-8 and control characters (other than
// tab and newline), once per line. Invisible bidirectional controls count as
// control characters: they can make text read differently from what it is.
func checkCharacters(file, text string, firstLine int, ps *Problems) {
	for i, line := range strings.Split(text, "\n") {
		n := firstLine + i
		if !utf8.ValidString(line) {
			ps.add(file, n, "invalid UTF-8")
		}
		for _, r := range line {
			if r == '\t' || r == utf8.RuneError {
				continue
			}
			if unicode.IsControl(r) || isBidiControl(r) || r == '\u2028' || r == '\u2029' {
				ps.add(file, n, "control character %U", r)
				break
			}
		}
	}
}

func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069') || r == '\u200E' || r == '\u200F' || r == '\u061C'
}

// yamlField is a value of a top-level YAML mapping and the file line of
// its key.
type yamlField struct {
	line  int
	value *yaml.Node
}

// yamlMapping parses src as a YAML mapping of known keys. offset is added to
// YAML line numbers to give file lines. Unknown and repeated keys are
// reported as "unknown <noun>"; ok is false when src is not a mapping at all.
func yamlMapping(file, src string, offset int, known []string, noun string, ps *Problems) (map[string]yamlField, bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		line, msg := 1, err.Error()
		if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			if yamlParserErrors[m[2]] {
				n++ // yaml.v3 counts lines from 0 in its parser's errors
			}
			line, msg = n+offset, m[2]
		} else {
			line = 1 + offset
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		ps.add(file, line, "malformed YAML: %s", msg)
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		ps.add(file, 1+offset, "no fields: expected %s", strings.Join(known, ", "))
		return nil, false
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		ps.add(file, root.Line+offset, `expected "key: value" lines (%s)`, strings.Join(known, ", "))
		return nil, false
	}
	fields := map[string]yamlField{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		line := k.Line + offset
		key := k.Value
		switch {
		case k.Kind != yaml.ScalarNode || !slices.Contains(known, key):
			ps.add(file, line, "unknown %s %q (expected %s)", noun, key, strings.Join(known, ", "))
		case fields[key].value != nil:
			ps.add(file, line, "%s %q is given twice", noun, key)
		default:
			fields[key] = yamlField{line: line, value: v}
		}
	}
	return fields, true
}

// yamlInt reads an integer scalar; "7" in quotes is not one.
func yamlInt(n *yaml.Node) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, false
	}
	var v int
	if err := n.Decode(&v); err != nil {
		return 0, false
	}
	return v, true
}

// yamlString reads a string scalar; numbers, booleans and nulls are not.
func yamlString(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", false
	}
	return n.Value, true
}
