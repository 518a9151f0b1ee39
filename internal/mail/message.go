// Package mail composes twostep's messages and hands them to an SMTP server
// or to a folder of .eml files.
package mail

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unsafe"

	gomail "github.com/wneessen/go-mail"
)

// Envelope is everything about a message besides its rendered content.
type Envelope struct {
	From       string // "Name <addr>"
	ReplyTo    string // optional
	ToName     string // as the reader typed it; encoded here, whatever it holds
	ToAddr     string
	Subject    string
	Text, HTML string
	// TextBody and HTMLBody, when set, write the text and the HTML part in
	// place of Text and HTML, straight into the message as it is written:
	// a sender that assembles its bodies from pieces need not join them
	// first. Each may be called more than once (DKIM signing writes the
	// message before it is sent) and must write the same each time.
	TextBody, HTMLBody func(io.Writer) (int64, error)
	Date               time.Time
	MessageID          string // without angle brackets; see NewMessageIDOn
	UnsubscribeURL     string // List-Unsubscribe target, with one-click POST
	Lesson             int    // X-Twostep-Lesson; 0 for mail that is not a lesson
	// ListID is the List-Id header (RFC 2919), e.g. `"Lead & Relate"
	// <lead-and-relate.twostep.example>`, so filters and providers can tell
	// the course's mail apart; "" leaves it out. course.ListID makes it.
	ListID string
	// Sender is the envelope sender (SMTP MAIL FROM), where bounces go:
	// a VERP address when BOUNCE_ADDRESS is set; "" means the From address.
	Sender string
}

// ErrCompose marks a message that cannot be composed, such as one to an
// address that is not one. Retrying cannot help: callers show it as a
// failure instead of trying again.
var ErrCompose = errors.New("message cannot be composed")

// maxDisplayName bounds a display name in a header, in characters: far
// above any name a form takes, short enough that no header line grows
// past what RFC 5322 allows.
const maxDisplayName = 200

// MessageIDDomain is the domain of a Message-ID for mail from the address
// from: the From address's own, so replies and bounces thread back to us
// and not to a relay.
func MessageIDDomain(from string) string {
	if a, err := netmail.ParseAddress(from); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
			return a.Address[i+1:]
		}
	}
	return "twostep.invalid"
}

// NewMessageIDOn returns a unique Message-ID on domain (MessageIDDomain,
// worked out once by a sender of many).
func NewMessageIDOn(domain string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:]) + "@" + domain
}

// Composer builds messages: multipart/alternative with the text part
// first and the HTML part second, and the headers the README's Mail
// section promises. It parses the From and Reply-To addresses of the last
// message it composed once, not again for every message from the same
// ones. The zero Composer is ready to use; it is safe for concurrent use.
type Composer struct {
	last atomic.Pointer[senderAddrs]
}

// senderAddrs are a From and a Reply-To address ("" for none) as they go
// in the headers.
type senderAddrs struct {
	from, replyTo         string
	fromAddr, replyToAddr *netmail.Address // replyToAddr nil for none
}

func (c *Composer) senders(e Envelope) (*senderAddrs, error) {
	if s := c.last.Load(); s != nil && s.from == e.From && s.replyTo == e.ReplyTo {
		return s, nil
	}
	from, err := netmail.ParseAddress(e.From)
	if err != nil {
		return nil, fmt.Errorf("%w: from address %q: %v", ErrCompose, e.From, err)
	}
	s := &senderAddrs{from: e.From, replyTo: e.ReplyTo, fromAddr: mailbox(from.Name, from.Address)}
	if e.ReplyTo != "" {
		rt, err := netmail.ParseAddress(e.ReplyTo)
		if err != nil {
			return nil, fmt.Errorf("%w: reply-to address %q: %v", ErrCompose, e.ReplyTo, err)
		}
		s.replyToAddr = mailbox(rt.Name, rt.Address)
	}
	c.last.Store(s)
	return s, nil
}

// Compose builds the message of e. Its errors are ErrCompose.
func (c *Composer) Compose(e Envelope) (*gomail.Msg, error) {
	senders, err := c.senders(e)
	if err != nil {
		return nil, err
	}
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	// Copies: a message may change its own.
	from := *senders.fromAddr
	m.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, &from)
	if senders.replyToAddr != nil {
		rt := *senders.replyToAddr
		m.SetAddrHeaderFromMailAddress(gomail.HeaderReplyTo, &rt)
	}
	to, err := netmail.ParseAddress(e.ToAddr)
	if err != nil || to.Name != "" || to.Address != e.ToAddr {
		return nil, fmt.Errorf("%w: recipient %q is not a bare address", ErrCompose, HeaderSafe(e.ToAddr))
	}
	m.SetAddrHeaderFromMailAddress(gomail.HeaderTo, mailbox(e.ToName, to.Address))
	m.Subject(HeaderSafe(e.Subject))
	m.SetMessageIDWithValue(e.MessageID)
	m.SetDateWithValue(e.Date)
	if e.UnsubscribeURL != "" {
		m.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+HeaderSafe(e.UnsubscribeURL)+">")
		m.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	if e.ListID != "" {
		m.SetGenHeader(HeaderListID, HeaderSafe(e.ListID))
	}
	if e.Sender != "" {
		if err := m.EnvelopeFrom(e.Sender); err != nil {
			return nil, fmt.Errorf("%w: envelope sender %q: %v", ErrCompose, HeaderSafe(e.Sender), err)
		}
	}
	if e.Lesson > 0 {
		m.SetGenHeader("X-Twostep-Lesson", strconv.Itoa(e.Lesson))
	}
	text, html := e.TextBody, e.HTMLBody
	if text == nil {
		text = writeString(e.Text)
	}
	if html == nil {
		html = writeString(e.HTML)
	}
	m.SetBodyWriter(gomail.TypeTextPlain, text)
	m.AddAlternativeWriter(gomail.TypeTextHTML, html)
	return m, nil
}

// writeString writes a body part straight from s, where go-mail's
// SetBodyString copies it first.
func writeString(s string) func(io.Writer) (int64, error) {
	return func(w io.Writer) (int64, error) {
		n, err := WriteString(w, s)
		return int64(n), err
	}
}

// WriteString writes s to w without copying it, where io.WriteString
// copies s into a new byte slice for a writer with no WriteString method,
// as go-mail's body encoders are: a lesson's two parts are most of the
// bytes a pass would allocate per message. An io.Writer may not modify
// what it is given, so handing it s's bytes leaves s as it was.
func WriteString(w io.Writer, s string) (int, error) {
	return w.Write(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// HeaderListID is the List-Id header of RFC 2919.
const HeaderListID gomail.Header = "List-Id"

// mailbox is name and addr as one address header entry. net/mail writes
// the name as RFC 5322 requires (a quoted-string with `"` and `\` escaped,
// RFC 2047 encoded words for anything not ASCII), where go-mail's
// *Format methods put it between quotes as it is, which fails for
// `Mary O"Brien`. The name is made one line of single spaces, so folding
// the header gives back exactly the same name.
func mailbox(name, addr string) *netmail.Address {
	name = strings.Join(strings.Fields(HeaderSafe(name)), " ")
	if r := []rune(name); len(r) > maxDisplayName {
		name = strings.TrimSpace(string(r[:maxDisplayName]))
	}
	return &netmail.Address{Name: name, Address: addr}
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
