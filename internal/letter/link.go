package letter

import (
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/twostep/twostep/internal/drip"
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
	return l.compose(outgoing{what: "link mail", course: l.Course, name: sub.Name, to: sub.Email, email: e, unsubscribe: rc.UnsubscribeURL}, now)
}
