package course

import (
	"strings"
	"unicode"

	"github.com/yuin/goldmark/ast"
)

// MinRepeatedWords is the shortest sentence that may not appear in two
// lessons: shorter ones ("What would change?") repeat naturally.
const MinRepeatedWords = 6

// Validate checks the course as a whole: lesson numbers within 1..LessonCount,
// none repeated, none missing (reported against the "lessons" line of
// course.yaml; skipped when the count is unknown, which ParseCourseYAML has
// reported), slugs and titles unique ignoring case, and then the editorial
// rules of courseRules: no sentence of MinRepeatedWords or more words in two
// lessons, a home lesson in every HomeEvery weeks, a variant for readers
// without a team or partner, varied openings and plain language. Problems of
// single files are ParseCourseYAML's and ParseLesson's to find; Load runs
// all three, and the admin editor runs ParseLesson and Validate.
func Validate(c *Course) Problems {
	var ps Problems
	if c == nil {
		ps.add(courseFile, 1, "no course")
		return ps
	}
	want := c.LessonCount
	if want <= 0 {
		want = MaxLessons
	}

	byNumber := map[int]*Lesson{}
	bySlug := map[string]*Lesson{}
	byTitle := map[string]*Lesson{}
	for _, l := range c.Lessons {
		switch {
		case l.Number >= 1 && l.Number <= MaxLessons && l.Number > want:
			ps.add(l.File, l.line("number"), "number %d is outside 1..%d (course.yaml says the course has %d lessons)", l.Number, want, want)
		case byNumber[l.Number] != nil:
			ps.add(l.File, l.line("number"), "number %d is also used by %s", l.Number, byNumber[l.Number].File)
		default:
			byNumber[l.Number] = l
		}
		if key := strings.ToLower(l.Slug); key != "" {
			if other := bySlug[key]; other != nil {
				ps.add(l.File, l.line("slug"), "slug %q is also used by %s", l.Slug, other.File)
			} else {
				bySlug[key] = l
			}
		}
		if key := strings.ToLower(strings.TrimSpace(l.Title)); key != "" {
			if other := byTitle[key]; other != nil {
				ps.add(l.File, l.line("title"), "title %q is also used by %s", l.Title, other.File)
			} else {
				byTitle[key] = l
			}
		}
	}
	// Without a lesson count from course.yaml (already reported) a list
	// of "missing" lessons would only bury that problem.
	for n := 1; n <= c.LessonCount; n++ {
		if byNumber[n] == nil {
			ps.add(courseFile, c.line("lessons"), "lesson %d is missing: no %02d-*.md file with number: %d", n, n, n)
		}
	}
	for _, r := range courseRules {
		r.check(c, &ps)
	}
	return ps.sorted()
}

// sentenceAt is where a sentence was first seen.
type sentenceAt struct {
	file string
	line int
}

// checkRepeatedSentences reports each sentence of MinRepeatedWords or more
// words that appears in an earlier lesson, comparing lowercased words.
func checkRepeatedSentences(c *Course, ps *Problems) {
	first := map[string]sentenceAt{}
	for _, l := range c.Lessons {
		reported := map[string]bool{}
		for _, s := range sentences(l) {
			key := strings.Join(strings.Fields(strings.ToLower(s.text)), " ")
			if countWords(key) < MinRepeatedWords {
				continue
			}
			at, seen := first[key]
			switch {
			case !seen:
				first[key] = sentenceAt{l.File, s.line}
			case at.file != l.File && !reported[key]:
				reported[key] = true
				ps.add(l.File, s.line, "sentence %q also appears in %s:%d", shorten(strings.Join(strings.Fields(s.text), " "), 60), at.file, at.line)
			}
		}
	}
}

type sentence struct {
	text    string
	line    int
	heading bool   // the text of a heading, not prose
	section string // "" in the lesson proper, else sectionTry or sectionReflect
}

// sentences returns the sentences of the lesson's body, reusing those
// ParseLesson found when the body has not changed since.
func sentences(l *Lesson) []sentence {
	if l.sentences.ok && l.sentences.body == l.Body {
		return l.sentences.list
	}
	if len(l.Body) > MaxLessonSize {
		return nil // reported by ParseLesson; not worth the parsing time
	}
	src := []byte(l.Body)
	return sentencesOf(parseMarkdown(src), src, newLineIndex(l.Body, l.BodyLine))
}

// sentencesOf splits a body's prose into sentences, each with the file line
// it starts on. Markup is dropped so that "*very* good" and "very good"
// compare equal; headings count as sentences of their own.
func sentencesOf(doc ast.Node, src []byte, lines lineIndex) []sentence {
	var out []sentence
	section := ""
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n.Kind() {
		case ast.KindParagraph, ast.KindTextBlock, ast.KindHeading:
		default:
			return ast.WalkContinue, nil
		}
		// Collect the block's text, remembering the line each piece came from.
		var b strings.Builder
		type mark struct{ at, line int }
		var marks []mark
		var collect func(ast.Node)
		collect = func(n ast.Node) {
			for c := n.FirstChild(); c != nil; c = c.NextSibling() {
				switch c := c.(type) {
				case *ast.Text:
					marks = append(marks, mark{b.Len(), lines.line(c.Segment.Start)})
					b.WriteString(plainText(c.Value(src), c.IsRaw()))
					if c.SoftLineBreak() || c.HardLineBreak() {
						b.WriteByte(' ')
					}
				case *ast.String:
					b.Write(c.Value)
				case *ast.RawHTML:
				default:
					collect(c)
				}
			}
		}
		collect(n)
		s := b.String()
		lineAt := func(off int) int {
			line := lines.line(nodeOffset(n))
			for _, m := range marks {
				if m.at > off {
					break
				}
				line = m.line
			}
			return line
		}
		heading := n.Kind() == ast.KindHeading
		if title := strings.TrimSpace(s); heading && n.Parent() == doc && (title == sectionTry || title == sectionReflect) {
			section = title
		}
		for _, span := range splitSentences(s) {
			out = append(out, sentence{strings.TrimSpace(s[span[0]:span[1]]), lineAt(span[0]), heading, section})
		}
		return ast.WalkSkipChildren, nil
	})
	return out
}

// splitSentences returns the [start, end) byte spans of the sentences in s:
// each ends at ".", "!", "?" or "…" (with any closing quotes or brackets)
// followed by a space or the end. Leading spaces and opening quotes are
// skipped.
func splitSentences(s string) [][2]int {
	type char struct {
		at int
		r  rune
	}
	chars := make([]char, 0, len(s))
	for i, r := range s {
		chars = append(chars, char{i, r})
	}
	chars = append(chars, char{len(s), ' '}) // sentinel: the end
	var spans [][2]int
	start := -1
	for i := 0; i < len(chars)-1; i++ {
		r := chars[i].r
		if start < 0 {
			if unicode.IsSpace(r) || strings.ContainsRune(`"'“‘([`, r) {
				continue
			}
			start = i
		}
		if !strings.ContainsRune(".!?…", r) {
			continue
		}
		end := i + 1
		for end < len(chars)-1 && strings.ContainsRune(`.!?…"'”’)]`, chars[end].r) {
			end++
		}
		if unicode.IsSpace(chars[end].r) {
			spans = append(spans, [2]int{chars[start].at, chars[end].at})
			start = -1
			i = end - 1
		}
	}
	if start >= 0 {
		spans = append(spans, [2]int{chars[start].at, len(s)})
	}
	return spans
}
