package drip

// DeliveryStatus is where a row of the delivery ledger (one subscriber,
// round and lesson) stands. The CHECK constraint on deliveries.status
// holds the same set.
type DeliveryStatus string

// The ledger statuses. A row is written when an attempt ends, as one of
// the last four; only retrying is taken again. A claim is a lease on the
// reader's schedule row, not a ledger row: sending is what versions before
// migration 00016 wrote for a claim, kept so that their rows still read.
const (
	DeliverySending  DeliveryStatus = "sending"  // (before migration 00016) claimed, under a lease, being sent
	DeliverySent     DeliveryStatus = "sent"     // the server accepted it
	DeliveryRetrying DeliveryStatus = "retrying" // not sent yet; due again later
	DeliveryFailed   DeliveryStatus = "failed"   // given up; the reader stays on the lesson
	DeliveryBounced  DeliveryStatus = "bounced"  // the address is dead; the reader gets no more mail
)

// DeliveryStatuses lists every ledger status.
var DeliveryStatuses = []DeliveryStatus{DeliverySending, DeliverySent, DeliveryRetrying, DeliveryFailed, DeliveryBounced}

// MailKind is a kind of transactional mail queued in the outbox. The
// CHECK constraint on outbox.kind holds the same set.
type MailKind string

// The outbox's kinds of mail.
const (
	MailConfirm      MailKind = "confirm"       // confirm a signup
	MailEmailChange  MailKind = "email_change"  // confirm a new address, sent to it
	MailEmailChanged MailKind = "email_changed" // tell the old address it was replaced
	MailGraduation   MailKind = "graduation"    // the closing email after the last lesson
	MailLink         MailKind = "link"          // "here is your link", to a reader who signs up again
)

// MailKinds lists every outbox kind.
var MailKinds = []MailKind{MailConfirm, MailEmailChange, MailEmailChanged, MailGraduation, MailLink}

// MailStatus is where a queued mail stands. The CHECK constraint on
// outbox.status holds the same set.
type MailStatus string

// The outbox statuses.
const (
	MailPending MailStatus = "pending" // waiting to be sent, or retried
	MailSent    MailStatus = "sent"
	MailFailed  MailStatus = "failed" // refused for good
)

// MailStatuses lists every outbox status.
var MailStatuses = []MailStatus{MailPending, MailSent, MailFailed}
