package letter

import (
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/mail"
)

// LinkMail is the "here is your link" mail for a subscribed reader who
// signed up again: their preferences link instead of a confirmation, so a
// reader who lost every lesson email can still reach their page.
func (l *Letters) LinkMail(sub *drip.Subscriber, now time.Time) (*gomail.Msg, string, error) {
	rc := l.Recipient(sub)
	e, err := l.Renderer.Link(l.Course, rc)
	if err != nil {
		return nil, "", fmt.Errorf("render link mail: %w", err)
	}
	h := l.headersFor(l.Course)
	id := h.messageID()
	m, err := l.composer.Compose(mail.Envelope{
		From: l.From, ReplyTo: l.Course.ReplyTo, ToName: sub.Name, ToAddr: sub.Email,
		Subject: e.Subject, Text: e.Text, HTML: e.HTML, Date: now, MessageID: id,
		UnsubscribeURL: rc.UnsubscribeURL, ListID: h.listID, Sender: l.sender(id),
	})
	if err != nil {
		return nil, "", fmt.Errorf("compose link mail: %w", err)
	}
	return m, id, nil
}
