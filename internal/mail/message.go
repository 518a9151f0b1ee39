// Package mail composes twostep's messages and hands them to an SMTP server
// or to a folder of .eml files.
package mail

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"
)

// Envelope is everything about a message besides its rendered content.
type Envelope struct {
	From           string // "Name <addr>"
	ReplyTo        string // optional
	ToName         string
	ToAddr         string
	Subject        string
	Text, HTML     string
	Date           time.Time
	MessageID      string // without angle brackets; see NewMessageID
	UnsubscribeURL string // List-Unsubscribe target, with one-click POST
	Lesson         int    // X-Twostep-Lesson; 0 for mail that is not a lesson
}

// NewMessageID returns a unique Message-ID on the domain of the From
// address, so replies and bounces thread back to us and not to a relay.
func NewMessageID(from string) string {
	domain := "twostep.invalid"
	if a, err := netmail.ParseAddress(from); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
			domain = a.Address[i+1:]
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:]) + "@" + domain
}

// Compose builds the message: multipart/alternative with the text part
// first and the HTML part second, and the headers DESIGN.md promises.
func Compose(e Envelope) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	from, err := netmail.ParseAddress(e.From)
	if err != nil {
		return nil, fmt.Errorf("from address %q: %w", e.From, err)
	}
	if err := m.FromFormat(from.Name, from.Address); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if e.ReplyTo != "" {
		if err := m.ReplyTo(e.ReplyTo); err != nil {
			return nil, fmt.Errorf("reply-to address: %w", err)
		}
	}
	if err := m.AddToFormat(HeaderSafe(e.ToName), e.ToAddr); err != nil {
		return nil, fmt.Errorf("recipient address: %w", err)
	}
	m.Subject(HeaderSafe(e.Subject))
	m.SetMessageIDWithValue(e.MessageID)
	m.SetDateWithValue(e.Date)
	if e.UnsubscribeURL != "" {
		m.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+HeaderSafe(e.UnsubscribeURL)+">")
		m.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	if e.Lesson > 0 {
		m.SetGenHeader("X-Twostep-Lesson", strconv.Itoa(e.Lesson))
	}
	m.SetBodyString(gomail.TypeTextPlain, e.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, e.HTML)
	return m, nil
}

// HeaderSafe removes control characters (CR and LF above all), so no value
// taken from a subscriber can start a header of its own.
func HeaderSafe(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
