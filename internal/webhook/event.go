// Package webhook receives bounce and complaint reports that mail providers
// send after the SMTP session has ended: Amazon SES through SNS, Postmark,
// SendGrid, Mailgun, and a generic Standard Webhooks sender. Each provider
// has one file that verifies exactly what that provider signs and turns its
// payload into Events; handler.go stores them before answering.
package webhook

import (
	"errors"
	"strings"
	"time"
)

// Kind is what a report says happened to a message.
type Kind string

// The kinds of report twostep acts on.
const (
	Hard      Kind = "hard"      // the address does not exist or refuses mail for good
	Soft      Kind = "soft"      // a temporary failure; three in 30 days count as hard
	Complaint Kind = "complaint" // the reader marked the mail as spam
)

// Kinds lists every Kind, in the order the database's CHECK lists them.
var Kinds = []Kind{Hard, Soft, Complaint}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if k == v {
			return true
		}
	}
	return false
}

// Provider names a sender of reports; it is also the last path segment of
// its route, /webhooks/{provider}.
type Provider string

// The providers twostep accepts reports from.
const (
	SES      Provider = "ses"
	Postmark Provider = "postmark"
	SendGrid Provider = "sendgrid"
	Mailgun  Provider = "mailgun"
	Generic  Provider = "generic"
	// IMAP is the bounce mailbox: DSN and ARF messages read over IMAP.
	IMAP Provider = "imap"
)

// Providers lists every Provider, in the order the database's CHECK lists them.
var Providers = []Provider{SES, Postmark, SendGrid, Mailgun, Generic, IMAP}

// Event is one report about one recipient.
type Event struct {
	Provider Provider
	// ID is the provider's id for the event, unique per provider: the same
	// ID twice is acted on once.
	ID        string
	Kind      Kind
	Email     string // the recipient, as the provider reports it
	MessageID string // the Message-ID we sent, without angle brackets; may be empty
	Reason    string // the provider's diagnostic, for the admin
	At        time.Time
}

// Batch is what one request delivered: its events, and for providers that
// sign with a one-time token, that token, which may never be seen twice.
type Batch struct {
	Provider  Provider
	ReplayKey string // empty: the provider has no one-time token
	Events    []Event
}

// Errors a request is refused with. Each answers 4xx and changes nothing.
var (
	ErrSignature = errors.New("signature does not verify")
	ErrStale     = errors.New("timestamp is too old or in the future")
	ErrReplay    = errors.New("this request was already received")
	ErrTopic     = errors.New("topic is not in the allow-list")
	ErrCertURL   = errors.New("signing certificate URL is not an Amazon SNS one")
	ErrTooLarge  = errors.New("body is too large")
	ErrMalformed = errors.New("body is malformed")
)

// MaxBody is the largest body a webhook accepts.
const MaxBody = 256 << 10

// Tolerance is how far a signed timestamp may be from our clock.
const Tolerance = 5 * time.Minute

// fresh reports whether the signed time ts is within Tolerance of now.
func fresh(ts, now time.Time) bool {
	d := now.Sub(ts)
	return d <= Tolerance && d >= -Tolerance
}

// NormalizeMessageID strips the angle brackets and spaces providers
// variously keep or drop, so a reported Message-ID matches the one stored.
func NormalizeMessageID(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	return strings.TrimSpace(s)
}
