package course

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// The two sections every lesson ends with, in this order.
const (
	sectionTry     = "Try this week"
	sectionReflect = "Reflect"
)

// MaxFallback is the longest fallback a placeholder may have.
const MaxFallback = 40

var (
	placeholderRe = regexp.MustCompile(`^\{\{first_name(?:\|([^{}]*))?\}\}$`)
	fallbackRe    = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} .,'’!?-]*$`)
)

// defaultFallback stands in for {{first_name}} without a fallback when the
// reader gave no name.
const defaultFallback = "friend"

// checkBody counts the body's words and checks its Markdown: length, the two
// closing sections, headings, raw HTML, images, links and {{...}} syntax.
func checkBody(l *Lesson, ps *Problems) {
	file, body := l.File, l.Body
	lines := newLineIndex(body, l.BodyLine)
	l.Words = countWords(body)
	if l.Words < MinWords || l.Words > MaxWords {
		ps.add(file, 1, "body has %d words; a lesson needs %d to %d", l.Words, MinWords, MaxWords)
	}
	for _, u := range findTemplates(body) {
		if u.problem != "" {
			ps.add(file, lines.line(u.start), "%s", u.problem)
		}
	}

	src := []byte(body)
	doc := parseMarkdown(src)
	l.sentences.list = sentencesOf(doc, src, lines)
	l.sentences.ok, l.sentences.body = true, body
	type heading struct {
		node *ast.Heading
		line int
	}
	var try, reflect []heading
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		line := lines.line(nodeOffset(n))
		switch n := n.(type) {
		case *ast.Heading:
			title := strings.TrimSpace(inlineText(n, src))
			top := n.Parent() != nil && n.Parent().Kind() == ast.KindDocument
			switch {
			case top && n.Level == 2 && title == sectionTry:
				try = append(try, heading{n, line})
			case top && n.Level == 2 && title == sectionReflect:
				reflect = append(reflect, heading{n, line})
			default:
				ps.add(file, line, "heading %q is not allowed: the only headings are %q and %q", title, "## "+sectionTry, "## "+sectionReflect)
			}
		case *ast.HTMLBlock, *ast.RawHTML:
			ps.add(file, line, "raw HTML is not allowed (it is never sent)")
			return ast.WalkSkipChildren, nil
		case *ast.Image:
			ps.add(file, line, "images are not allowed (many readers have them turned off)")
		case *ast.Link:
			if p := linkProblem(destination(n.Destination)); p != "" {
				ps.add(file, line, "%s", p)
			}
		case *ast.AutoLink:
			if n.AutoLinkType == ast.AutoLinkURL {
				if p := linkProblem(string(n.URL(src))); p != "" {
					ps.add(file, line, "%s", p)
				}
			}
		}
		return ast.WalkContinue, nil
	})

	switch {
	case len(try) == 0 && len(reflect) == 0:
		ps.add(file, 1, "missing the %q and %q sections at the end", "## "+sectionTry, "## "+sectionReflect)
	case len(try) == 0:
		ps.add(file, 1, "missing the %q section before %q", "## "+sectionTry, "## "+sectionReflect)
	case len(reflect) == 0:
		ps.add(file, 1, "missing the %q section after %q", "## "+sectionReflect, "## "+sectionTry)
	case reflect[0].line < try[0].line:
		ps.add(file, reflect[0].line, "%q must come after %q", "## "+sectionReflect, "## "+sectionTry)
	}
	for _, h := range try[min(1, len(try)):] {
		ps.add(file, h.line, "%q appears more than once", "## "+sectionTry)
	}
	for _, h := range reflect[min(1, len(reflect)):] {
		ps.add(file, h.line, "%q appears more than once", "## "+sectionReflect)
	}
	for _, h := range append(try[:min(1, len(try))], reflect[:min(1, len(reflect))]...) {
		next := h.node.NextSibling()
		if next == nil || next.Kind() == ast.KindHeading {
			ps.add(file, h.line, "the %q section is empty", "## "+inlineText(h.node, src))
		}
	}
}

// parseMarkdown parses CommonMark with goldmark's defaults (no extensions,
// so no raw HTML is ever produced by the HTML renderer).
func parseMarkdown(src []byte) ast.Node {
	return goldmark.DefaultParser().Parse(text.NewReader(src))
}

// countWords counts the whitespace-separated words that contain a letter or
// a digit, so that Markdown markers such as "##" or "-" do not count.
func countWords(s string) int {
	n := 0
	for _, f := range strings.Fields(s) {
		if strings.IndexFunc(f, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			n++
		}
	}
	return n
}

// destination is a link destination as a browser would read it: backslash
// escapes and character references resolved.
func destination(raw []byte) string {
	d := util.UnescapePunctuations(raw)
	d = util.ResolveNumericReferences(d)
	d = util.ResolveEntityNames(d)
	return string(d)
}

// linkProblem says what is wrong with a link destination, or "" when it may
// be sent: only absolute http(s) URLs with a host and mailto addresses are.
func linkProblem(dest string) string {
	if strings.Contains(dest, "{{") {
		return fmt.Sprintf("link %q: placeholders cannot be used in a link address", dest)
	}
	u, err := url.Parse(dest)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Sprintf("malformed URL %q: %v", dest, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" || u.Hostname() == "" {
			return fmt.Sprintf("malformed URL %q: no host", dest)
		}
		return ""
	case "mailto":
		addr, err := url.PathUnescape(u.Opaque)
		if err == nil && addr == "" {
			err = errors.New("no address")
		}
		if err == nil {
			_, err = mail.ParseAddressList(addr)
		}
		if err != nil {
			return fmt.Sprintf("malformed URL %q: %v", dest, err)
		}
		return ""
	}
	return fmt.Sprintf("link %q is not http(s) or mailto; it is left out of the email", dest)
}

// templateUse is one "{{...}}" in a body.
type templateUse struct {
	start, end int    // byte offsets of the whole "{{...}}"
	fallback   string // for a valid placeholder; "" means none given
	problem    string // "" for a valid {{first_name}} or {{first_name|fallback}}
}

// findTemplates finds every "{{" in s and says whether it starts an allowed
// placeholder. Anything else is reported and rendered as the literal text.
func findTemplates(s string) []templateUse {
	var uses []templateUse
	for i := 0; ; {
		j := strings.Index(s[i:], "{{")
		if j < 0 {
			return uses
		}
		start := i + j
		k := strings.Index(s[start+2:], "}}")
		if k < 0 || strings.ContainsRune(s[start:start+2+k], '\n') {
			uses = append(uses, templateUse{start: start, end: start + 2, problem: `"{{" is not closed by "}}" on the same line`})
			i = start + 2
			continue
		}
		end := start + 2 + k + 2
		u := templateUse{start: start, end: end}
		tok := s[start:end]
		m := placeholderRe.FindStringSubmatch(tok)
		switch {
		case m == nil:
			u.problem = fmt.Sprintf("%s is not allowed: the only placeholder is {{first_name}} or {{first_name|fallback}}", shorten(tok, 60))
		case strings.Contains(tok, "|") && !validFallback(m[1]):
			u.problem = fmt.Sprintf("placeholder fallback %q must be plain text of at most %d characters", shorten(m[1], 60), MaxFallback)
		default:
			u.fallback = m[1]
		}
		uses = append(uses, u)
		i = end
	}
}

// validFallback accepts words, digits, spaces and light punctuation: text
// that reads the same in HTML, plain text and Markdown.
func validFallback(s string) bool {
	return fallbackRe.MatchString(s) && utf8.RuneCountInString(s) <= MaxFallback && strings.TrimSpace(s) == s
}

// shorten cuts s to at most n runes, marking the cut with "…".
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// lineIndex turns byte offsets in a body into file line numbers.
type lineIndex struct {
	starts []int // offset of the first byte of each line
	first  int   // file line of the body's first line
}

func newLineIndex(s string, first int) lineIndex {
	x := lineIndex{starts: []int{0}, first: max(first, 1)}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			x.starts = append(x.starts, i+1)
		}
	}
	return x
}

// line returns the file line holding offset off; the body's first line when
// off is unknown (negative).
func (x lineIndex) line(off int) int {
	if off < 0 {
		return x.first
	}
	i := sort.Search(len(x.starts), func(i int) bool { return x.starts[i] > off })
	return x.first + i - 1
}

// nodeOffset is the byte offset where a node starts in the source, or -1.
func nodeOffset(n ast.Node) int {
	for ; n != nil; n = n.Parent() {
		if off := ownOffset(n); off >= 0 {
			return off
		}
	}
	return -1
}

func ownOffset(n ast.Node) int {
	if p := n.Pos(); p >= 0 {
		return p
	}
	switch v := n.(type) {
	case *ast.Text:
		return v.Segment.Start
	case *ast.RawHTML:
		if v.Segments.Len() > 0 {
			return v.Segments.At(0).Start
		}
	}
	if n.Type() == ast.TypeBlock && n.Lines().Len() > 0 {
		return n.Lines().At(0).Start
	}
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if off := ownOffset(c); off >= 0 {
			return off
		}
	}
	return -1
}
