package store

import (
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
// one a fresh confirmation (and their consent record is the new signup's),
// a reader who is already subscribed (active, paused or completed) a
// "here is your link" mail with their preferences link. A bounced address
// gets nothing, and no address more than SignupMailsPerDay signup mails in
// SignupMailWindow. It reports whether a mail was queued.
func (db *DB) signupAgain(ctx context.Context, s drip.Signup) (queued bool, err error) {
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		// The lock makes concurrent signups of one address take turns, so
		// each one's count below sees the mails the others queued.
		var id int64
		var status drip.Status
		err := tx.QueryRow(ctx, `SELECT id, status FROM subscribers WHERE lower(email) = lower($1) FOR UPDATE`, s.Email).Scan(&id, &status)
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
				UPDATE subscribers SET confirmation_sent_at = $2,
					name = CASE WHEN $3 = '' THEN name ELSE $3 END,
					time_zone = $4, consent_at = $2, consent_ip = $5, consent_user_agent = $6,
					consent_form_url = $7, consent_version = $8, updated_at = $2,
					send_weekday = COALESCE($9, send_weekday), send_hour = COALESCE($10, send_hour)
				WHERE id = $1`,
				id, s.At, s.Name, s.TimeZone, s.IP, s.UserAgent, s.FormURL, s.ConsentVersion,
				slotColumn(s.Weekday), slotColumn(s.Hour)); err != nil {
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
