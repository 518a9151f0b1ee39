package course

import (
	"regexp"
	"strings"
)

// bracesRe matches a "{{...}}", checked as a placeholder, not as Markdown.
var bracesRe = regexp.MustCompile(`\{\{[^{}]*\}\}`)

// ClosingFile is the file of the course folder that holds the closing
// email, sent once after the last lesson: a course of its own can say
// goodbye in its own words.
const ClosingFile = "closing.md"

// buttonMark is the paragraph of closing.md where the button to the
// reader's preferences (restart, revisit, leave) goes.
const buttonMark = "{{button}}"

// Limits of closing.md's one-line fields.
const (
	MaxClosingSubject = 100
	MaxButtonLabel    = 40
	MaxSignoff        = 40
)

var closingKeys = []string{"subject", "preheader", "button", "signoff"}

// Closing is the closing email's words, from closing.md: front matter
// with subject, preheader, button (its label) and signoff, then the body:
// paragraphs of plain text, with {{first_name}} or {{first_name|fallback}}
// as in lessons, and one paragraph that is only {{button}}, where the
// button goes.
type Closing struct {
	Subject, Preheader, Button, Signoff string
	// Before and After are the paragraphs before and after the button,
	// each one line, placeholders not yet filled.
	Before, After []string
	Source        []byte // the file as read
}

// ParseClosing parses and checks closing.md. Problems name the file and
// line, as lessons' do; the Closing holds whatever could be parsed.
func ParseClosing(src []byte) (*Closing, Problems) {
	const file = ClosingFile
	cl := &Closing{Source: src}
	var ps Problems
	if len(src) > MaxLessonSize {
		ps.add(file, 1, "file is %d bytes; the closing email is at most %d", len(src), MaxLessonSize)
		return cl, ps
	}
	text := normalise(src)
	checkCharacters(file, text, 1, &ps)
	fm, body, bodyLine, closed := splitFrontMatter(text)
	switch {
	case fm == nil:
		ps.add(file, 1, `missing front matter: the file must start with a "---" line, then subject, preheader, button and signoff, then "---"`)
		return cl, ps.sorted()
	case !closed:
		ps.add(file, 1, `front matter is not closed by a "---" line`)
		return cl, ps.sorted()
	}
	if fields, ok := yamlMapping(file, *fm, 1, closingKeys, "front-matter key", &ps); ok {
		limits := map[string]int{"subject": MaxClosingSubject, "preheader": MaxPreheader, "button": MaxButtonLabel, "signoff": MaxSignoff}
		into := map[string]*string{"subject": &cl.Subject, "preheader": &cl.Preheader, "button": &cl.Button, "signoff": &cl.Signoff}
		for _, key := range closingKeys {
			f, ok := fields[key]
			if !ok {
				ps.add(file, 1, "missing front-matter key %q", key)
				continue
			}
			s, ok := yamlString(f.value)
			if !ok {
				ps.add(file, f.line, "%s must be text", key)
				continue
			}
			*into[key] = s
			checkOneLine(file, f, key, s, limits[key], &ps)
		}
	}
	parseClosingBody(cl, body, bodyLine, &ps)
	return cl, ps.sorted()
}

// parseClosingBody splits the body into paragraphs around the button and
// checks that each is plain text with only allowed placeholders.
func parseClosingBody(cl *Closing, body string, firstLine int, ps *Problems) {
	const file = ClosingFile
	buttons := 0
	var para []string
	paraLine := 0
	end := func() {
		if len(para) == 0 {
			return
		}
		p := strings.Join(para, " ")
		para = nil
		switch {
		case p == buttonMark:
			buttons++
			if buttons > 1 {
				ps.add(file, paraLine, "%s is given twice: the email has one button", buttonMark)
			}
			return
		case buttons == 0:
			cl.Before = append(cl.Before, p)
		default:
			cl.After = append(cl.After, p)
		}
		for _, u := range findTemplates(p) {
			if u.problem != "" {
				ps.add(file, paraLine, "%s", u.problem)
			}
		}
	}
	for i, line := range strings.Split(body, "\n") {
		n := firstLine + i
		t := strings.TrimSpace(line)
		if t == "" {
			end()
			continue
		}
		if len(para) == 0 {
			paraLine = n
		}
		if msg := notPlain(bracesRe.ReplaceAllString(t, "")); msg != "" {
			ps.add(file, n, "%s: the closing email is paragraphs of plain text", msg)
		}
		para = append(para, t)
	}
	end()
	switch {
	case buttons == 0:
		ps.add(file, 1, "the body has no %s paragraph: it marks where the button to the reader's preferences goes", buttonMark)
	case len(cl.Before) == 0:
		ps.add(file, 1, "the body needs at least one paragraph before %s", buttonMark)
	}
}

// notPlain names the Markdown a line uses beyond plain paragraphs ("" for
// none): the notice layout shows the text as it is written.
func notPlain(t string) string {
	switch {
	case strings.HasPrefix(t, "#"):
		return "a heading"
	case strings.HasPrefix(t, "- "), strings.HasPrefix(t, "* "), strings.HasPrefix(t, "+ "):
		return "a list"
	case strings.HasPrefix(t, ">"):
		return "a quote"
	case strings.HasPrefix(t, "```"), strings.HasPrefix(t, "~~~"), strings.HasPrefix(t, "    "):
		return "code"
	case strings.HasPrefix(t, "---"), strings.HasPrefix(t, "***"):
		return "a rule"
	case strings.Contains(t, "<"):
		return "HTML"
	case strings.Contains(t, "]("), strings.Contains(t, "!["):
		return "a link or image"
	case strings.ContainsAny(t, "*_`"):
		return "emphasis or code"
	}
	return ""
}

// Notice is the closing email for a reader whose first name is firstName
// ("" when unknown), with the placeholders filled; the caller adds the
// button's address and the footer's reason.
func (cl *Closing) Notice(firstName string) Notice {
	name := CleanName(firstName)
	fill := func(ps []string) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = fillPlaceholders(p, name)
		}
		return out
	}
	return Notice{Subject: cl.Subject, Preheader: cl.Preheader, Paragraphs: fill(cl.Before),
		ButtonLabel: cl.Button, After: fill(cl.After), Signoff: cl.Signoff}
}

// fillPlaceholders puts name, or each placeholder's fallback when name is
// empty, in place of the placeholders of s, in one pass.
func fillPlaceholders(s, name string) string {
	var sb strings.Builder
	last := 0
	for _, u := range findTemplates(s) {
		if u.problem != "" {
			continue // left as written; lessons check reports it
		}
		sb.WriteString(s[last:u.start])
		switch {
		case name != "":
			sb.WriteString(name)
		case u.fallback != "":
			sb.WriteString(u.fallback)
		default:
			sb.WriteString(defaultFallback)
		}
		last = u.end
	}
	sb.WriteString(s[last:])
	return sb.String()
}
