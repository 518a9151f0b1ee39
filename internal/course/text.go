package course

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/util"
)

// Width is the column limit of plain-text email. Only a word longer than
// the whole line (a long URL) goes past it.
const Width = 78

// textBody is a lesson body as plain text: blocks to be wrapped, and the
// addresses of its links in the order of their "[n]" references.
type textBody struct {
	blocks []textBlock
	links  []string
	tryEnd int // blocks[tryEnd:] come after the "Try this week" section
}

// textBlock is one paragraph, list item, heading or code block.
type textBlock struct {
	sep         string // before the block: "" for the first, "\n" in tight lists, else "\n\n"
	first, rest string // prefixes of the first and the following lines
	text        string // words to wrap; "\n" marks a hard line break
	pre         bool   // code: lines kept as they are
	underline   bool   // a heading: underlined with dashes
	wrapped     string // the block rendered, when it has no placeholder
	fill        bool   // holds a placeholder: substitute, then wrap
}

// render writes the block, calling fill first when it holds a placeholder.
func (b textBlock) render(sb *strings.Builder, fill func(string) string) {
	if !b.fill || fill == nil {
		sb.WriteString(b.wrapped)
		return
	}
	b.text = fill(b.text)
	sb.WriteString(b.format())
}

// format wraps the block's text to Width.
func (b textBlock) format() string {
	var sb strings.Builder
	if b.pre {
		for i, line := range strings.Split(b.text, "\n") {
			if i > 0 {
				sb.WriteByte('\n')
				sb.WriteString(strings.TrimRight(b.rest+line, " "))
			} else {
				sb.WriteString(strings.TrimRight(b.first+line, " "))
			}
		}
		return sb.String()
	}
	wrap(&sb, b.text, b.first, b.rest, Width)
	if b.underline {
		longest := 0
		for _, line := range strings.Split(sb.String(), "\n") {
			longest = max(longest, utf8.RuneCountInString(line)-utf8.RuneCountInString(b.rest))
		}
		sb.WriteString("\n" + b.rest + strings.Repeat("-", min(max(longest, 3), Width)))
	}
	return sb.String()
}

// parts joins the blocks, with placeholders filled by fill (nil: left as
// is), in two parts cut right after the "Try this week" section: the second
// starts with the separator before its first block, so the two together are
// the whole body.
func (t textBody) parts(fill func(string) string) (toTry, afterTry string) {
	join := func(blocks []textBlock) string {
		var sb strings.Builder
		for _, b := range blocks {
			sb.WriteString(b.sep)
			b.render(&sb, fill)
		}
		return sb.String()
	}
	return join(t.blocks[:t.tryEnd]), join(t.blocks[t.tryEnd:])
}

// wrap writes text wrapped to width: words are never split, so a word longer
// than a line gets a line of its own. Hard line breaks ("\n") are kept.
func wrap(sb *strings.Builder, text, first, rest string, width int) {
	sb.Grow(len(text) + len(text)/width*(len(rest)+1) + len(first))
	restLen := utf8.RuneCountInString(rest)
	prefix, prefixLen := first, utf8.RuneCountInString(first)
	for i, para := range strings.Split(text, "\n") {
		if i > 0 {
			sb.WriteByte('\n')
		}
		if strings.TrimSpace(para) == "" {
			// No words: the prefix alone, without trailing spaces.
			sb.WriteString(strings.TrimRight(prefix, " "))
			prefix, prefixLen = rest, restLen
			continue
		}
		sb.WriteString(prefix)
		n, empty := prefixLen, true
		for w := range strings.FieldsSeq(para) {
			wl := utf8.RuneCountInString(w)
			if !empty && n+1+wl > width {
				sb.WriteByte('\n')
				sb.WriteString(rest)
				n, empty = restLen, true
			}
			if !empty {
				sb.WriteByte(' ')
				n++
			}
			sb.WriteString(w)
			n += wl
			empty = false
		}
		prefix, prefixLen = rest, restLen
	}
}

// textBuilder turns a goldmark document into a textBody.
type textBuilder struct {
	src     []byte
	body    textBody
	linkNum map[string]int
	sep     string   // separator for the next block, when not the default
	tryEnd  ast.Node // the block after "Try this week" (see tryEnd)
}

// buildText renders doc as text; tryEnd is the block that follows the
// "Try this week" section, or nil when that section (if any) ends the body.
func buildText(doc ast.Node, src []byte, tryEnd ast.Node) textBody {
	t := &textBuilder{src: src, linkNum: map[string]int{}, tryEnd: tryEnd}
	t.body.tryEnd = -1
	t.block(doc, "", "")
	if t.body.tryEnd < 0 {
		t.body.tryEnd = len(t.body.blocks)
	}
	return t.body
}

func (t *textBuilder) add(b textBlock) {
	switch {
	case len(t.body.blocks) == 0:
		b.sep = ""
	case t.sep != "":
		b.sep = t.sep
	default:
		b.sep = "\n\n"
	}
	t.sep = ""
	t.body.blocks = append(t.body.blocks, b)
}

// block renders a block node whose first line starts with first and the
// others with rest.
func (t *textBuilder) block(n ast.Node, first, rest string) {
	if n == t.tryEnd && n != nil {
		t.body.tryEnd = len(t.body.blocks)
	}
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		t.add(textBlock{first: first, rest: rest, text: t.inline(n)})
	case *ast.Heading:
		t.add(textBlock{first: first, rest: rest, text: t.inline(n), underline: true})
	case *ast.List:
		first, rest = capIndent(first, rest)
		i := 0
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			marker := "- "
			if n.IsOrdered() {
				marker = fmt.Sprintf("%d. ", n.Start+i)
			}
			f := rest
			if i == 0 {
				f = first
			} else if n.IsTight {
				t.sep = "\n"
			}
			t.children(c, f+marker, rest+strings.Repeat(" ", len(marker)), n.IsTight)
			i++
		}
	case *ast.Blockquote:
		first, rest = capIndent(first, rest)
		t.children(n, first+"> ", rest+"> ", false)
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		var lines []string
		for i := 0; i < n.Lines().Len(); i++ {
			seg := n.Lines().At(i)
			lines = append(lines, strings.TrimRight(string(seg.Value(t.src)), "\r\n"))
		}
		t.add(textBlock{first: first + "    ", rest: rest + "    ", text: strings.Join(lines, "\n"), pre: true})
	case *ast.ThematicBreak:
		t.add(textBlock{first: first, rest: rest, text: "----", pre: true})
	case *ast.HTMLBlock, *ast.LinkReferenceDefinition:
		// Raw HTML is never sent; link definitions have no text.
	default:
		t.children(n, first, rest, false)
	}
}

// maxIndent is the deepest indentation nesting adds to plain text: deeper
// lists and quotes are shown at this depth, so that absurd nesting neither
// pushes the text off the page nor builds ever longer prefixes.
const maxIndent = 24

func capIndent(first, rest string) (string, string) {
	if len(rest) > maxIndent {
		rest = rest[:maxIndent]
	}
	if len(first) > maxIndent {
		first = rest
	}
	return first, rest
}

// children renders the child blocks of n; only the first block produced
// gets the first prefix (a list marker, say).
func (t *textBuilder) children(n ast.Node, first, rest string, tight bool) {
	before := len(t.body.blocks)
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		f := rest
		if len(t.body.blocks) == before {
			f = first
		} else if tight {
			t.sep = "\n"
		}
		t.block(c, f, rest)
	}
}

// inline renders inline content: emphasis as plain words, links as
// "text [n]" with n their place in the list of links.
func (t *textBuilder) inline(n ast.Node) string {
	var b strings.Builder
	t.inlineTo(&b, n, true)
	return b.String()
}

func (t *textBuilder) inlineTo(b *strings.Builder, n ast.Node, number bool) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			b.WriteString(plainText(c.Value(t.src), c.IsRaw()))
			if c.HardLineBreak() {
				b.WriteByte('\n')
			} else if c.SoftLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(c.Value)
		case *ast.CodeSpan:
			for g := c.FirstChild(); g != nil; g = g.NextSibling() {
				if txt, ok := g.(*ast.Text); ok {
					b.WriteString(strings.ReplaceAll(string(txt.Value(t.src)), "\n", " "))
				}
			}
		case *ast.AutoLink:
			b.Write(c.Label(t.src))
		case *ast.RawHTML:
		case *ast.Link:
			t.inlineTo(b, c, number)
			if number {
				fmt.Fprintf(b, " [%d]", t.linkRef(destination(c.Destination)))
			}
		default:
			t.inlineTo(b, c, number)
		}
	}
}

// linkRef numbers a link address, reusing the number of a repeated one.
func (t *textBuilder) linkRef(url string) int {
	if n, ok := t.linkNum[url]; ok {
		return n
	}
	t.body.links = append(t.body.links, url)
	t.linkNum[url] = len(t.body.links)
	return len(t.body.links)
}

// inlineText is the plain text of a node's inline content, without link
// numbers: what a heading says, for instance.
func inlineText(n ast.Node, src []byte) string {
	t := &textBuilder{src: src, linkNum: map[string]int{}}
	var b strings.Builder
	t.inlineTo(&b, n, false)
	return b.String()
}

// plainText resolves backslash escapes and character references in text
// that is not raw.
func plainText(v []byte, raw bool) string {
	if !raw {
		v = util.UnescapePunctuations(v)
		v = util.ResolveNumericReferences(v)
		v = util.ResolveEntityNames(v)
	}
	return string(v)
}

// linkListRe matches the "[n] URL" lines that list links at the end of a
// text email; they are never wrapped.
var linkListRe = regexp.MustCompile(`^\s*\[\d+\] \S+$`)

// finishText tidies the output of a text template: no carriage returns, no
// trailing spaces, at most one blank line in a row, no line over Width
// columns except an unbreakable word, and a final newline.
func finishText(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			if len(out) > 0 && out[len(out)-1] != "" {
				out = append(out, "")
			}
			continue
		}
		if utf8.RuneCountInString(line) <= Width || linkListRe.MatchString(line) {
			out = append(out, line)
			continue
		}
		body := strings.TrimLeft(line, " ")
		indent := line[:len(line)-len(body)]
		var sb strings.Builder
		wrap(&sb, body, indent, indent, Width)
		out = append(out, strings.Split(sb.String(), "\n")...)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n") + "\n"
}
