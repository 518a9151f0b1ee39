package store

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// SignupMailsPerDay is the most mails that signing up sends one address in
// SignupMailWindow, the first confirmation included, so that the form
// cannot be used to mail-bomb a victim.
const SignupMailsPerDay = 3

// SignupMailWindow is the window SignupMailsPerDay counts in.
const SignupMailWindow = 24 * time.Hour

// signupAgain handles a signup for an address already known, as the pages
// promise: a pending reader gets the confirmation again, an unsubscribed
// one a fresh confirmation, a reader who is already subscribed (active,
// paused or completed) a "here is your link" mail with their preferences
// link. A bounced address gets nothing, and no address more than
// SignupMailsPerDay signup mails in SignupMailWindow. It reports whether a
// mail was queued.
//
// The new signup's consent record and choices (name, zone, slot) wait in
// signup_pending until the reader confirms (see Confirm): whoever types an
// address can sign it up again, but only its owner can confirm, so until
// then the row keeps the consent and preferences its owner last gave.
func (db *DB) signupAgain(ctx context.Context, s drip.Signup) (queued bool, err error) {
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		// The lock makes concurrent signups of one address take turns, so
		// each one's count below sees the mails the others queued.
		var id int64
		var status drip.Status
		var waiting *pendingSignup
		err := tx.QueryRow(ctx, `SELECT id, status, signup_pending FROM subscribers WHERE `+byAddress+` FOR UPDATE`,
			s.Email).Scan(&id, &status, &waiting)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // erased between the insert and now: nothing to do
		}
		if err != nil {
			return err
		}
		var kind drip.MailKind
		switch status {
		case drip.StatusPending, drip.StatusUnsubscribed:
			kind = drip.MailConfirm
		case drip.StatusActive, drip.StatusPaused, drip.StatusCompleted:
			kind = drip.MailLink
		default:
			// Bounced: never mailed again, unless the admin lifted the
			// address's suppression — then it may ask to confirm anew.
			if gone, err := suppressed(ctx, tx, s.Email); err != nil || gone {
				return err
			}
			kind = drip.MailConfirm
		}
		var sent int
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FROM outbox
			WHERE subscriber_id = $1 AND kind IN ('confirm', 'link') AND created_at > $2`,
			id, s.At.Add(-SignupMailWindow)).Scan(&sent); err != nil {
			return err
		}
		if sent >= SignupMailsPerDay {
			return nil
		}
		if kind == drip.MailConfirm {
			if _, err := tx.Exec(ctx, `
				UPDATE subscribers SET confirmation_sent_at = $2, signup_pending = $3, updated_at = $2
				WHERE id = $1`,
				id, s.At, pendingOf(s, waiting)); err != nil {
				return err
			}
		}
		if err := addEvent(ctx, tx, s.At, id, "signup", "subscriber",
			map[string]any{"again": true, "status": status, "mail": kind}); err != nil {
			return err
		}
		if err := enqueue(ctx, tx, id, kind, s.At); err != nil {
			return err
		}
		queued = true
		return nil
	})
	return queued, err
}

// pendingSignup is a known address's new signup as signup_pending keeps it
// until the reader confirms: the consent record and the choices the form
// carried. Weekday and Hour are nil when the form left them to the default.
type pendingSignup struct {
	At             time.Time     `json:"at"`
	Name           string        `json:"name"`
	TimeZone       string        `json:"time_zone"`
	IP             string        `json:"ip"`
	UserAgent      string        `json:"user_agent"`
	FormURL        string        `json:"form_url"`
	ConsentVersion string        `json:"consent_version"`
	Weekday        *time.Weekday `json:"weekday"`
	Hour           *int          `json:"hour"`
}

// pendingOf is signup s as it waits for its confirmation. What s left
// blank (the name, the day, the hour) keeps what an earlier signup still
// waiting chose, as it would have on the row.
func pendingOf(s drip.Signup, waiting *pendingSignup) pendingSignup {
	p := pendingSignup{At: s.At, Name: s.Name, TimeZone: s.TimeZone, IP: s.IP, UserAgent: s.UserAgent,
		FormURL: s.FormURL, ConsentVersion: s.ConsentVersion, Weekday: s.Weekday, Hour: s.Hour}
	if waiting != nil {
		p.Name = cmp.Or(p.Name, waiting.Name)
		p.Weekday = cmp.Or(p.Weekday, waiting.Weekday)
		p.Hour = cmp.Or(p.Hour, waiting.Hour)
	}
	return p
}

// apply makes the confirmed signup sub's consent record: a form signup at
// p.At, with its name (unless left blank), zone and any slot it chose.
func (p *pendingSignup) apply(sub *drip.Subscriber) {
	sub.ConsentMethod, sub.ConsentAt, sub.ConsentIP, sub.ConsentUserAgent = "form", p.At, p.IP, p.UserAgent
	sub.ConsentFormURL, sub.ConsentVersion, sub.TimeZone = p.FormURL, p.ConsentVersion, p.TimeZone
	if p.Name != "" {
		sub.Name = p.Name
	}
	if p.Weekday != nil {
		sub.SendWeekday = p.Weekday
	}
	if p.Hour != nil {
		sub.SendHour = p.Hour
	}
}
