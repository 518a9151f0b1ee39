package letter

import (
	"crypto/rand"
	"encoding/hex"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/link"
	"github.com/twostep/twostep/internal/token"
)

// stencils renders each lesson's email once per revision and shape (with or
// without a name in the greeting) with markers where a reader's name and
// link tokens go, so that a pass only puts those in per reader instead of
// running the templates for every message; the confirmation likewise, once
// per course and shape. In the text part, a paragraph that uses the name
// in the lesson's body is wrapped around it, so it is wrapped again for
// each reader (course.NamedBlock). The result is byte for byte what
// Renderer.Lesson (Renderer.Confirmation) makes
// (TestStencilsRenderExactlyWhatTheTemplatesDo, TestTheConfirmationStencilRendersExactlyWhatTheTemplatesDo).
type stencils struct {
	once   sync.Once
	marker string // random per process, so no lesson or name can hold it
	mu     sync.Mutex
	cache  map[stencilKey]*stencil
}

type stencilKey struct {
	// Library.Current returns the same course until a lesson changes,
	// and parses each revision once, so these are stable per revision.
	course *course.Course
	lesson *course.Lesson // nil: the confirmation
	named  bool
}

// maxStencils bounds the cache; every edit of a lesson makes a new key.
const maxStencils = 1024

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
	email      course.Email
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

func (s *stencils) mark(slot int) string { return s.marker + slotNames[slot:slot+1] + "x" }

// lesson renders lesson ls for sub, with sub's links, from a stencil when
// it can; ok is false when the caller must render it in full.
func (s *stencils) lesson(l *Letters, c *course.Course, ls *course.Lesson, sub *drip.Subscriber) (e course.Email, unsubURL string, ok bool, err error) {
	name := course.CleanName(sub.FirstName())
	st, err := s.get(stencilKey{c, ls, name != ""}, func() (*stencil, error) { return s.build(l, c, ls, name != "") })
	if st == nil || err != nil {
		return course.Email{}, "", false, err
	}
	return s.filled(l, st, sub, name, time.Time{})
}

// confirmation renders the confirmation of course c for sub, its link
// expiring at expires, from a stencil when it can; ok is false when the
// caller must render it in full.
func (s *stencils) confirmation(l *Letters, c *course.Course, sub *drip.Subscriber, expires time.Time) (e course.Email, unsubURL string, ok bool, err error) {
	name := course.CleanName(sub.FirstName())
	st, err := s.get(stencilKey{c, nil, name != ""}, func() (*stencil, error) { return s.buildConfirmation(l, c, name != "") })
	if st == nil || err != nil {
		return course.Email{}, "", false, err
	}
	return s.filled(l, st, sub, name, expires)
}

// filled is st filled for sub, with its unsubscribe link; ok is false when
// the name does not fit.
func (s *stencils) filled(l *Letters, st *stencil, sub *drip.Subscriber, name string, expires time.Time) (e course.Email, unsubURL string, ok bool, err error) {
	e, unsub, fits := st.fill(l, sub, name, expires)
	if !fits {
		return course.Email{}, "", false, nil
	}
	return e, l.BaseURL + link.To(token.Unsubscribe, unsub), true, nil
}

// get returns the stencil of key, made by build the first time it is asked
// for; nil when the mail is to be rendered in full.
func (s *stencils) get(key stencilKey, build func() (*stencil, error)) (*stencil, error) {
	s.once.Do(func() {
		var b [8]byte
		_, _ = rand.Read(b[:])
		s.marker = "tsmk" + hex.EncodeToString(b[:])
		s.cache = map[stencilKey]*stencil{}
	})
	s.mu.Lock()
	st, cached := s.cache[key]
	s.mu.Unlock()
	if cached {
		return st, nil
	}
	st, err := build()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.cache) >= maxStencils {
		clear(s.cache)
	}
	s.cache[key] = st // nil: this mail is rendered in full
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
		if got, _, fits := st.fill(l, sub, course.CleanName(sub.FirstName()), expires); fits && got != want {
			return nil, nil
		}
	}
	return st, nil
}

// fill is the stencil with sub's name and links put in (a confirmation
// link expiring at expires), and sub's unsubscribe token; ok is false when
// this name does not fit the stencil (a line the templates would wrap
// differently) and the mail must be rendered in full.
func (st *stencil) fill(l *Letters, sub *drip.Subscriber, name string, expires time.Time) (e course.Email, unsub string, ok bool) {
	var buf [slots + 4]string
	vals := buf[:]
	if n := slots + len(st.named); n > len(buf) {
		vals = make([]string, n)
	}
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
			return course.Email{}, "", false
		}
	}
	e = st.email
	vals[slotName] = name
	e.Text = fill(st.text, vals)
	vals[slotName] = course.EscapeHTMLText(name)
	e.HTML = fill(st.html, vals)
	return e, vals[slotUnsubscribe], true
}
