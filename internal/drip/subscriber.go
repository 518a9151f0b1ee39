package drip

import (
	"errors"
	"time"
)

// Status is where a subscriber stands in the course.
type Status string

// The statuses a subscriber moves through.
const (
	StatusPending      Status = "pending"      // signed up, not yet confirmed
	StatusActive       Status = "active"       // receiving lessons
	StatusPaused       Status = "paused"       // receiving nothing until resumed
	StatusUnsubscribed Status = "unsubscribed" // left; may re-subscribe
	StatusBounced      Status = "bounced"      // the address rejected mail
	StatusCompleted    Status = "completed"    // received every lesson
)

// Statuses lists every subscriber status, in the order pages list them.
// The CHECK constraint on subscribers.status holds the same set.
var Statuses = []Status{StatusActive, StatusPending, StatusPaused, StatusCompleted, StatusUnsubscribed, StatusBounced}

// Errors the store and the handlers share.
var (
	ErrNotFound = errors.New("not found")
	// ErrGone means a subscriber existed but can no longer act (erased, or
	// bounced for a confirmation).
	ErrGone = errors.New("no longer available")
)

// Subscriber is one reader of the course.
type Subscriber struct {
	ID          int64
	Email       string
	Name        string
	Status      Status
	TimeZone    string
	SendWeekday *time.Weekday // nil until confirmation fills the default
	SendHour    *int
	Round       int
	NextLesson  int
	NextDueAt   *time.Time
	LastSentAt  *time.Time
	TokenGen    int

	ConsentMethod    string
	ConsentAt        time.Time
	ConsentIP        string
	ConsentUserAgent string
	ConsentFormURL   string
	ConsentVersion   string

	ConfirmationSentAt *time.Time
	ConfirmedAt        *time.Time
	UnsubscribedAt     *time.Time
	CreatedAt          time.Time

	PausedUntil    *time.Time // a timed pause ends then; nil: until resumed
	NextNowAt      *time.Time // the last "send me the next lesson now"
	PendingEmail   *string    // a new address waiting for confirmation
	PendingEmailAt *time.Time // when it was asked for (whole seconds)
}

// FirstName is the part of the name used in greetings.
func (s *Subscriber) FirstName() string {
	for i, r := range s.Name {
		if r == ' ' {
			return s.Name[:i]
		}
	}
	return s.Name
}

// Signup is what the signup form submits, with its consent record.
type Signup struct {
	Email          string
	Name           string
	TimeZone       string
	IP             string
	UserAgent      string
	FormURL        string
	ConsentVersion string
	At             time.Time
	// Weekday and Hour are the slot chosen on the form, nil when the reader
	// left it to the default (see store.Confirm); Hour is on TimeZone's clock.
	Weekday *time.Weekday
	Hour    *int
}
