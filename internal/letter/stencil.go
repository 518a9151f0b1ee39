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
// wrapped again for each reader (course.NamedBlock). The confirmation is
// made the same way, once per shape. The result is byte for byte what
// Renderer.Lesson (Renderer.Confirmation) makes
// (TestStencilsRenderExactlyWhatTheTemplatesDo,
// TestTheConfirmationStencilRendersExactlyWhatTheTemplatesDo).
//
// A stencil is good only for the course it was made for: Library.Current
// returns the same *course.Course until a lesson changes, and templates
// (which TEMPLATES_DIR may replace) can read anything in it. A cache holds
// the stencils of the last two courses asked for, because during a pass
// over a lesson just edited some workers still send the course they began
// with while others have the new one: with one course, every turn between
// them would drop the other's stencils and build them again. An older
// course's stencils are dropped, so they never pile up. The confirmations
// have a cache of their own: they are of Letters.Course, which a pass's
// course replaces after the first edit of a lesson.
type stencils struct {
	once          sync.Once
	marker        string // random per process, so no lesson or name can hold it
	mu            sync.Mutex
	lessons       stencilCache
	confirmations stencilCache
}

// stencilCache is the stencils of the last two courses, by key.
type stencilCache struct {
	courses [2]*course.Course // [0] the newest
	m       [2]map[stencilKey]*stencil
}

// of is course c's stencils; with add, a course not held becomes the
// newest, and the older of the two held is dropped.
func (sc *stencilCache) of(c *course.Course, add bool) map[stencilKey]*stencil {
	for i, held := range sc.courses {
		if held == c && sc.m[i] != nil {
			return sc.m[i]
		}
	}
	if !add {
		return nil
	}
	sc.courses[1], sc.m[1] = sc.courses[0], sc.m[0]
	sc.courses[0], sc.m[0] = c, map[stencilKey]*stencil{}
	return sc.m[0]
}

type stencilKey struct {
	// Library.Current parses each revision once, so a lesson is stable
	// per revision.
	lesson *course.Lesson // nil: the confirmation
	named  bool
}

// The values a stencil leaves out, in the order of slotNames.
const (
	slotName = iota
	slotUnsubscribe
	slotPreferences
	slotTried
	slotConfirm
	slots
)

const slotNames = "nuptc"

// slotPurposes are the tokens the link slots hold.
var slotPurposes = [slots]token.Purpose{
	slotUnsubscribe: token.Unsubscribe, slotPreferences: token.Preferences, slotTried: token.Tried, slotConfirm: token.Confirm,
}

// stencil is a rendered lesson email cut at its markers.
type stencil struct {
	email      course.Email // subject and preheader; the parts are the pieces
	html, text []piece
	// named are the text part's blocks that hold the name; the text's
	// pieces refer to named[i] as slot slots+i.
	named []course.NamedBlock
	// links are the link slots the email holds: only their tokens are signed.
	links []int
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

// fill joins pieces with the values in vals, as write writes them.
func fill(ps []piece, vals []string) string {
	var b strings.Builder
	_, _ = write(&b, ps, vals) // a strings.Builder takes every write
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
	name := course.CleanName(sub.FirstName())
	st, err := s.get(&s.lessons, c, stencilKey{ls, name != ""}, func() (*stencil, error) { return s.build(l, c, ls, name != "") })
	if st == nil || err != nil {
		return nil, false, err
	}
	f, ok = st.fill(l, sub, name, time.Time{})
	return f, ok, nil
}

// confirmation is course c's confirmation for sub, its link expiring at
// expires, from a stencil when it can; ok is false when the caller must
// render it in full.
func (s *stencils) confirmation(l *Letters, c *course.Course, sub *drip.Subscriber, expires time.Time) (f *filled, ok bool, err error) {
	name := course.CleanName(sub.FirstName())
	st, err := s.get(&s.confirmations, c, stencilKey{nil, name != ""}, func() (*stencil, error) { return s.buildConfirmation(l, c, name != "") })
	if st == nil || err != nil {
		return nil, false, err
	}
	f, ok = st.fill(l, sub, name, expires)
	return f, ok, nil
}

// get returns the stencil of key for course c from cache, made by build
// the first time it is asked for; nil when the mail is to be rendered in
// full.
func (s *stencils) get(cache *stencilCache, c *course.Course, key stencilKey, build func() (*stencil, error)) (*stencil, error) {
	s.once.Do(func() {
		var b [8]byte
		_, _ = rand.Read(b[:])
		s.marker = "tsmk" + hex.EncodeToString(b[:])
	})
	s.mu.Lock()
	st, cached := cache.of(c, false)[key]
	s.mu.Unlock()
	if cached {
		return st, nil
	}
	st, err := build()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	cache.of(c, true)[key] = st // nil: this mail is rendered in full
	s.mu.Unlock()
	return st, nil
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
	st := s.stencil(rendered)
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
	return st.checked(l, named, time.Time{}, func(sub *drip.Subscriber) (course.Email, error) {
		return l.Renderer.Lesson(c, ls, l.LessonRecipient(sub, ls.Number))
	})
}

// buildConfirmation renders the stencil of course c's confirmation, or
// returns nil when it must be rendered in full, as build does a lesson's.
func (s *stencils) buildConfirmation(l *Letters, c *course.Course, named bool) (*stencil, error) {
	name := ""
	if named {
		name = s.mark(slotName)
	}
	rendered, err := l.Renderer.Confirmation(c, name,
		l.BaseURL+link.To(token.Confirm, s.mark(slotConfirm)), l.BaseURL+link.To(token.Unsubscribe, s.mark(slotUnsubscribe)))
	if err != nil {
		return nil, err
	}
	// The longest expiry a token holds, so the sample links are as long
	// as any.
	expires := time.Unix(math.MaxInt64, 0)
	return s.stencil(rendered).checked(l, named, expires, func(sub *drip.Subscriber) (course.Email, error) {
		e, _, err := l.confirmationInFull(sub, expires)
		return e, err
	})
}

// stencil cuts a mail rendered with markers.
func (s *stencils) stencil(rendered course.Email) *stencil {
	st := &stencil{email: rendered, html: s.cut(rendered.HTML), text: s.cut(rendered.Text)}
	for slot := slotUnsubscribe; slot < slots; slot++ {
		if strings.Contains(rendered.HTML, s.mark(slot)) || strings.Contains(rendered.Text, s.mark(slot)) {
			st.links = append(st.links, slot)
		}
	}
	// The parts live on as pieces; the rest (subject, preheader) is kept.
	st.email.Text, st.email.HTML = "", ""
	return st
}

// checked is st, or nil when it does not come out as inFull renders the
// mail for two sample readers (named or not) whose links expire at expires.
func (st *stencil) checked(l *Letters, named bool, expires time.Time, inFull func(*drip.Subscriber) (course.Email, error)) (*stencil, error) {
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
		want, err := inFull(sub)
		if err != nil {
			return nil, err
		}
		// A name that does not fit is rendered in full, never from the stencil.
		if f, fits := st.fill(l, sub, course.CleanName(sub.FirstName()), expires); fits && f.email() != want {
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

// fill is the stencil with sub's name and links put in (a confirmation
// link expiring at expires); ok is false when this name does not fit the
// stencil (a line the templates would wrap differently) and the mail must
// be rendered in full.
func (st *stencil) fill(l *Letters, sub *drip.Subscriber, name string, expires time.Time) (f *filled, ok bool) {
	f = &filled{st: st}
	f.text = f.buf[:]
	if n := slots + len(st.named); n > len(f.buf) {
		f.text = make([]string, n)
	}
	vals := f.text
	vals[slotName] = name
	// Tokens go in as they are, in both parts: they are unpadded URL-safe
	// base64 (token.Signer), which no part, URL or attribute escapes.
	for _, slot := range st.links {
		var exp time.Time
		if slot == slotConfirm {
			exp = expires
		}
		vals[slot] = l.token(slotPurposes[slot], sub, exp)
	}
	// The List-Unsubscribe header's, whether or not the body shows it.
	if vals[slotUnsubscribe] == "" {
		vals[slotUnsubscribe] = l.token(token.Unsubscribe, sub, time.Time{})
	}
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
