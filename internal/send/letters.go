// Package send delivers mail: the transactional outbox (confirmations) and,
// on every pass, the weekly lessons.
package send

import (
	"fmt"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
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
}

// Link returns the URL of a signed link for sub.
func (l *Letters) Link(path string, p token.Purpose, sub *drip.Subscriber, expires time.Time) string {
	return l.BaseURL + path + l.Signer.Sign(token.Claims{Purpose: p, Subscriber: sub.ID, Gen: sub.TokenGen, Expires: expires})
}

// Confirmation is the double opt-in mail for a signup queued at queuedAt;
// its link expires token.ConfirmTTL after that.
func (l *Letters) Confirmation(sub *drip.Subscriber, queuedAt, now time.Time) (*gomail.Msg, string, error) {
	confirmURL := l.Link("/confirm/", token.Confirm, sub, queuedAt.Add(token.ConfirmTTL))
	unsubURL := l.Link("/unsubscribe/", token.Unsubscribe, sub, time.Time{})
	e, err := l.Renderer.Confirmation(l.Course, sub.FirstName(), confirmURL, unsubURL)
	if err != nil {
		return nil, "", fmt.Errorf("render confirmation: %w", err)
	}
	id := mail.NewMessageID(l.From)
	m, err := mail.Compose(mail.Envelope{
		From: l.From, ReplyTo: l.Course.ReplyTo, ToName: sub.Name, ToAddr: sub.Email,
		Subject: e.Subject, Text: e.Text, HTML: e.HTML, Date: now, MessageID: id,
		UnsubscribeURL: unsubURL,
	})
	if err != nil {
		return nil, "", fmt.Errorf("compose confirmation: %w", err)
	}
	return m, id, nil
}

// Lesson is lesson l of course c as sub gets it, with its signed links.
func (l *Letters) Lesson(c *course.Course, ls *course.Lesson, sub *drip.Subscriber, now time.Time) (*gomail.Msg, string, error) {
	rc := l.Recipient(sub)
	rc.ViewURL = rc.PreferencesURL + "/lessons/" + strconv.Itoa(ls.Number)
	rc.TriedURL = l.Link("/tried/", token.Tried, sub, time.Time{}) + "/" + strconv.Itoa(ls.Number)
	e, err := l.Renderer.Lesson(c, ls, rc)
	if err != nil {
		return nil, "", fmt.Errorf("render lesson %d: %w", ls.Number, err)
	}
	id := mail.NewMessageID(l.From)
	m, err := mail.Compose(mail.Envelope{
		From: l.From, ReplyTo: c.ReplyTo, ToName: sub.Name, ToAddr: sub.Email,
		Subject: e.Subject, Text: e.Text, HTML: e.HTML, Date: now, MessageID: id,
		UnsubscribeURL: rc.UnsubscribeURL, Lesson: ls.Number,
	})
	if err != nil {
		return nil, "", fmt.Errorf("compose lesson %d: %w", ls.Number, err)
	}
	return m, id, nil
}

// Recipient is sub's name and signed links, as the lesson templates use them.
func (l *Letters) Recipient(sub *drip.Subscriber) course.Recipient {
	return course.Recipient{
		FirstName:      sub.FirstName(),
		UnsubscribeURL: l.Link("/unsubscribe/", token.Unsubscribe, sub, time.Time{}),
		PreferencesURL: l.Link("/preferences/", token.Preferences, sub, time.Time{}),
	}
}
