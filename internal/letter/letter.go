// Package letter composes every email twostep sends — the confirmation,
// each lesson (from stencils), the address-change notes and the closing
// email — and the lesson pages, with their signed links. It sends nothing:
// that is package send.
package letter

import (
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/twostep/twostep/internal/bounce"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/link"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/token"
)

// Letters turns a subscriber and a course into complete messages with
// their signed links.
type Letters struct {
	Course   *course.Course
	Renderer *course.Renderer
	Signer   *token.Signer
	BaseURL  string // no trailing slash
	From     string // MAIL_FROM, or the course's From
	// Bounces is BOUNCE_ADDRESS: each message's envelope sender is a VERP
	// address of it that names the message; "" leaves the From address.
	Bounces string

	stencils stencils
	// headers are the last course's header values, and composer the last
	// From and Reply-To parsed: a pass composes every message of the same
	// course.
	headers  atomic.Pointer[courseHeaders]
	composer mail.Composer
}

// courseHeaders are the header values that depend only on the course and
// the From address, worked out once rather than per message.
type courseHeaders struct {
	course   *course.Course
	from     string
	listID   string // course.ListID
	idDomain string // mail.MessageIDDomain
}

// headersFor are c's header values, from the cache when c is the last
// course asked about.
func (l *Letters) headersFor(c *course.Course) *courseHeaders {
	if h := l.headers.Load(); h != nil && h.course == c && h.from == l.From {
		return h
	}
	h := &courseHeaders{course: c, from: l.From, listID: course.ListID(c, l.From), idDomain: mail.MessageIDDomain(l.From)}
	l.headers.Store(h)
	return h
}

// sender is the envelope sender of the message with Message-ID id.
func (l *Letters) sender(id string) string {
	if l.Bounces == "" {
		return ""
	}
	return bounce.VERP(l.Bounces, id)
}

// Link returns the URL of a signed link of purpose p for sub, at the page
// package link names for p.
func (l *Letters) Link(p token.Purpose, sub *drip.Subscriber, expires time.Time) string {
	return l.BaseURL + link.To(p, l.token(p, sub, expires))
}

// token is sub's signed token of purpose p, of their current link
// generation; a zero expires never expires.
func (l *Letters) token(p token.Purpose, sub *drip.Subscriber, expires time.Time) string {
	return l.Signer.Sign(token.Claims{Purpose: p, Subscriber: sub.ID, Gen: sub.TokenGen, Expires: expires})
}

// Confirmation is the double opt-in mail for a signup queued at queuedAt;
// its link expires token.ConfirmTTL after that.
func (l *Letters) Confirmation(sub *drip.Subscriber, queuedAt, now time.Time) (*gomail.Msg, string, error) {
	e, unsubURL, err := l.confirmationEmail(sub, queuedAt.Add(token.ConfirmTTL))
	if err != nil {
		return nil, "", err
	}
	return l.compose(outgoing{what: "confirmation", course: l.Course, name: sub.Name, to: sub.Email, email: e, unsubscribe: unsubURL}, now)
}

// confirmationEmail renders sub's confirmation, its link expiring at
// expires, from a stencil where it can, in full where it must, and returns
// it with its unsubscribe link.
func (l *Letters) confirmationEmail(sub *drip.Subscriber, expires time.Time) (course.Email, string, error) {
	f, ok, err := l.stencils.confirmation(l, l.Course, sub, expires)
	if ok {
		return f.email(), f.unsubscribeURL(l), nil
	}
	var e course.Email
	var unsubURL string
	if err == nil {
		e, unsubURL, err = l.confirmationInFull(sub, expires)
	}
	if err != nil {
		return course.Email{}, "", fmt.Errorf("render confirmation: %w", err)
	}
	return e, unsubURL, nil
}

// confirmationInFull runs the templates for sub's confirmation.
func (l *Letters) confirmationInFull(sub *drip.Subscriber, expires time.Time) (course.Email, string, error) {
	unsubURL := l.Link(token.Unsubscribe, sub, time.Time{})
	e, err := l.Renderer.Confirmation(l.Course, sub.FirstName(), l.Link(token.Confirm, sub, expires), unsubURL)
	return e, unsubURL, err
}

// Lesson is lesson l of course c as sub gets it, with its signed links.
func (l *Letters) Lesson(c *course.Course, ls *course.Lesson, sub *drip.Subscriber, now time.Time) (*gomail.Msg, string, error) {
	return l.LessonWithPrefix(c, ls, sub, now, "")
}

// LessonWithPrefix is Lesson with prefix before the subject, for copies
// sent outside the schedule such as the admin's "[Test]".
func (l *Letters) LessonWithPrefix(c *course.Course, ls *course.Lesson, sub *drip.Subscriber, now time.Time, prefix string) (*gomail.Msg, string, error) {
	lb, err := l.lesson(c, ls, sub)
	if err != nil {
		return nil, "", fmt.Errorf("render lesson %d: %w", ls.Number, err)
	}
	o := outgoing{course: c, name: sub.Name, to: sub.Email, email: lb.email, unsubscribe: lb.unsubscribe, lesson: ls.Number}
	o.email.Subject = prefix + o.email.Subject
	if lb.filled != nil {
		o.text, o.html = lb.filled.writeText, lb.filled.writeHTML
	}
	return l.compose(o, now)
}

// lessonBody is a lesson as one reader gets it: from a stencil (filled),
// which writes the two parts straight into the message, or rendered in
// full (email's Text and HTML).
type lessonBody struct {
	email       course.Email // Text and HTML empty when filled is set
	filled      *filled
	unsubscribe string // the reader's unsubscribe link
}

// lesson renders lesson ls for sub, from a stencil where it can, in full
// where it must.
func (l *Letters) lesson(c *course.Course, ls *course.Lesson, sub *drip.Subscriber) (lessonBody, error) {
	f, ok, err := l.stencils.lesson(l, c, ls, sub)
	if err != nil {
		return lessonBody{}, err
	}
	if ok {
		return lessonBody{email: f.st.email, filled: f, unsubscribe: f.unsubscribeURL(l)}, nil
	}
	rc := l.LessonRecipient(sub, ls.Number)
	e, err := l.Renderer.Lesson(c, ls, rc)
	return lessonBody{email: e, unsubscribe: rc.UnsubscribeURL}, err
}

// LessonRecipient is Recipient plus lesson n's "view in browser" and "I
// tried it" links.
func (l *Letters) LessonRecipient(sub *drip.Subscriber, n int) course.Recipient {
	rc := l.Recipient(sub)
	rc.ViewURL = rc.PreferencesURL + link.Lesson(n)
	rc.TriedURL = l.Link(token.Tried, sub, time.Time{}) + link.TriedLesson(n)
	return rc
}

// Recipient is sub's name and signed links, as the lesson templates use them.
func (l *Letters) Recipient(sub *drip.Subscriber) course.Recipient {
	return course.Recipient{
		FirstName:      sub.FirstName(),
		UnsubscribeURL: l.Link(token.Unsubscribe, sub, time.Time{}),
		PreferencesURL: l.Link(token.Preferences, sub, time.Time{}),
	}
}

// EmailChange asks the reader to confirm newEmail, the address they want
// their lessons at; the link expires like a signup's.
func (l *Letters) EmailChange(sub *drip.Subscriber, newEmail string, queuedAt, now time.Time) (*gomail.Msg, string, error) {
	c := l.Course
	link := l.Link(token.EmailChange, sub, queuedAt.Add(token.ConfirmTTL))
	return l.notice(sub, newEmail, now, course.Notice{
		Subject:     "Confirm your new address for " + c.Title,
		Preheader:   "One click and your lessons come here from now on.",
		Paragraphs:  []string{"You asked for your " + c.Title + " lessons to come to this address. Please confirm it:"},
		ButtonLabel: "Use this address", ButtonURL: link,
		After:   []string{"The link works for 7 days. If you did not ask for this, ignore this email and nothing changes."},
		Signoff: "Thanks,",
		Why:     "You are receiving this because someone asked for " + c.Title + " to be sent to this address.",
	}, course.Recipient{})
}

// EmailChanged tells the old address that the lessons now go elsewhere.
func (l *Letters) EmailChanged(sub *drip.Subscriber, oldEmail string, now time.Time) (*gomail.Msg, string, error) {
	c := l.Course
	return l.notice(sub, oldEmail, now, course.Notice{
		Subject:    "Your " + c.Title + " lessons have moved",
		Preheader:  "From now on they go to your new address.",
		Paragraphs: []string{"Your " + c.Title + " lessons now go to " + sub.Email + ", as you confirmed. Nothing more will come to this address."},
		After:      []string{"If you did not make this change, reply to this email and we will sort it out."},
		Signoff:    "Thanks,",
		Why:        "You are receiving this because this address was subscribed to " + c.Title + ".",
	}, course.Recipient{})
}

// Graduation is the closing email after the last lesson: not a lesson
// itself, it looks back at the course and offers to start again or leave.
// Its words are the course folder's closing.md.
func (l *Letters) Graduation(sub *drip.Subscriber, now time.Time) (*gomail.Msg, string, error) {
	c := l.Course
	if c.Closing == nil {
		return nil, "", fmt.Errorf("compose the closing email: the course has no %s", course.ClosingFile)
	}
	rc := l.Recipient(sub)
	n := c.Closing.Notice(sub.FirstName())
	n.ButtonURL = rc.PreferencesURL
	n.Why = "You are receiving this because you completed " + c.Title + "."
	return l.notice(sub, sub.Email, now, n, rc)
}

func (l *Letters) notice(sub *drip.Subscriber, to string, now time.Time, n course.Notice, rc course.Recipient) (*gomail.Msg, string, error) {
	e, err := l.Renderer.Notice(l.Course, sub.FirstName(), n, rc)
	if err != nil {
		return nil, "", fmt.Errorf("render %q: %w", n.Subject, err)
	}
	return l.compose(outgoing{what: strconv.Quote(n.Subject), course: l.Course, name: sub.Name, to: to, email: e, unsubscribe: rc.UnsubscribeURL}, now)
}

// outgoing is what differs from one mail to the next: the course, the
// recipient, the rendered email, its unsubscribe link ("" for a mail to an
// address that is not subscribed) and, for a lesson, its number.
type outgoing struct {
	what        string // names the mail in errors; "" for a lesson
	course      *course.Course
	name, to    string
	email       course.Email
	unsubscribe string
	lesson      int
	// text and html, when set, write the two parts in place of email's
	// Text and HTML (mail.Envelope's TextBody and HTMLBody).
	text, html func(io.Writer) (int64, error)
}

// compose is the one envelope of every mail twostep sends: From and
// Reply-To, a fresh Message-ID on the From domain, the List-Id, the VERP
// envelope sender and the Date now. It returns the message and its id.
func (l *Letters) compose(o outgoing, now time.Time) (*gomail.Msg, string, error) {
	h := l.headersFor(o.course)
	id := mail.NewMessageIDOn(h.idDomain)
	m, err := l.composer.Compose(mail.Envelope{
		From: l.From, ReplyTo: o.course.ReplyTo, ToName: o.name, ToAddr: o.to,
		Subject: o.email.Subject, Text: o.email.Text, HTML: o.email.HTML, TextBody: o.text, HTMLBody: o.html, Date: now, MessageID: id,
		UnsubscribeURL: o.unsubscribe, Lesson: o.lesson, ListID: h.listID, Sender: l.sender(id),
	})
	if err != nil {
		if o.what == "" {
			return nil, "", fmt.Errorf("compose lesson %d: %w", o.lesson, err)
		}
		return nil, "", fmt.Errorf("compose %s: %w", o.what, err)
	}
	return m, id, nil
}
