package course

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testCourse is a fixed course around the test lesson in testdata, so that
// content edits to the shipped course never change the golden files.
func testCourse(t *testing.T) (*Course, *Lesson) {
	t.Helper()
	src, err := os.ReadFile("testdata/07-the-test-lesson.md")
	if err != nil {
		t.Fatal(err)
	}
	l, ps := ParseLesson("07-the-test-lesson.md", src)
	if ps != nil {
		t.Fatalf("test lesson: %v", ps)
	}
	c, ps := ParseCourseYAML([]byte(strings.Replace(courseYAML, "lessons: 2", "lessons: 52", 1)))
	if ps != nil {
		t.Fatalf("test course: %v", ps)
	}
	c.Lessons = []*Lesson{l}
	return c, l
}

// testTemplates is the templates folder this package's templates live in.
func testTemplates(testing.TB) fs.FS { return os.DirFS("../../templates") }

func newTestRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := NewRenderer(testTemplates(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// bodyLesson is a lesson with the given body, as the admin editor would
// parse it; problems are ignored since rendering must cope with anything.
func bodyLesson(body string) *Lesson {
	l, _ := ParseLesson("", []byte(lessonWith(3, "three", "Three", body)))
	return l
}

var testRecipient = Recipient{
	FirstName:      "Anna",
	UnsubscribeURL: "https://example.com/unsubscribe/tok3n",
	PreferencesURL: "https://example.com/preferences/tok3n",
	ViewURL:        "https://example.com/lessons/7?t=tok3n",
	TriedURL:       "https://example.com/tried/7?t=tok3n",
}

func TestLessonEmailMatchesTheGoldenFiles(t *testing.T) {
	c, l := testCourse(t)
	r := newTestRenderer(t)
	e, err := r.Lesson(c, l, testRecipient)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Lesson 7 of 52: The test lesson"; e.Subject != want {
		t.Errorf("subject = %q, want %q", e.Subject, want)
	}
	if e.Preheader != l.Preheader {
		t.Errorf("preheader = %q, want %q", e.Preheader, l.Preheader)
	}
	golden(t, "testdata/lesson.golden.html", e.HTML)
	golden(t, "testdata/lesson.golden.txt", e.Text)
}

func TestConfirmationEmailMatchesTheGoldenFiles(t *testing.T) {
	c, _ := testCourse(t)
	r := newTestRenderer(t)
	e, err := r.Confirmation(c, "", "https://example.com/confirm/c0nf1rm", "https://example.com/unsubscribe/tok3n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Please confirm: Test Course"; e.Subject != want {
		t.Errorf("subject = %q, want %q", e.Subject, want)
	}
	for _, want := range []string{"52 emails, once per week, each readable in under two minutes", "expires in 7 days", "nothing more will be sent", "Hi there,"} {
		if !strings.Contains(strings.Join(strings.Fields(e.Text), " "), want) || !strings.Contains(e.HTML, want) {
			t.Errorf("confirmation does not say %q", want)
		}
	}
	if n := strings.Count(e.HTML, `href="https://example.com/confirm/c0nf1rm"`); n != 1 {
		t.Errorf("confirmation has %d confirm links, want 1", n)
	}
	golden(t, "testdata/confirmation.golden.html", e.HTML)
	golden(t, "testdata/confirmation.golden.txt", e.Text)
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output (run go test -update to accept it):\n%s", filepath.Base(file), firstDiff(got, string(want)))
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
	return "(no line differs)"
}

func TestTheLessonEmailSaysWhoItIsForAndHowToLeave(t *testing.T) {
	c, l := testCourse(t)
	r := newTestRenderer(t)
	tests := []struct {
		name      string
		rc        Recipient
		contains  []string
		omits     []string
		textLinks int
	}{
		{"a named recipient with every link is greeted by name and sees every link",
			testRecipient,
			[]string{"Hi Anna,", "You are receiving this because you subscribed to Test Course.", "1 Test Street, Testville",
				"Unsubscribe", "Manage preferences", "View in browser", "I tried this", "Ada Author", testRecipient.UnsubscribeURL},
			nil, 4},
		{"a recipient without a name is greeted with Hi there",
			Recipient{UnsubscribeURL: "https://example.com/u", PreferencesURL: "https://example.com/p"},
			[]string{"Hi there,", "Unsubscribe", "Manage preferences"},
			[]string{"View in browser", "I tried this", "Hi ,"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := r.Lesson(c, l, tt.rc)
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range []string{e.HTML, e.Text} {
				for _, s := range tt.contains {
					if !strings.Contains(part, strings.ReplaceAll(s, "&", "&amp;")) && !strings.Contains(part, s) {
						t.Errorf("email does not contain %q", s)
					}
				}
				for _, s := range tt.omits {
					if strings.Contains(part, s) {
						t.Errorf("email contains %q", s)
					}
				}
			}
			if n := len(regexp.MustCompile(`(?m)^\[\d+\] `).FindAllString(e.Text, -1)); n != tt.textLinks {
				t.Errorf("text lists %d links, want %d:\n%s", n, tt.textLinks, e.Text)
			}
		})
	}
	if _, err := r.Lesson(c, l, Recipient{FirstName: "Anna"}); err == nil {
		t.Error("a lesson without unsubscribe and preferences links was rendered")
	}
}

func TestTheLastLessonSaysThankYouInsteadOfUntilNextWeek(t *testing.T) {
	c, l := testCourse(t)
	c.LessonCount = 7
	e, err := newTestRenderer(t).Lesson(c, l, testRecipient)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Text, "Thank you for reading all 7,") || strings.Contains(e.Text, "Until next week") {
		t.Errorf("last lesson sign-off:\n%s", e.Text)
	}
	if !strings.HasPrefix(e.Subject, "Lesson 7 of 7:") {
		t.Errorf("subject = %q", e.Subject)
	}
}

func TestHostileLessonTextAndNamesRenderInert(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://secret-password@db")
	body := "Hello <script>alert(1)</script> there.\n\n" +
		"<script>alert(2)</script>\n\n" +
		"Click [x](javascript:alert(1)) or [y](JAVASCRIPT:alert(1)) or [z](data:text/html,hi) or <vbscript:msgbox(1)>.\n\n" +
		`Read {{env "DATABASE_URL"}} and {{.Secret}} and {{template "x"}}.` + "\n\n" +
		"Dear {{first_name|reader}}, ![pixel](https://tracker.example/p.gif) <img src=x onerror=alert(1)>\n\n" +
		"## Try this week\n\nNothing.\n\n## Reflect\n\nWhy?\n"
	l := bodyLesson(body)
	c := &Course{Title: "T", Language: "en", Author: "A", PostalAddress: "P", LessonCount: 52, Lessons: []*Lesson{l}}
	r := newTestRenderer(t)
	names := []string{
		"<img src=x onerror=alert(1)>",
		"{{first_name}}",
		`{{env "DATABASE_URL"}}`,
		"Ann\r\nBcc: x@y",
		"</p><script>alert(3)</script>",
		"*bold* [link](https://evil.example)",
		"\u202eevil",
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			rc := testRecipient
			rc.FirstName = name
			e, err := r.Lesson(c, l, rc)
			if err != nil {
				t.Fatal(err)
			}
			page, err := r.LessonPage(c, l, rc)
			if err != nil {
				t.Fatal(err)
			}
			for _, html := range []string{e.HTML, string(page)} {
				if bad := liveMarkup(html); bad != "" {
					t.Errorf("HTML has live markup %q", bad)
				}
				// Dropped links keep their text; only their address goes.
				for _, s := range []string{"secret-password", "javascript:", "JAVASCRIPT:", "data:text", "tracker.example", "evil.example\"", "<vbscript:"} {
					if strings.Contains(html, s) {
						t.Errorf("HTML contains %q", s)
					}
				}
			}
			for _, s := range []string{"secret-password", "javascript:", "tracker.example", "\r"} {
				if strings.Contains(e.Text, s) || strings.Contains(e.Subject, s) {
					t.Errorf("text or subject contains %q", s)
				}
			}
			if regexp.MustCompile(`(?m)^Bcc:`).MatchString(e.Text) {
				t.Error("a name started a line of its own in the text part")
			}
			if strings.ContainsRune(e.Text, '\u202e') || strings.ContainsRune(e.HTML, '\u202e') {
				t.Error("a direction override survived")
			}
			// The literal template syntax is shown as text, never run.
			if !strings.Contains(e.Text, `{{env "DATABASE_URL"}}`) || !strings.Contains(e.Text, "{{.Secret}}") {
				t.Errorf("text lost the literal template syntax:\n%s", e.Text)
			}
		})
	}

	// A name that looks like a placeholder is inserted as written, once.
	rc := testRecipient
	rc.FirstName = "{{first_name}}"
	e, err := r.Lesson(c, l, rc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Text, "Dear {{first_name}},") || !strings.Contains(e.Text, "Hi {{first_name}},") {
		t.Errorf("a placeholder-like name was not inserted literally:\n%s", e.Text)
	}
}

// liveMarkup returns the first tag or attribute in html that the email
// templates do not produce themselves, or "". A "<" in text is escaped, so
// every "<" starts markup.
func liveMarkup(html string) string {
	tags := map[string]bool{"!doctype": true, "html": true, "head": true, "meta": true, "title": true, "style": true,
		"body": true, "div": true, "span": true, "table": true, "tr": true, "td": true, "p": true, "h1": true, "h2": true,
		"a": true, "br": true, "strong": true, "em": true, "code": true, "ul": true, "ol": true, "li": true,
		"blockquote": true, "pre": true, "hr": true}
	attrs := map[string]bool{"lang": true, "charset": true, "name": true, "content": true, "class": true, "style": true,
		"role": true, "width": true, "bgcolor": true, "cellpadding": true, "cellspacing": true, "border": true, "align": true, "href": true, "start": true}
	// The layout's one conditional comment, for Outlook, is the templates' own.
	html = strings.NewReplacer("<!--[if mso]>", "", "<![endif]-->", "").Replace(html)
	tagRe := regexp.MustCompile(`<(/?)([!a-zA-Z][a-zA-Z0-9]*)([^>]*)>`)
	attrRe := regexp.MustCompile(`\s([a-zA-Z-]+)(?:="[^"]*")?`)
	for _, m := range tagRe.FindAllStringSubmatch(html, -1) {
		if !tags[strings.ToLower(m[2])] {
			return m[0]
		}
		if m[2] == "!DOCTYPE" {
			continue
		}
		for _, a := range attrRe.FindAllStringSubmatch(m[3], -1) {
			if !attrs[strings.ToLower(a[1])] {
				return m[0]
			}
		}
		for _, h := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(m[3], -1) {
			if !strings.HasPrefix(h[1], "https://") && !strings.HasPrefix(h[1], "http://") && !strings.HasPrefix(h[1], "mailto:") {
				return m[0]
			}
		}
	}
	return ""
}

func TestPlaceholdersAreFilledPerRecipient(t *testing.T) {
	r := newTestRenderer(t)
	tests := []struct {
		name, body, firstName string
		html, text            string
	}{
		{"a name replaces the placeholder", "Thanks, {{first_name|friend}}.", "Anna", "Thanks, Anna.", "Thanks, Anna."},
		{"no name gives the fallback", "Thanks, {{first_name|friend}}.", "", "Thanks, friend.", "Thanks, friend."},
		{"a fallback may have spaces and punctuation", "Thanks, {{first_name|dear reader}}!", "", "Thanks, dear reader!", "Thanks, dear reader!"},
		{"no name and no fallback gives friend", "Thanks, {{first_name}}.", "", "Thanks, friend.", "Thanks, friend."},
		{"a name is HTML-escaped in HTML only", "Thanks, {{first_name|friend}}.", "Tom & Jerry", "Thanks, Tom &amp; Jerry.", "Thanks, Tom & Jerry."},
		{"a name is never read as Markdown", "Thanks, {{first_name|friend}}.", "*Bo*", "Thanks, *Bo*.", "Thanks, *Bo*."},
		{"emphasis around a placeholder is kept", "Thanks, *{{first_name|friend}}*.", "Anna", "Thanks, <em>Anna</em>.", "Thanks, Anna."},
		{"every placeholder is filled", "{{first_name|you}} and {{first_name|you}}.", "", "you and you.", "you and you."},
		{"an invalid fallback stays as literal text", "Hi {{first_name|you & me}}.", "Anna", "Hi {{first_name|you &amp; me}}.", "Hi {{first_name|you & me}}."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := bodyLesson(tt.body + "\n\n## Try this week\n\nGo.\n\n## Reflect\n\nWhy?\n")
			c := &Course{Title: "T", Language: "en", Author: "A", PostalAddress: "P", LessonCount: 3, Lessons: []*Lesson{l}}
			rc := testRecipient
			rc.FirstName = tt.firstName
			page, err := r.LessonPage(c, l, rc)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(page), tt.html) {
				t.Errorf("HTML = %s, want it to contain %q", page, tt.html)
			}
			e, err := r.Lesson(c, l, rc)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(e.Text, tt.text) {
				t.Errorf("text = %s, want it to contain %q", e.Text, tt.text)
			}
		})
	}
}

func TestTheCacheRendersEachRevisionOnce(t *testing.T) {
	c, l := testCourse(t)
	r := newTestRenderer(t)
	first, err := r.Lesson(c, l, testRecipient)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]Email, 16)
	errs := make([]error, len(results))
	for i := range results {
		wg.Go(func() { results[i], errs[i] = r.Lesson(c, l, testRecipient) })
	}
	wg.Wait()
	for i, e := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if e != first {
			t.Fatal("a cached render differs from the first")
		}
	}
	if n := r.built.Load(); n != 1 {
		t.Errorf("the body was rendered %d times, want once", n)
	}
	f1, _ := r.fragment(l)
	f2, _ := r.fragment(l)
	if f1 != f2 {
		t.Error("the cache returned different fragments for one revision")
	}

	// A new revision is a new entry.
	edited := *l
	edited.Source = append(slices.Clone(l.Source), "\nOne more line.\n"...)
	edited.Body += "\nOne more line.\n"
	e, err := r.Lesson(c, &edited, testRecipient)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.built.Load(); n != 2 {
		t.Errorf("after an edit the body was rendered %d times in all, want 2", n)
	}
	if !strings.Contains(e.Text, "One more line.") {
		t.Error("the edited revision was served from the old entry")
	}
}

func TestTheCacheStaysBounded(t *testing.T) {
	r := newTestRenderer(t)
	for i := range cacheSize + 10 {
		l := bodyLesson(strings.Repeat("word ", i+1))
		if _, err := r.fragment(l); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.cache) != cacheSize || len(r.order) != cacheSize {
		t.Errorf("cache holds %d entries (%d in order), want %d", len(r.cache), len(r.order), cacheSize)
	}
}

func TestPlainTextIsWrappedAt78Columns(t *testing.T) {
	c, l := testCourse(t)
	r := newTestRenderer(t)
	rc := testRecipient
	rc.FirstName = strings.Repeat("Bartholomew ", 5)
	rc.UnsubscribeURL = "https://example.com/unsubscribe/" + strings.Repeat("x", 90)
	c.PostalAddress = strings.Repeat("Long Street ", 10)
	e, err := r.Lesson(c, l, rc)
	if err != nil {
		t.Fatal(err)
	}
	checkWrapped(t, e.Text)
	for _, want := range []string{
		"- one idea, said plainly and early, so the reader knows where the lesson is\n  going",
		"1. Read the lesson.\n2. Try the idea once.",
		"\n\nTry this week\n-------------\n\n",
		"\n[1] https://example.com/twostep?ref=golden&lang=en\n",
		"\nhttps://example.com/a/very/long/address/that/cannot/be/broken/anywhere/at/all\n",
		"\n[4] https://example.com/unsubscribe/" + strings.Repeat("x", 90) + "\n",
	} {
		if !strings.Contains(e.Text, want) {
			t.Errorf("text does not contain %q:\n%s", want, e.Text)
		}
	}
	words := strings.Join(strings.Fields(e.Text), " ")
	for _, want := range []string{"twostep project [1]", "same page [1]", "strong words, emphasis, code and"} {
		if !strings.Contains(words, want) {
			t.Errorf("text does not contain %q:\n%s", want, e.Text)
		}
	}
}

// checkWrapped fails when a line is over Width columns, unless it is one
// unbreakable word (perhaps after a list marker or link number).
func checkWrapped(t *testing.T, text string) {
	t.Helper()
	unbreakable := regexp.MustCompile(`^\s*(?:\[\d+\] |- |\d+\. |> )?\S+$`)
	for i, line := range strings.Split(text, "\n") {
		if utf8.RuneCountInString(line) > Width && !unbreakable.MatchString(line) {
			t.Errorf("line %d has %d columns: %q", i+1, utf8.RuneCountInString(line), line)
		}
	}
}

func TestWrapBreaksBetweenWordsOnly(t *testing.T) {
	long := strings.Repeat("x", 90)
	tests := []struct {
		name, text, first, rest string
		width                   int
		want                    string
	}{
		{"short text stays on one line", "a b c", "", "", 10, "a b c"},
		{"text breaks at the last space that fits", "aaa bbb ccc", "", "", 7, "aaa bbb\nccc"},
		{"a list item hangs under its marker", "aaa bbb ccc", "- ", "  ", 9, "- aaa bbb\n  ccc"},
		{"a word longer than the line gets a line of its own", "a " + long + " b", "", "", 10, "a\n" + long + "\nb"},
		{"a hard break is kept", "a\nb", "> ", "> ", 10, "> a\n> b"},
		{"runs of spaces become one", "a    b", "", "", 10, "a b"},
		{"width counts characters, not bytes", "ééééé ééééé", "", "", 11, "ééééé ééééé"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sb strings.Builder
			wrap(&sb, tt.text, tt.first, tt.rest, tt.width)
			if sb.String() != tt.want {
				t.Errorf("wrap = %q, want %q", sb.String(), tt.want)
			}
		})
	}
}

func TestNewRendererRejectsMissingOrBrokenTemplates(t *testing.T) {
	good := fstest.MapFS{}
	for _, name := range []string{"layout.html", "layout.txt", "lesson.html", "lesson.txt", "confirmation.html", "confirmation.txt", "notice.html", "notice.txt", "link.html", "link.txt"} {
		data, err := os.ReadFile(filepath.Join("../../templates/email", name))
		if err != nil {
			t.Fatal(err)
		}
		good["email/"+name] = &fstest.MapFile{Data: data}
	}
	if _, err := NewRenderer(good); err != nil {
		t.Fatalf("the shipped templates: %v", err)
	}
	tests := []struct {
		name string
		fsys fstest.MapFS
	}{
		{"no templates at all", fstest.MapFS{}},
		{"a missing content template", without(good, "email/confirmation.txt")},
		{"a missing layout", without(good, "email/layout.html")},
		{"a syntax error", with(good, "email/lesson.html", `{{define "content"}}{{.Body}{{end}}`)},
		{"an unknown field", with(good, "email/lesson.txt", `{{define "content"}}{{.Nope}}{{end}}`)},
		{"a failing function call", with(good, "email/confirmation.html", `{{define "content"}}{{index .Links 99}}{{end}}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := NewRenderer(tt.fsys); err == nil {
				t.Errorf("NewRenderer = %v, want an error", r)
			}
		})
	}
	if _, err := NewRenderer(nil); err == nil {
		t.Error("NewRenderer(nil) did not fail")
	}
}

func TestITriedThisIsAButtonRightAfterTryThisWeek(t *testing.T) {
	r := newTestRenderer(t)
	c, testLesson := testCourse(t)
	button := regexp.MustCompile(`<td class="button"[^>]*>\s*<a href="` + regexp.QuoteMeta(testRecipient.TriedURL) + `"[^>]*>I tried this</a>`)
	tests := []struct {
		name        string
		lesson      *Lesson
		after       string // what comes right after "Try this week" in HTML and text
		htmlBefore  string // the section's end in the HTML, right before the button
		afterButton string // what follows the button in the HTML
	}{
		{"a lesson gets it between its two sections", testLesson,
			"\n\nReflect\n-------", "which part they ask about.</p>\n", `<h2 style="padding-top:8px;font-size:19px;line-height:1.3;">Reflect</h2>`},
		{"a body that ends with the section gets it before the sign-off", bodyLesson("Intro.\n\n## Try this week\n\nGo."),
			"\n\nUntil next week,", "<p>Go.</p>\n", "\n<p>Until next week,"},
		{"a body without the section gets it after the body", bodyLesson("Only a paragraph.\n\n## Something else\n\nText."),
			"\n\nUntil next week,", "<p>Text.</p>\n", "\n<p>Until next week,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := r.Lesson(c, tt.lesson, testRecipient)
			if err != nil {
				t.Fatal(err)
			}
			loc := button.FindStringIndex(e.HTML)
			if loc == nil || len(button.FindAllString(e.HTML, -1)) != 1 {
				t.Fatalf("the HTML does not have one \"I tried this\" button:\n%s", e.HTML)
			}
			before, rest := e.HTML[:loc[0]], e.HTML[loc[1]:]
			if !strings.HasSuffix(strings.TrimSuffix(before, `<table role="presentation" cellpadding="0" cellspacing="0">
<tr>
`), tt.htmlBefore) {
				t.Errorf("the button does not follow %q:\n%s", tt.htmlBefore, before[max(0, len(before)-300):])
			}
			if _, after, _ := strings.Cut(rest, "</table>\n"); !strings.HasPrefix(after, tt.afterButton) {
				t.Errorf("the button is not followed by %q but by:\n%.200s", tt.afterButton, after)
			}
			link := "\n\nI tried this:\n" + testRecipient.TriedURL + tt.after
			if strings.Count(e.Text, "I tried this") != 1 || !strings.Contains(e.Text, link) {
				t.Errorf("the text part does not have %q once:\n%s", link, e.Text)
			}
			if footer := e.HTML[strings.Index(e.HTML, `class="foot"`):]; strings.Contains(footer, "I tried this") {
				t.Error("the footer still has an \"I tried this\" link")
			}
		})
	}

	// Without the link (a preview, say) there is no button and no line.
	rc := testRecipient
	rc.TriedURL = ""
	e, err := r.Lesson(c, testLesson, rc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.HTML, "I tried this") || strings.Contains(e.Text, "I tried this") {
		t.Error("a lesson without a tried link shows the button")
	}
}

// The email body is rendered block by block to find the end of "Try this
// week"; put together, the blocks are the whole lesson, as the web page
// (rendered in one piece) has it.
func TestTheEmailBodyIsTheWholeLessonAsTheWebPageHasIt(t *testing.T) {
	_, l := testCourse(t)
	f, err := newTestRenderer(t).fragment(l)
	if err != nil {
		t.Fatal(err)
	}
	unstyled := regexp.MustCompile(` style="[^"]*"`).ReplaceAllString(f.emailHTML, "")
	if unstyled != f.webHTML {
		t.Errorf("the email body without its styles differs from the web page's:\n%s", firstDiff(unstyled, f.webHTML))
	}
	if !strings.HasSuffix(f.emailHTML[:f.emailTry], "they ask about.</p>\n") || !strings.HasPrefix(f.emailHTML[f.emailTry:], "<h2") {
		t.Errorf("the body is cut at %d, not after \"Try this week\": %q", f.emailTry, f.emailHTML[max(0, f.emailTry-40):f.emailTry+10])
	}
}

func TestEveryEmailGivesThePostalAddressOnce(t *testing.T) {
	c, l := testCourse(t)
	r := newTestRenderer(t)
	notice := Notice{Subject: "S", Paragraphs: []string{"P"}, ButtonLabel: "B", ButtonURL: "https://example.com/b", Signoff: "Thanks,", Why: "W"}
	render := map[string]func() (Email, error){
		"a lesson": func() (Email, error) { return r.Lesson(c, l, testRecipient) },
		"a confirmation": func() (Email, error) {
			return r.Confirmation(c, "Ann", "https://example.com/c", "https://example.com/u")
		},
		"a closing email, with links": func() (Email, error) {
			return r.Notice(c, "Ann", notice, testRecipient)
		},
		"an address change, without links": func() (Email, error) { return r.Notice(c, "Ann", notice, Recipient{}) },
	}
	for name, f := range render {
		t.Run(name, func(t *testing.T) {
			e, err := f()
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(e.HTML, c.PostalAddress); n != 1 {
				t.Errorf("the HTML gives the postal address %d times", n)
			}
			if n := strings.Count(e.Text, c.PostalAddress); n != 1 {
				t.Errorf("the text gives the postal address %d times:\n%s", n, e.Text)
			}
		})
	}
}

// word-break: break-all splits ordinary words at the end of a line; only
// the confirmation's long address, which has no words, may break anywhere.
func TestOnlyTheConfirmationAddressMayBreakAnywhere(t *testing.T) {
	c, l := testCourse(t)
	r := newTestRenderer(t)
	confirmURL := "https://example.com/confirm/" + strings.Repeat("c0nf1rm", 20)
	confirmation, err := r.Confirmation(c, "Ann", confirmURL, "https://example.com/u")
	if err != nil {
		t.Fatal(err)
	}
	lesson, err := r.Lesson(c, l, testRecipient)
	if err != nil {
		t.Fatal(err)
	}
	breaking := regexp.MustCompile(`<(\w+) [^>]*style="[^"]*word-break:[^>]*>([^<]*)</(\w+)>`)
	found := 0
	for _, html := range []string{confirmation.HTML, lesson.HTML} {
		for _, m := range breaking.FindAllStringSubmatch(html, -1) {
			found++
			if m[2] != confirmURL || m[1] != m[3] {
				t.Errorf("word-break applies to %q, not only to the address", m[2])
			}
		}
		if n := strings.Count(html, "word-break"); n != len(breaking.FindAllString(html, -1)) {
			t.Errorf("word-break on an element that holds more than text: %d uses", n)
		}
	}
	if found != 1 {
		t.Errorf("word-break is used %d times, want once, on the address", found)
	}
}
