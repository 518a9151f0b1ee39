package course

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// ConfirmationValidFor is how long a confirmation link works; the
// confirmation email says so.
const ConfirmationValidFor = 7 * 24 * time.Hour

// maxName is the longest first name put into an email, in characters.
const maxName = 60

// cacheSize bounds the fragment cache: the admin's live preview renders a
// new revision on every change, and old ones must not pile up.
const cacheSize = 256

// Renderer renders lessons and the confirmation email with the email
// templates, parsed once. Lesson bodies are rendered once per revision and
// cached; only the per-recipient parts are done for each message. A
// Renderer is safe for concurrent use.
type Renderer struct {
	md goldmark.Markdown

	lessonHTML, confirmHTML, noticeHTML *htmltemplate.Template
	lessonText, confirmText, noticeText *texttemplate.Template
	link                                linkTemplates

	mu    sync.Mutex
	cache map[[32]byte]*fragment
	order [][32]byte   // keys in insertion order, oldest first, for eviction
	built atomic.Int64 // fragments rendered, so tests can see the cache work
}

// Recipient is who a lesson email goes to and the links made for them.
type Recipient struct {
	FirstName                      string // may be empty: the greeting becomes "Hi there,"
	UnsubscribeURL, PreferencesURL string // required
	ViewURL                        string // optional: "view in browser" in the footer
	TriedURL                       string // optional: the "I tried this" button after "Try this week"
}

// Email is a rendered message: its subject, its inbox preview line and the
// two bodies of a multipart/alternative message.
type Email struct {
	Subject, Preheader, HTML, Text string
}

// NewRenderer parses the email templates from templates, a file system
// rooted at the templates folder (holding email/layout.html, email/layout.txt
// and email/{lesson,confirmation}.{html,txt}), and renders a sample of each
// email so that a broken template fails here rather than on the first send.
func NewRenderer(templates fs.FS) (*Renderer, error) {
	if templates == nil {
		return nil, errors.New("new renderer: no templates")
	}
	r := &Renderer{md: goldmark.New(), cache: map[[32]byte]*fragment{}}
	var err error
	if r.lessonHTML, err = parseHTML(templates, "lesson"); err != nil {
		return nil, err
	}
	if r.confirmHTML, err = parseHTML(templates, "confirmation"); err != nil {
		return nil, err
	}
	if r.lessonText, err = parseText(templates, "lesson"); err != nil {
		return nil, err
	}
	if r.confirmText, err = parseText(templates, "confirmation"); err != nil {
		return nil, err
	}
	if r.noticeHTML, err = parseHTML(templates, "notice"); err != nil {
		return nil, err
	}
	if r.noticeText, err = parseText(templates, "notice"); err != nil {
		return nil, err
	}
	if r.link, err = parseLink(templates); err != nil {
		return nil, err
	}
	if err := r.selfTest(); err != nil {
		return nil, fmt.Errorf("new renderer: %w", err)
	}
	return r, nil
}

func parseHTML(fsys fs.FS, name string) (*htmltemplate.Template, error) {
	t, err := htmltemplate.New("layout.html").Option("missingkey=error").
		ParseFS(fsys, "email/layout.html", "email/"+name+".html")
	if err != nil {
		return nil, fmt.Errorf("parse email/%s.html: %w", name, err)
	}
	return t, nil
}

func parseText(fsys fs.FS, name string) (*texttemplate.Template, error) {
	t, err := texttemplate.New("layout.txt").Option("missingkey=error").
		ParseFS(fsys, "email/layout.txt", "email/"+name+".txt")
	if err != nil {
		return nil, fmt.Errorf("parse email/%s.txt: %w", name, err)
	}
	return t, nil
}

// selfTest renders every email once with sample data, then forgets it.
func (r *Renderer) selfTest() error {
	l := &Lesson{Number: 1, Title: "Sample", Slug: "sample", Preheader: "Sample preheader",
		Body: "Hello {{first_name|friend}}, see [this](https://example.com).\n\n## Try this week\n\n- One\n- Two\n\n## Reflect\n\nWhy?\n"}
	c := &Course{Title: "Sample course", Tagline: "A sample.", Language: "en", Author: "Sample Author",
		From: "a@example.com", ReplyTo: "a@example.com", PostalAddress: "1 Sample Street", LessonCount: 1,
		Lessons: []*Lesson{l}}
	rc := Recipient{FirstName: "Ann", UnsubscribeURL: "https://example.com/u", PreferencesURL: "https://example.com/p",
		ViewURL: "https://example.com/v", TriedURL: "https://example.com/t"}
	if _, err := r.Lesson(c, l, rc); err != nil {
		return err
	}
	rc.FirstName, rc.ViewURL, rc.TriedURL = "", "", ""
	if _, err := r.Lesson(c, l, rc); err != nil {
		return err
	}
	if _, err := r.Confirmation(c, "Ann", "https://example.com/c", "https://example.com/u"); err != nil {
		return err
	}
	if _, err := r.Notice(c, "Ann", Notice{Subject: "S", Paragraphs: []string{"P"}, ButtonLabel: "B", ButtonURL: "https://example.com/b",
		After: []string{"A"}, Signoff: "Thanks,", Why: "W"}, rc); err != nil {
		return err
	}
	if _, err := r.Link(c, Recipient{FirstName: "Ann", UnsubscribeURL: "https://example.com/u", PreferencesURL: "https://example.com/p"}); err != nil {
		return err
	}
	r.mu.Lock()
	r.cache, r.order = map[[32]byte]*fragment{}, nil
	r.mu.Unlock()
	r.built.Store(0)
	return nil
}

// numberedLink is a link listed at the end of a text email: "[n] URL".
type numberedLink struct {
	N   int
	URL string
}

// linkRefs are the numbers of the footer links in the text email's link
// list; 0 when the link is absent. The "I tried this" link is not among
// them: the text part gives it in full, right after "Try this week".
type linkRefs struct {
	Unsubscribe, Preferences, View int
}

// emailData is what the email templates see. Every string in it is data:
// html/template escapes it, and nothing in it is ever parsed as a template.
type emailData struct {
	Course      *Course
	Lesson      *Lesson // nil in the confirmation email
	LessonCount int
	IsLast      bool // the course's final lesson
	Subject     string
	Preheader   string
	FirstName   string // cleaned; empty when unknown
	Recipient   Recipient
	Body        htmltemplate.HTML // lesson body, placeholders filled (HTML part)
	Text        string            // lesson body as wrapped text (text part)
	Links       []numberedLink    // text part: every link, listed at the end
	Refs        linkRefs          // text part: numbers of the footer links
	ConfirmURL  string
	ExpiresIn   string // "7 days"
	Notice      Notice // the notice email's words

	// The lesson body cut right after its "Try this week" section, where
	// the "I tried this" button goes (at the end when it has no such
	// section): BodyToTry + BodyAfterTry is Body, TextToTry + TextAfterTry
	// is Text.
	BodyToTry, BodyAfterTry htmltemplate.HTML
	TextToTry, TextAfterTry string
}

// OutlookOnly wraps html in a conditional comment that only Outlook for
// Windows reads: it needs a fixed-width table where every other client
// follows max-width. html/template drops comments written in a template,
// so the layout asks for this one; html is always a literal in it.
func (emailData) OutlookOnly(html string) htmltemplate.HTML {
	return htmltemplate.HTML("<!--[if mso]>" + html + "<![endif]-->")
}

// button is a call to action, as layout.html's "button" draws it.
type button struct {
	URL, Label string
}

// Button gives the "button" template its link and label, for
// {{template "button" (.Button URL LABEL)}}: a template passes one value.
func (emailData) Button(url, label string) button {
	return button{URL: url, Label: label}
}

// Notice is a short service email in the course's layout: an address
// change, a note to the old address, the graduation. All of it is plain
// text; the templates escape it.
type Notice struct {
	Subject, Preheader     string
	Paragraphs             []string
	ButtonLabel, ButtonURL string // optional
	After                  []string
	Signoff                string // e.g. "Thanks,"
	Why                    string // the footer's "you get this because…"
}

// Notice renders n for the recipient; rc's unsubscribe and preferences
// links are optional.
func (r *Renderer) Notice(c *Course, firstName string, n Notice, rc Recipient) (Email, error) {
	if c == nil {
		return Email{}, errors.New("render notice: no course")
	}
	rc.FirstName = firstName
	rc = cleanRecipient(rc)
	n.ButtonURL = cleanURL(n.ButtonURL)
	d := emailData{
		Course: c, LessonCount: c.count(), Subject: oneLine(n.Subject), Preheader: oneLine(n.Preheader),
		FirstName: rc.FirstName, Recipient: rc, Notice: n,
	}
	if n.ButtonURL != "" {
		d.link(n.ButtonURL) // listed first in the text part's links
	}
	d.Refs.Preferences = d.link(rc.PreferencesURL)
	d.Refs.Unsubscribe = d.link(rc.UnsubscribeURL)
	return r.execute("notice", r.noticeHTML, r.noticeText, d)
}

// Lesson renders lesson l of course c for one recipient. The subject reads
// "Lesson 7 of 52: Title", with the count taken from the course.
func (r *Renderer) Lesson(c *Course, l *Lesson, rc Recipient) (Email, error) {
	if c == nil || l == nil {
		return Email{}, errors.New("render lesson: no course or lesson")
	}
	rc = cleanRecipient(rc)
	if rc.UnsubscribeURL == "" || rc.PreferencesURL == "" {
		return Email{}, fmt.Errorf("render lesson %d: the recipient has no unsubscribe or preferences URL", l.Number)
	}
	f, err := r.fragment(l)
	if err != nil {
		return Email{}, fmt.Errorf("render lesson %d: %w", l.Number, err)
	}
	d := emailData{
		Course:      c,
		Lesson:      l,
		LessonCount: c.count(),
		IsLast:      l.Number == c.count(),
		Subject:     oneLine(fmt.Sprintf("Lesson %d of %d: %s", l.Number, c.count(), l.Title)),
		Preheader:   oneLine(l.Preheader),
		FirstName:   rc.FirstName,
		Recipient:   rc,
	}
	fillText := func(s string) string { return f.fill(s, rc.FirstName, false) }
	toTry, afterTry := f.fill(f.emailHTML[:f.emailTry], rc.FirstName, true), f.fill(f.emailHTML[f.emailTry:], rc.FirstName, true)
	d.BodyToTry, d.BodyAfterTry = htmltemplate.HTML(toTry), htmltemplate.HTML(afterTry)
	d.Body = d.BodyToTry + d.BodyAfterTry
	d.TextToTry, d.TextAfterTry = f.text.parts(fillText)
	d.Text = d.TextToTry + d.TextAfterTry
	for i, u := range f.text.links {
		d.Links = append(d.Links, numberedLink{i + 1, u})
	}
	// Numbered in the order the footer shows them.
	d.Refs.View = d.link(rc.ViewURL)
	d.Refs.Preferences = d.link(rc.PreferencesURL)
	d.Refs.Unsubscribe = d.link(rc.UnsubscribeURL)
	return r.execute("lesson", r.lessonHTML, r.lessonText, d)
}

// LessonPage renders the body of lesson l as an HTML fragment for a web
// page, with the recipient's name in its placeholders.
func (r *Renderer) LessonPage(c *Course, l *Lesson, rc Recipient) (htmltemplate.HTML, error) {
	if l == nil {
		return "", errors.New("render lesson page: no lesson")
	}
	f, err := r.fragment(l)
	if err != nil {
		return "", fmt.Errorf("render lesson page %d: %w", l.Number, err)
	}
	return htmltemplate.HTML(f.fill(f.webHTML, CleanName(rc.FirstName), true)), nil
}

// Confirmation renders the double opt-in email: what the reader signed up
// for, one link to confirm, when it expires, and that ignoring it means
// nothing more is sent. unsubscribeURL may be empty.
func (r *Renderer) Confirmation(c *Course, firstName, confirmURL, unsubscribeURL string) (Email, error) {
	if c == nil {
		return Email{}, errors.New("render confirmation: no course")
	}
	rc := cleanRecipient(Recipient{FirstName: firstName, UnsubscribeURL: unsubscribeURL})
	confirmURL = cleanURL(confirmURL)
	if confirmURL == "" {
		return Email{}, errors.New("render confirmation: no confirmation URL")
	}
	d := emailData{
		Course:      c,
		LessonCount: c.count(),
		Subject:     oneLine("Please confirm: " + c.Title),
		Preheader:   oneLine(fmt.Sprintf("One click and lesson 1 is on its way: %d short emails, once per week.", c.count())),
		FirstName:   rc.FirstName,
		Recipient:   rc,
		ConfirmURL:  confirmURL,
		ExpiresIn:   days(ConfirmationValidFor),
	}
	d.Refs.Unsubscribe = d.link(rc.UnsubscribeURL)
	return r.execute("confirmation", r.confirmHTML, r.confirmText, d)
}

// link adds a URL to the text part's link list and returns its number, or
// 0 for an empty URL.
func (d *emailData) link(url string) int {
	if url == "" {
		return 0
	}
	d.Links = append(d.Links, numberedLink{len(d.Links) + 1, url})
	return len(d.Links)
}

func (r *Renderer) execute(name string, h *htmltemplate.Template, t *texttemplate.Template, d emailData) (Email, error) {
	var hb, tb bytes.Buffer
	if err := h.Execute(&hb, d); err != nil {
		return Email{}, fmt.Errorf("render %s email (HTML): %w", name, err)
	}
	if err := t.Execute(&tb, d); err != nil {
		return Email{}, fmt.Errorf("render %s email (text): %w", name, err)
	}
	return Email{Subject: d.Subject, Preheader: d.Preheader, HTML: hb.String(), Text: finishText(tb.String())}, nil
}

// fragment is a lesson body rendered once per revision. Placeholders are
// left as tokens that no Markdown touches, filled in per recipient.
type fragment struct {
	prefix    string // every placeholder's token starts with it
	emailHTML string // with inline styles, for the email layout
	emailTry  int    // where emailHTML's "Try this week" section ends
	webHTML   string // plain, for web pages with their own stylesheet
	text      textBody
	holders   []holder
}

// holder is one placeholder: its fallback, for a reader without a name.
// Its token is the fragment's prefix, its place in holders and "z".
type holder struct {
	fallback string
}

// fill substitutes the placeholders in s with name, or with each one's
// fallback when name is empty. In HTML the value is escaped. The
// substitution is a single pass, so a name is never read as a placeholder.
func (f *fragment) fill(s, name string, html bool) string {
	if len(f.holders) == 0 {
		return s
	}
	if html {
		name = EscapeHTMLText(name)
	}
	var b strings.Builder
	b.Grow(len(s) + 4*len(name))
	for {
		i := strings.Index(s, f.prefix)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i+len(f.prefix):]
		// The token is the prefix, the holder's number and "z".
		end := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
		n, err := strconv.Atoi(s[:max(end, 0)])
		if end <= 0 || s[end] != 'z' || err != nil || n >= len(f.holders) {
			b.WriteString(f.prefix) // not a token: text that looks like one
			continue
		}
		v := name
		if v == "" {
			v = f.holders[n].fallback
			if html {
				v = EscapeHTMLText(v)
			}
		}
		b.WriteString(v)
		s = s[end+1:]
	}
}

// EscapeHTMLText escapes s as html/template escapes a value in text (the
// same characters, the same entities), so a name reads the same in a
// lesson's body as in the templates' greeting.
var EscapeHTMLText = strings.NewReplacer(
	"\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;",
).Replace

// NamedBlock is a paragraph (or list item, heading, …) of a lesson's text
// part that holds the reader's name. Its lines are wrapped around the
// name, so a stencil of the lesson (package letter) wraps it again for
// each reader instead of running the templates.
type NamedBlock struct {
	f *fragment
	b textBlock
}

// NamedBlocks are the blocks of lesson l's text part that hold a
// placeholder, in the order they appear.
func (r *Renderer) NamedBlocks(l *Lesson) ([]NamedBlock, error) {
	f, err := r.fragment(l)
	if err != nil {
		return nil, err
	}
	var out []NamedBlock
	for _, b := range f.text.blocks {
		if b.fill {
			out = append(out, NamedBlock{f, b})
		}
	}
	return out, nil
}

// Text is the block as Lesson writes it for a reader named name (cleaned,
// as CleanName cleans it; "" for the placeholders' fallbacks). fits
// reports whether every line of it fits in Width: only then does Lesson's
// tidying of the whole text (finishText) leave it as it is.
func (n NamedBlock) Text(name string) (text string, fits bool) {
	b := n.b
	b.text = n.f.fill(b.text, name, false)
	text = b.format()
	for line := range strings.SplitSeq(text, "\n") {
		if len(line) > Width && utf8.RuneCountInString(line) > Width {
			return text, false
		}
	}
	return text, true
}

// fragment returns the rendered body of l, from the cache when this revision
// (the SHA-256 of its source) was rendered before.
func (r *Renderer) fragment(l *Lesson) (*fragment, error) {
	if len(l.Body) > MaxLessonSize {
		return nil, fmt.Errorf("the body is %d bytes; the most that is rendered is %d", len(l.Body), MaxLessonSize)
	}
	key := sha256.Sum256(l.Source)
	if len(l.Source) == 0 {
		// A lesson built in code rather than read from a file.
		key = sha256.Sum256([]byte("body\x00" + l.Body))
	}
	r.mu.Lock()
	f := r.cache[key]
	r.mu.Unlock()
	if f != nil {
		return f, nil
	}

	f, err := r.render(key, l.Body)
	if err != nil {
		return nil, err
	}
	r.built.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev := r.cache[key]; prev != nil {
		return prev, nil // rendered concurrently; keep one copy
	}
	if len(r.order) >= cacheSize {
		delete(r.cache, r.order[0])
		r.order = r.order[1:]
	}
	r.cache[key] = f
	r.order = append(r.order, key)
	return f, nil
}

// render renders a body to HTML (for email and web) and plain text.
func (r *Renderer) render(key [32]byte, body string) (*fragment, error) {
	prefix := "tsph" + hex.EncodeToString(key[:4])
	f := &fragment{prefix: prefix}
	var b strings.Builder
	last := 0
	for _, u := range findTemplates(body) {
		if u.problem != "" {
			continue // invalid syntax stays as the literal text it is
		}
		token := fmt.Sprintf("%s%dz", prefix, len(f.holders))
		fallback := u.fallback
		if fallback == "" {
			fallback = defaultFallback
		}
		f.holders = append(f.holders, holder{fallback})
		b.WriteString(body[last:u.start])
		b.WriteString(token)
		last = u.end
	}
	b.WriteString(body[last:])
	src := []byte(b.String())

	doc := r.md.Parser().Parse(text.NewReader(src))
	sanitise(doc, src, prefix)
	var web, email bytes.Buffer
	if err := r.md.Renderer().Render(&web, src, doc); err != nil {
		return nil, fmt.Errorf("render Markdown: %w", err)
	}
	addEmailStyles(doc)
	// Block by block, to know where the "Try this week" section ends.
	end := tryEnd(doc, src)
	f.emailTry = -1
	for c := doc.FirstChild(); c != nil; c = c.NextSibling() {
		if c == end {
			f.emailTry = email.Len()
		}
		if err := r.md.Renderer().Render(&email, src, c); err != nil {
			return nil, fmt.Errorf("render Markdown: %w", err)
		}
	}
	if f.emailTry < 0 {
		f.emailTry = email.Len()
	}
	f.webHTML, f.emailHTML = web.String(), email.String()

	f.text = buildText(doc, src, end)
	for i := range f.text.blocks {
		blk := &f.text.blocks[i]
		blk.fill = strings.Contains(blk.text, prefix)
		blk.wrapped = blk.format()
	}
	return f, nil
}

// sanitise removes what must never be sent: raw HTML (goldmark would only
// replace it with a comment), images (remote content), and links that are
// not http(s) or mailto or that hold a placeholder. Links and images keep
// their text.
func sanitise(doc ast.Node, src []byte, tokenPrefix string) {
	var drop []ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.HTMLBlock, *ast.RawHTML, *ast.Image:
			drop = append(drop, n)
		case *ast.Link:
			dest := destination(n.Destination)
			if linkProblem(dest) != "" || strings.Contains(dest, tokenPrefix) {
				drop = append(drop, n)
			}
		case *ast.AutoLink:
			if n.AutoLinkType == ast.AutoLinkURL && linkProblem(string(n.URL(src))) != "" {
				drop = append(drop, n)
			}
		}
		return ast.WalkContinue, nil
	})
	for _, n := range drop {
		parent := n.Parent()
		if parent == nil {
			continue
		}
		switch n := n.(type) {
		case *ast.HTMLBlock, *ast.RawHTML:
			parent.RemoveChild(parent, n)
		case *ast.AutoLink:
			parent.ReplaceChild(parent, n, ast.NewString(bytes.Clone(n.Label(src))))
		default:
			for c := n.FirstChild(); c != nil; {
				next := c.NextSibling()
				parent.InsertBefore(parent, n, c)
				c = next
			}
			parent.RemoveChild(parent, n)
		}
	}
}

// tryEnd is the block right after the body's "Try this week" section (the
// next top-level heading), where the "I tried this" button goes; nil when
// the section runs to the end of the body, or when there is none and the
// button goes after the whole body.
func tryEnd(doc ast.Node, src []byte) ast.Node {
	in := false
	for c := doc.FirstChild(); c != nil; c = c.NextSibling() {
		h, ok := c.(*ast.Heading)
		if !ok {
			continue
		}
		if in && h.Level <= 2 {
			return c
		}
		if h.Level == 2 && strings.TrimSpace(inlineText(h, src)) == sectionTry {
			in = true
		}
	}
	return nil
}

// addEmailStyles puts inline styles on the body's elements: many email
// clients ignore style sheets. Only what the clients' own defaults would
// not do well is styled, and spacing is padding, never margin (which many
// clients support only in part): paragraphs and lists keep the clients'
// default spacing. Colours read on light and dark backgrounds.
func addEmailStyles(doc ast.Node) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		style := ""
		switch n.Kind() {
		case ast.KindHeading:
			style = "padding-top:8px;font-size:19px;line-height:1.3;"
		case ast.KindList:
			style = "padding-left:26px;"
		case ast.KindListItem:
			style = "padding-bottom:6px;"
		case ast.KindBlockquote:
			style = "padding-left:14px;border-left:3px solid #8c959f;"
		case ast.KindLink, ast.KindAutoLink:
			style = "color:#2f6fb7;"
		}
		if style != "" {
			n.SetAttributeString("style", style)
		}
		return ast.WalkContinue, nil
	})
}

// cleanRecipient makes a recipient safe to put in any part of an email.
func cleanRecipient(rc Recipient) Recipient {
	rc.FirstName = CleanName(rc.FirstName)
	rc.UnsubscribeURL = cleanURL(rc.UnsubscribeURL)
	rc.PreferencesURL = cleanURL(rc.PreferencesURL)
	rc.ViewURL = cleanURL(rc.ViewURL)
	rc.TriedURL = cleanURL(rc.TriedURL)
	return rc
}

// CleanName turns a name as typed into one line of at most maxName
// characters: control characters (CR, LF, …) and invisible direction marks
// become spaces, runs of spaces one space.
func CleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || isBidiControl(r) || r == '\u2028' || r == '\u2029' || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxName {
		s = strings.TrimSpace(string(r[:maxName]))
	}
	return s
}

// cleanURL drops spaces and control characters, which no URL we make has.
func cleanURL(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

// days writes a whole number of days: "7 days".
func days(d time.Duration) string {
	n := int(d / (24 * time.Hour))
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
