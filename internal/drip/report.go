package drip

import (
	"errors"
	"strings"
	"time"
)

// ReportKind is what a bounce or complaint report says happened to a message.
type ReportKind string

// The kinds of report twostep acts on.
const (
	ReportHard      ReportKind = "hard"      // the address does not exist or refuses mail for good
	ReportSoft      ReportKind = "soft"      // a temporary failure; three in 30 days count as hard
	ReportComplaint ReportKind = "complaint" // the reader marked the mail as spam
)

// ReportKinds lists every ReportKind, in the order the database's CHECK lists them.
var ReportKinds = []ReportKind{ReportHard, ReportSoft, ReportComplaint}

// Valid reports whether k is one of ReportKinds.
func (k ReportKind) Valid() bool {
	for _, v := range ReportKinds {
		if k == v {
			return true
		}
	}
	return false
}

// Provider names a sender of bounce and complaint reports; it is also the last path segment of
// its route, /webhooks/{provider}.
type Provider string

// The providers twostep accepts reports from.
const (
	ProviderSES      Provider = "ses"
	ProviderPostmark Provider = "postmark"
	ProviderSendGrid Provider = "sendgrid"
	ProviderMailgun  Provider = "mailgun"
	ProviderGeneric  Provider = "generic"
	// IMAP is the bounce mailbox: DSN and ARF messages read over IMAP.
	ProviderIMAP Provider = "imap"
)

// Providers lists every Provider, in the order the database's CHECK lists them.
var Providers = []Provider{ProviderSES, ProviderPostmark, ProviderSendGrid, ProviderMailgun, ProviderGeneric, ProviderIMAP}

// Report is one bounce or complaint report about one recipient.
type Report struct {
	Provider Provider
	// ID is the provider's id for the event, unique per provider: the same
	// ID twice is acted on once.
	ID        string
	Kind      ReportKind
	Email     string // the recipient, as the provider reports it
	MessageID string // the Message-ID we sent, without angle brackets; may be empty
	Reason    string // the provider's diagnostic, for the admin
	At        time.Time
}

// ReportBatch is what one webhook request or bounce message delivered: its reports, and for providers that
// sign with a one-time token, that token, which may never be seen twice.
type ReportBatch struct {
	Provider  Provider
	ReplayKey string // empty: the provider has no one-time token
	Reports   []Report
}

// ErrReplay means a one-time token of a report was seen before.
var ErrReplay = errors.New("this request was already received")

// ReportOutcome is what recording a report did.
type ReportOutcome string

// The outcomes of a report, as the reports table's CHECK lists them.
const (
	OutcomeBounced      ReportOutcome = "bounced"      // the reader gets no more mail
	OutcomeUnsubscribed ReportOutcome = "unsubscribed" // a complaint: the reader left
	OutcomeCounted      ReportOutcome = "counted"      // a soft bounce, below the limit
	OutcomeUnmatched    ReportOutcome = "unmatched"    // no delivery or reader matched; stored only
	OutcomeNoChange     ReportOutcome = "no_change"    // the reader already gets no mail
)

// ReportOutcomes lists every ReportOutcome.
var ReportOutcomes = []ReportOutcome{OutcomeBounced, OutcomeUnsubscribed, OutcomeCounted, OutcomeUnmatched, OutcomeNoChange}

// Recorded is a report stored for the first time, with what it did.
type Recorded struct {
	Report
	SubscriberID int64 // 0 when unmatched
	Outcome      ReportOutcome
}

// ReplayKeyLifetime is how long a one-time token is remembered: longer
// than any signature that carries one is accepted.
const ReplayKeyLifetime = 48 * time.Hour

// SoftBounceLimit soft bounces (of different messages) within
// SoftBounceWindow count as a hard one.
const (
	SoftBounceLimit  = 3
	SoftBounceWindow = 30 * 24 * time.Hour
)

// NormalizeMessageID strips the angle brackets and spaces providers
// variously keep or drop, so a reported Message-ID matches the one stored.
func NormalizeMessageID(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	return strings.TrimSpace(s)
}
