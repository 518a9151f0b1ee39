package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// ErrTaken means an address belongs to another subscription.
var ErrTaken = errors.New("address belongs to another subscription")

// edit locks the subscriber with id and link generation gen, lets fn
// change their profile (not their standing: that is Change) inside one
// transaction, and records the event fn names. fn returns
// drip.ErrNoChange to commit nothing and record no event.
func (db *DB) edit(ctx context.Context, id int64, gen int, now time.Time,
	fn func(tx pgx.Tx, s *drip.Subscriber, now time.Time) (kind string, detail map[string]any, err error),
) (*drip.Subscriber, error) {
	var out *drip.Subscriber
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		s, err := lockSubscriber(ctx, tx, Ref{ID: id, Gen: gen}, true)
		if err != nil {
			return err
		}
		kind, detail, err := fn(tx, s, now)
		if err != nil {
			return err
		}
		if err := addEvent(ctx, tx, now, id, kind, string(drip.ActorSubscriber), detail); err != nil {
			return err
		}
		out, err = readSubscriber(ctx, tx, id)
		return err
	})
	if errors.Is(err, drip.ErrNoChange) {
		return db.Subscriber(ctx, id, gen)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetSchedule changes the reader's weekday, hour and zone. An active
// reader's next lesson moves to the next matching slot, never sooner than
// six days after the last one; lesson 1, not yet sent, stays due.
func (db *DB) SetSchedule(ctx context.Context, id int64, gen int, slot drip.Slot, now time.Time) (*drip.Subscriber, error) {
	return db.edit(ctx, id, gen, now, func(tx pgx.Tx, s *drip.Subscriber, now time.Time) (string, map[string]any, error) {
		due := s.NextDueAt
		if s.Status == drip.StatusActive && s.LastSentAt != nil {
			d := drip.Reschedule(slot, s.LastSentAt, now)
			due = &d
		}
		if _, err := tx.Exec(ctx, `
			UPDATE subscribers SET send_weekday = $2, send_hour = $3, time_zone = $4, updated_at = $5
			WHERE id = $1`, s.ID, int16(slot.Weekday), int16(slot.Hour), slot.Location.String(), now); err != nil {
			return "", nil, err
		}
		if !sameTime(due, s.NextDueAt) {
			if err := setPlace(ctx, tx, s.ID, s.Round, s.NextLesson, due); err != nil {
				return "", nil, err
			}
		}
		return "schedule_changed", map[string]any{"weekday": slot.Weekday.String(), "hour": slot.Hour, "time_zone": slot.Location.String()}, nil
	})
}

// ResumeExpired resumes every reader whose timed pause has ended at now.
func (db *DB) ResumeExpired(ctx context.Context, now time.Time, defaultHour int) (int, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id, token_gen FROM subscribers WHERE status = 'paused' AND paused_until <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("find ended pauses: %w", err)
	}
	refs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Ref])
	if err != nil {
		return 0, fmt.Errorf("find ended pauses: %w", err)
	}
	var errs []error
	for _, ref := range refs {
		c := drip.Change{Action: drip.ActResume, Actor: drip.ActorSystem, Now: now, DefaultHour: defaultHour}
		if _, err := db.Change(ctx, ref, c, AdminAction{}); err != nil {
			errs = append(errs, err) // one reader's problem must not strand the others
		}
	}
	return len(refs) - len(errs), errors.Join(errs...)
}

// SetName changes the reader's name.
func (db *DB) SetName(ctx context.Context, id int64, gen int, name string, now time.Time) (*drip.Subscriber, error) {
	return db.edit(ctx, id, gen, now, func(tx pgx.Tx, s *drip.Subscriber, now time.Time) (string, map[string]any, error) {
		if s.Name == name {
			return "", nil, drip.ErrNoChange
		}
		_, err := tx.Exec(ctx, `UPDATE subscribers SET name = $2, updated_at = $3 WHERE id = $1`, s.ID, name, now)
		return "name_changed", nil, err
	})
}

// EmailChangeInterval is the least time between two address-change
// requests of one subscriber.
const EmailChangeInterval = time.Hour

// RequestEmailChange keeps newEmail as pending and queues a confirmation
// to it; nothing changes until that is confirmed. An address that belongs
// to another subscription gets nothing, with no error, so the answer does
// not reveal it; a second request within EmailChangeInterval is drip.ErrTooSoon.
func (db *DB) RequestEmailChange(ctx context.Context, id int64, gen int, newEmail string, now time.Time) (*drip.Subscriber, error) {
	return db.edit(ctx, id, gen, now, func(tx pgx.Tx, s *drip.Subscriber, now time.Time) (string, map[string]any, error) {
		// One request an hour, so the form cannot mail-bomb a stranger.
		if s.PendingEmailAt != nil && now.Sub(*s.PendingEmailAt) < EmailChangeInterval {
			return "", nil, drip.ErrTooSoon
		}
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM subscribers WHERE `+byAddress+` AND id <> $2)`, newEmail, s.ID).Scan(&taken); err != nil {
			return "", nil, err
		}
		if taken {
			// Answered like any other request, so the form does not tell
			// who is subscribed; nothing is sent.
			return "", nil, drip.ErrNoChange
		}
		// Whole seconds: the confirmation link's expiry is derived from it.
		at := now.Truncate(time.Second)
		if _, err := tx.Exec(ctx, `UPDATE subscribers SET pending_email = $2, pending_email_at = $3, updated_at = $3 WHERE id = $1`, s.ID, newEmail, at); err != nil {
			return "", nil, err
		}
		// A link for an earlier request must not confirm this address.
		if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE subscriber_id = $1 AND kind = 'email_change' AND status = 'pending'`, s.ID); err != nil {
			return "", nil, err
		}
		if err := enqueueTo(ctx, tx, s.ID, drip.MailEmailChange, newEmail, at); err != nil {
			return "", nil, err
		}
		return "email_change_requested", nil, nil
	})
}

// ConfirmEmailChange makes the pending address the subscriber's, revokes
// every link sent to the old one, and tells the old address.
func (db *DB) ConfirmEmailChange(ctx context.Context, id int64, gen int, now time.Time) (*drip.Subscriber, error) {
	s, err := db.edit(ctx, id, gen, now, func(tx pgx.Tx, s *drip.Subscriber, now time.Time) (string, map[string]any, error) {
		if s.PendingEmail == nil {
			return "", nil, drip.ErrNoChange
		}
		_, err := tx.Exec(ctx, `
			UPDATE subscribers SET email = pending_email, pending_email = NULL, pending_email_at = NULL,
				token_gen = token_gen + 1, updated_at = $2
			WHERE id = $1`, s.ID, now)
		if isViolation(err, "") {
			return "", nil, ErrTaken
		}
		if err != nil {
			return "", nil, err
		}
		if err := enqueueTo(ctx, tx, s.ID, drip.MailEmailChanged, s.Email, now); err != nil {
			return "", nil, err
		}
		return "email_changed", nil, nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Erase removes the subscriber's personal data at once. Deliveries and
// "tried" rows stay without the subscriber, so the counts stay right;
// SMTP replies and event details, which can quote the address, are blanked.
// Every link to the subscriber stops working.
func (db *DB) Erase(ctx context.Context, id int64, gen int, actor string) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockSubscriber(ctx, tx, Ref{ID: id, Gen: gen}, true); err != nil {
			return err // drip.ErrNotFound when no such link
		}
		if err := eraseTx(ctx, tx, id); err != nil {
			return err
		}
		// An anonymous trace that an erasure happened, for the audit.
		_, err := tx.Exec(ctx, `INSERT INTO events (subscriber_id, kind, actor) VALUES (NULL, 'erased', $1)`, actor)
		return err
	})
	if err != nil && !errors.Is(err, drip.ErrNotFound) {
		return fmt.Errorf("erase subscriber %d: %w", id, err)
	}
	return err
}

// eraseTx removes subscriber id's personal data inside tx: the row goes,
// with its queued mail; deliveries, events, tries and audit entries stay
// without the subscriber and without the free text that can quote the
// address (SMTP replies, event details, resend replies in the audit log,
// the address and diagnostic of bounce reports). A suppression stays: it
// is the record of a refusal, kept so the address is not mailed again.
func eraseTx(ctx context.Context, tx pgx.Tx, id int64) error {
	for _, q := range []string{
		`UPDATE deliveries SET smtp_reply = '' WHERE subscriber_id = $1`,
		`UPDATE reports SET email = '', reason = '', message_id = '' WHERE subscriber_id = $1`,
		`UPDATE events SET detail = '{}' WHERE subscriber_id = $1`,
		`UPDATE admin_audit SET after = after - 'reply' - 'error' WHERE subject_type = 'subscriber' AND subject_id = $1`,
		`DELETE FROM outbox WHERE subscriber_id = $1`,
		`DELETE FROM subscribers WHERE id = $1`,
	} {
		if _, err := tx.Exec(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}

// Received is one lesson a reader has received.
type Received struct {
	Lesson int
	SentAt time.Time
}

// ReceivedLessons lists the distinct lessons delivered to the subscriber,
// newest first.
func (db *DB) ReceivedLessons(ctx context.Context, id int64) ([]Received, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT lesson, max(sent_at) FROM deliveries
		WHERE subscriber_id = $1 AND status = 'sent'
		GROUP BY lesson ORDER BY max(sent_at) DESC, lesson DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("list received lessons: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Received])
	if err != nil {
		return nil, fmt.Errorf("list received lessons: %w", err)
	}
	return out, nil
}

// HasReceived reports whether lesson n was delivered to the subscriber.
func (db *DB) HasReceived(ctx context.Context, id int64, n int) (bool, error) {
	var ok bool
	err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE subscriber_id = $1 AND lesson = $2 AND status = 'sent')`, id, n).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check lesson %d received: %w", n, err)
	}
	return ok, nil
}

// Tried records that the reader tried lesson n's action; twice is once.
func (db *DB) Tried(ctx context.Context, id int64, gen int, n int, now time.Time) error {
	_, err := db.edit(ctx, id, gen, now, func(tx pgx.Tx, s *drip.Subscriber, now time.Time) (string, map[string]any, error) {
		var received bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE subscriber_id = $1 AND lesson = $2 AND status = 'sent')`, s.ID, n).Scan(&received); err != nil {
			return "", nil, err
		}
		if !received {
			return "", nil, drip.ErrNotReceived
		}
		tag, err := tx.Exec(ctx, `INSERT INTO tried (subscriber_id, round, lesson, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, s.ID, s.Round, n, now)
		if err != nil {
			return "", nil, err
		}
		if tag.RowsAffected() == 0 {
			return "", nil, drip.ErrNoChange
		}
		return "tried", map[string]any{"lesson": n}, nil
	})
	return err
}

// DataExport is everything twostep keeps about one reader.
type DataExport struct {
	Profile    map[string]any   `json:"profile"`
	Consent    map[string]any   `json:"consent"`
	Deliveries []map[string]any `json:"deliveries"`
	History    []map[string]any `json:"history"`
	Tried      []map[string]any `json:"tried"`
}

// Export gathers the reader's data for download.
func (db *DB) Export(ctx context.Context, s *drip.Subscriber) (*DataExport, error) {
	x := &DataExport{
		Profile: map[string]any{
			"email": s.Email, "name": s.Name, "status": s.Status, "time_zone": s.TimeZone,
			"send_weekday": s.SendWeekday, "send_hour": s.SendHour, "next_lesson": s.NextLesson,
			"next_due_at": s.NextDueAt, "round": s.Round, "pending_email": s.PendingEmail,
			"paused_until": s.PausedUntil, "created_at": s.CreatedAt,
		},
		Consent: map[string]any{
			"method": s.ConsentMethod, "at": s.ConsentAt, "ip": s.ConsentIP, "user_agent": s.ConsentUserAgent,
			"form_url": s.ConsentFormURL, "wording_version": s.ConsentVersion,
			"confirmed_at": s.ConfirmedAt, "unsubscribed_at": s.UnsubscribedAt,
		},
	}
	// A signup of the address waiting for its confirmation is data kept
	// about it too.
	var waiting map[string]any
	if err := db.Pool.QueryRow(ctx, `SELECT signup_pending FROM subscribers WHERE id = $1`, s.ID).Scan(&waiting); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if waiting != nil {
		x.Consent["signup_awaiting_confirmation"] = waiting
	}
	var err error
	if x.Deliveries, err = db.maps(ctx, `
		SELECT round, lesson, status, attempts, due_at, sent_at, message_id, smtp_reply
		FROM deliveries WHERE subscriber_id = $1 ORDER BY id`, s.ID); err != nil {
		return nil, err
	}
	if x.History, err = db.maps(ctx, `SELECT kind, actor, detail, at FROM events WHERE subscriber_id = $1 ORDER BY id`, s.ID); err != nil {
		return nil, err
	}
	if x.Tried, err = db.maps(ctx, `SELECT round, lesson, at FROM tried WHERE subscriber_id = $1 ORDER BY id`, s.ID); err != nil {
		return nil, err
	}
	return x, nil
}

func (db *DB) maps(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToMap)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if out == nil {
		out = []map[string]any{}
	}
	return out, nil
}
