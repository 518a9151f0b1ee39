package letter

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/link"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/token"
)

// stencils renders each lesson's email once per revision and shape (with or
// without a name in the greeting) with markers where a reader's name and
// link tokens go, so that a pass only puts those in per reader instead of
// running the templates for every message. In the text part, a paragraph
// that uses the name in the lesson's body is wrapped around it, so it is
// wrapped again for each reader (course.NamedBlock). The result is byte
// for byte what Renderer.Lesson makes
// (TestStencilsRenderExactlyWhatTheTemplatesDo).
//
// The cache holds the stencils of one course: Library.Current returns the
// same *course.Course until a lesson changes, and templates (which
// TEMPLATES_DIR may replace) can read anything in it, so a stencil is good
// only for the course it was made for. When a pass brings a new one, the
// old course's stencils are dropped, so they never pile up.
type stencils struct {
	once   sync.Once
	marker string // random per process, so no lesson or name can hold it
	mu     sync.Mutex
	course *course.Course // whose stencils cache holds
	cache  map[stencilKey]*stencil
}

type stencilKey struct {
	// Library.Current parses each revision once, so a lesson is stable
	// per revision.
	lesson *course.Lesson
	named  bool
}

// The values a stencil leaves out, in the order of slotNames.
const (
	slotName = iota
	slotUnsubscribe
	slotPreferences
	slotTried
	slots
)

const slotNames = "nupt"

// stencil is a rendered lesson email cut at its markers.
type stencil struct {
	email      course.Email
	html, text []piece
	// named are the text part's blocks that hold the name; the text's
	// pieces refer to named[i] as slot slots+i.
	named []course.NamedBlock
}

// piece is literal text followed by a slot's value (slot < 0: nothing).
type piece struct {
	lit  string
	slot int
}

// cut splits s at the markers of stencils with this marker.
func (s *stencils) cut(src string) []piece {
	var out []piece
	for {
		i := strings.Index(src, s.marker)
		if i < 0 {
			return append(out, piece{src, -1})
		}
		rest := src[i+len(s.marker):]
		slot := -1
		if len(rest) >= 2 && rest[1] == 'x' {
			slot = strings.IndexByte(slotNames, rest[0])
		}
		if slot < 0 {
			// Not one of ours: keep it as text.
			out = append(out, piece{src[:i+len(s.marker)], -1})
			src = rest
			continue
		}
		out = append(out, piece{src[:i], slot})
		src = rest[2:]
	}
}

// cutNamed splits text at the blocks in named, each as it reads for name
// (the name's marker), then at the markers; ok is false when a block is not
// in the text as Text gives it.
func (s *stencils) cutNamed(text string, named []course.NamedBlock, name string) (ps []piece, ok bool) {
	for i, nb := range named {
		block, _ := nb.Text(name)
		at := strings.Index(text, block)
		if at < 0 {
			return nil, false
		}
		before := s.cut(text[:at])
		before[len(before)-1].slot = slots + i
		ps = append(ps, before...)
		text = text[at+len(block):]
	}
	return append(ps, s.cut(text)...), true
}

// fill joins pieces with the values in vals.
func fill(ps []piece, vals []string) string {
	n := 0
	for _, p := range ps {
		n += len(p.lit)
		if p.slot >= 0 {
			n += len(vals[p.slot])
		}
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range ps {
		b.WriteString(p.lit)
		if p.slot >= 0 {
			b.WriteString(vals[p.slot])
		}
	}
	return b.String()
}

// write writes pieces with the values in vals to w, as fill joins them,
// without joining them first.
func write(w io.Writer, ps []piece, vals []string) (int64, error) {
	var n int64
	put := func(s string) error {
		if s == "" {
			return nil
		}
		k, err := mail.WriteString(w, s)
		n += int64(k)
		return err
	}
	for _, p := range ps {
		if err := put(p.lit); err != nil {
			return n, err
		}
		if p.slot >= 0 {
			if err := put(vals[p.slot]); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (s *stencils) mark(slot int) string { return s.marker + slotNames[slot:slot+1] + "x" }

// lesson is lesson ls for sub, with sub's links, from a stencil when it
// can; ok is false when the caller must render it in full.
func (s *stencils) lesson(l *Letters, c *course.Course, ls *course.Lesson, sub *drip.Subscriber) (f *filled, ok bool, err error) {
	s.once.Do(func() {
		var b [8]byte
		_, _ = rand.Read(b[:])
		s.marker = "tsmk" + hex.EncodeToString(b[:])
		s.cache = map[stencilKey]*stencil{}
	})
	name := course.CleanName(sub.FirstName())
	key := stencilKey{ls, name != ""}
	s.mu.Lock()
	st, cached := s.cache[key]
	cached = cached && s.course == c
	s.mu.Unlock()
	if !cached {
		if st, err = s.build(l, c, ls, key.named); err != nil {
			return nil, false, err
		}
		s.mu.Lock()
		if s.course != c {
			s.course = c
			clear(s.cache)
		}
		s.cache[key] = st // nil: this lesson is rendered in full
		s.mu.Unlock()
	}
	if st == nil {
		return nil, false, nil
	}
	if f, ok = st.fill(l, sub, name); !ok {
		return nil, false, nil
	}
	return f, true, nil
}

// build renders the stencil of lesson ls, or returns nil when the lesson
// must be rendered in full for every reader: when the templates (which
// TEMPLATES_DIR may replace) put a name or link where a stencil would not
// come out as the templates do — checked on two sample readers — or when
// the text tidying changed a paragraph that holds the name.
func (s *stencils) build(l *Letters, c *course.Course, ls *course.Lesson, named bool) (*stencil, error) {
	rc := course.Recipient{
		UnsubscribeURL: l.BaseURL + link.To(token.Unsubscribe, s.mark(slotUnsubscribe)),
		PreferencesURL: l.BaseURL + link.To(token.Preferences, s.mark(slotPreferences)),
		TriedURL:       l.BaseURL + link.To(token.Tried, s.mark(slotTried)) + link.TriedLesson(ls.Number),
	}
	rc.ViewURL = rc.PreferencesURL + link.Lesson(ls.Number)
	if named {
		rc.FirstName = s.mark(slotName)
	}
	rendered, err := l.Renderer.Lesson(c, ls, rc)
	if err != nil {
		return nil, err
	}
	st := &stencil{email: rendered, html: s.cut(rendered.HTML), text: s.cut(rendered.Text)}
	if named {
		// Without a name, the body's placeholders hold their fallbacks,
		// the same for every reader.
		if st.named, err = l.Renderer.NamedBlocks(ls); err != nil {
			return nil, err
		}
		var ok bool
		if st.text, ok = s.cutNamed(rendered.Text, st.named, rc.FirstName); !ok {
			return nil, nil
		}
	}
	samples := []*drip.Subscriber{
		{ID: 1, Name: "A"},
		// Every character html/template escapes in some context: a no-break
		// space (a space once the name is cleaned), = and ` end or open an
		// unquoted attribute, so a template that puts the name in one is
		// rendered in full.
		{ID: math.MaxInt64, TokenGen: math.MaxInt32, Name: "O'Brien&<Co>\"+\"\u00a0=`" + strings.Repeat("ñ", 50)},
	}
	for _, sub := range samples {
		if !named {
			sub.Name = ""
		}
		want, err := l.Renderer.Lesson(c, ls, l.LessonRecipient(sub, ls.Number))
		if err != nil {
			return nil, err
		}
		// A name that does not fit is rendered in full, never from the stencil.
		if f, fits := st.fill(l, sub, course.CleanName(sub.FirstName())); fits && f.email() != want {
			return nil, nil
		}
	}
	return st, nil
}

// filled is a stencil with one reader's values put in: it writes the
// lesson's two parts straight into a message, or makes them strings.
type filled struct {
	st *stencil
	// text holds the values by slot as the text part has them, html as
	// the HTML part has them: the same but for the name, escaped there.
	text []string
	html [slots]string
	buf  [slots + 4]string // text, unless it has more
}

// fill is the stencil with sub's name and links put in; ok is false when
// this name does not fit the stencil (a line the templates would wrap
// differently) and the lesson must be rendered in full.
func (st *stencil) fill(l *Letters, sub *drip.Subscriber, name string) (f *filled, ok bool) {
	f = &filled{st: st}
	f.text = f.buf[:]
	if n := slots + len(st.named); n > len(f.buf) {
		f.text = make([]string, n)
	}
	vals := f.text
	sign := func(p token.Purpose) string { return l.token(p, sub, time.Time{}) }
	vals[slotName] = name
	vals[slotUnsubscribe], vals[slotPreferences], vals[slotTried] = sign(token.Unsubscribe), sign(token.Preferences), sign(token.Tried)
	for i, nb := range st.named {
		var fits bool
		if vals[slots+i], fits = nb.Text(name); !fits {
			return nil, false
		}
	}
	copy(f.html[:], vals)
	f.html[slotName] = course.EscapeHTMLText(name)
	return f, true
}

// unsubscribeURL is the reader's unsubscribe link.
func (f *filled) unsubscribeURL(l *Letters) string {
	return l.BaseURL + link.To(token.Unsubscribe, f.text[slotUnsubscribe])
}

// writeText and writeHTML write the text and the HTML part to w, as
// go-mail's body writers.
func (f *filled) writeText(w io.Writer) (int64, error) { return write(w, f.st.text, f.text) }
func (f *filled) writeHTML(w io.Writer) (int64, error) { return write(w, f.st.html, f.html[:]) }

// email is the lesson with its parts as strings: what writeText and
// writeHTML write.
func (f *filled) email() course.Email {
	e := f.st.email
	e.Text = fill(f.st.text, f.text)
	e.HTML = fill(f.st.html, f.html[:])
	return e
}
