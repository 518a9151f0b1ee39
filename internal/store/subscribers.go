package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// subscribersFrom is where a subscriber is read from: the subscriber and
// their place in the course (migration 00016), which a signup not yet
// confirmed does not have. Column names need no table: the two tables share
// none. A query that locks the subscriber says FOR UPDATE OF s.
const subscribersFrom = `subscribers s LEFT JOIN schedule p ON p.subscriber_id = s.id`

// subscriberColumns lists what scanSubscriber reads, in order, from
// subscribersFrom; a subscriber without a schedule row is on lesson 1 of
// round 1, due never.
const subscriberColumns = `id, email, name, status, time_zone, send_weekday, send_hour,
	COALESCE(round, 1), COALESCE(lesson, 1), due_at, last_sent_at, token_gen,
	consent_method, consent_at, consent_ip, consent_user_agent, consent_form_url, consent_version,
	confirmation_sent_at, confirmed_at, unsubscribed_at, created_at,
	paused_until, next_now_at, pending_email, pending_email_at`

func scanSubscriber(row pgx.Row) (*drip.Subscriber, error) {
	var sc subscriberScan
	err := row.Scan(sc.targets()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, drip.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return sc.subscriber(), nil
}

// subscriberScan receives the subscriberColumns of one row; a query that
// reads more columns after them appends its own targets.
type subscriberScan struct {
	s             drip.Subscriber
	weekday, hour *int16
}

func (sc *subscriberScan) targets(more ...any) []any {
	s := &sc.s
	return append([]any{&s.ID, &s.Email, &s.Name, &s.Status, &s.TimeZone, &sc.weekday, &sc.hour,
		&s.Round, &s.NextLesson, &s.NextDueAt, &s.LastSentAt, &s.TokenGen,
		&s.ConsentMethod, &s.ConsentAt, &s.ConsentIP, &s.ConsentUserAgent, &s.ConsentFormURL, &s.ConsentVersion,
		&s.ConfirmationSentAt, &s.ConfirmedAt, &s.UnsubscribedAt, &s.CreatedAt,
		&s.PausedUntil, &s.NextNowAt, &s.PendingEmail, &s.PendingEmailAt}, more...)
}

// deliveryColumns are the subscriber columns sending a lesson reads: who
// the reader is, their slot, where they are in the course, and the
// generation their links are signed with. A subscriber read with them
// (a delivery claim's) holds these and nothing else.
const deliveryColumns = `s.id, s.email, s.name, s.status, s.time_zone, s.send_weekday, s.send_hour, p.round, p.lesson, p.due_at, s.token_gen`

// deliveryTargets receives the deliveryColumns of one row, then more.
func (sc *subscriberScan) deliveryTargets(more ...any) []any {
	s := &sc.s
	return append([]any{&s.ID, &s.Email, &s.Name, &s.Status, &s.TimeZone, &sc.weekday, &sc.hour,
		&s.Round, &s.NextLesson, &s.NextDueAt, &s.TokenGen}, more...)
}

func (sc *subscriberScan) subscriber() *drip.Subscriber {
	s := sc.s
	if sc.weekday != nil {
		wd := time.Weekday(*sc.weekday)
		s.SendWeekday = &wd
	}
	if sc.hour != nil {
		h := int(*sc.hour)
		s.SendHour = &h
	}
	return &s
}

// addressKey is the expression of subscribers_email_key, the one index of
// addresses (migration 00014): the address in lower case, in the "C"
// collation. A query that compares or orders addresses names it whole, so
// that it can read the index: in the database's collation it could not.
const addressKey = `lower(email) COLLATE "C"`

// byAddress finds the subscriber whose address is $1 in any letter case.
// Equality is the same in "C" as in the database's collation.
const byAddress = addressKey + ` = lower($1)`

// SignupSQL is the one statement that stores a new address's signup: the
// subscriber, its history and its queued confirmation, in one round trip
// and an implicit transaction ($1 email, $2 name, $3 zone, $4 time, $5 IP,
// $6 user agent, $7 form URL, $8 consent wording, $9 weekday and $10 hour,
// each NULL when not chosen, which Confirm then fills). It returns the new id,
// or no row when the address is known. Exported so the signup benchmark's
// ceiling runs exactly this.
//
// Its commit does not wait for the disk (synchronous_commit off, for this
// transaction only, as the delivery claim's): waiting for the WAL flush
// was most of a signup's time in PostgreSQL, and with it the pool's
// connections capped signups far below what PostgreSQL can take. What
// that risks is small and safe. A crash of PostgreSQL or the machine
// within about three wal_writer_delay (600 ms by default) of a signup may
// lose it, and it is lost whole: the subscriber, its consent record, its
// history and its confirmation go together or not at all, one transaction
// in the WAL. And it can be lost only before its confirmation is sent: the
// outbox's claim of it is an ordinary commit, later in the WAL, which
// waits until the signup is on disk too, before the mail can go. No reader
// gets a link to a signup that is not there; at worst no mail comes and
// they sign up again.
const SignupSQL = `
		WITH ins AS (
			INSERT INTO subscribers (email, name, time_zone, consent_at, consent_ip,
				consent_user_agent, consent_form_url, consent_version, confirmation_sent_at,
				send_weekday, send_hour)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $4, $9, $10)
			ON CONFLICT (lower(email)) DO NOTHING
			RETURNING id
		), ev AS (
			INSERT INTO events (subscriber_id, kind, actor, at) SELECT id, 'signup', 'subscriber', $4 FROM ins
		), ob AS (
			INSERT INTO outbox (subscriber_id, kind, next_attempt_at, created_at) SELECT id, 'confirm', $4, $4 FROM ins
		)
		SELECT id FROM ins, ` + asyncCommit

// Signup records a signup and, when the address should get one, queues its
// mail in the same transaction: a new address gets a confirmation, a known
// one what signupAgain decides. It reports whether a mail was queued. A
// known address is never an error: the caller answers the same either way,
// so the form does not reveal who is subscribed.
func (db *DB) Signup(ctx context.Context, s drip.Signup) (queued bool, err error) {
	// One statement, so one round trip and an implicit transaction: the
	// subscriber, its history and its confirmation mail, or nothing.
	var id int64
	err = db.Pool.QueryRow(ctx, SignupSQL,
		s.Email, s.Name, s.TimeZone, s.At, s.IP, s.UserAgent, s.FormURL, s.ConsentVersion,
		slotColumn(s.Weekday), slotColumn(s.Hour),
	).Scan(&id)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("record signup: %w", err)
	}
	queued, err = db.signupAgain(ctx, s)
	if err != nil {
		return false, fmt.Errorf("record signup: %w", err)
	}
	return queued, nil
}

// slotColumn is a chosen weekday or hour as its smallint column: NULL
// when the reader chose none.
func slotColumn[T time.Weekday | int](v *T) *int16 {
	if v == nil {
		return nil
	}
	n := int16(*v)
	return &n
}

// Subscriber returns the subscriber with id whose links are of generation gen.
func (db *DB) Subscriber(ctx context.Context, id int64, gen int) (*drip.Subscriber, error) {
	s, err := scanSubscriber(db.Pool.QueryRow(ctx,
		`SELECT `+subscriberColumns+` FROM `+subscribersFrom+` WHERE id = $1 AND token_gen = $2`, id, gen))
	if err != nil && !errors.Is(err, drip.ErrNotFound) {
		return nil, fmt.Errorf("load subscriber %d: %w", id, err)
	}
	return s, err
}

// SubscriberByEmail returns the subscriber with that address in any letter case.
func (db *DB) SubscriberByEmail(ctx context.Context, email string) (*drip.Subscriber, error) {
	s, err := scanSubscriber(db.Pool.QueryRow(ctx,
		`SELECT `+subscriberColumns+` FROM `+subscribersFrom+` WHERE `+byAddress, email))
	if err != nil && !errors.Is(err, drip.ErrNotFound) {
		return nil, fmt.Errorf("load subscriber by email: %w", err)
	}
	return s, err
}

// Confirm makes a pending or unsubscribed subscriber active with their next
// lesson due at once (lesson 1 for a new subscriber). A subscriber who chose
// no slot gets the default: the local weekday of confirmation at defaultHour.
// A signup of the known address waiting in signup_pending (see signupAgain)
// becomes the consent record now, with the name, zone and slot it chose.
// Confirming twice changes nothing. A bounced subscriber cannot confirm
// while the address is suppressed.
func (db *DB) Confirm(ctx context.Context, id int64, gen int, defaultWeekday time.Weekday, defaultHour int, now time.Time) (*drip.Subscriber, error) {
	var s *drip.Subscriber
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if s, err = lockSubscriber(ctx, tx, Ref{ID: id, Gen: gen}, true); err != nil {
			return err
		}
		var pending *pendingSignup
		if err := tx.QueryRow(ctx, `SELECT signup_pending FROM subscribers WHERE id = $1`, id).Scan(&pending); err != nil {
			return err
		}
		switch s.Status {
		case drip.StatusPending, drip.StatusUnsubscribed:
		case drip.StatusBounced:
			// Only an address whose suppression the admin lifted.
			if gone, err := suppressed(ctx, tx, s.Email); err != nil {
				return err
			} else if gone {
				return drip.ErrGone
			}
		default:
			return nil // already confirmed
		}
		if pending != nil {
			pending.apply(s)
		}
		// Lesson 1 is due at confirmation; a returning reader's next lesson
		// comes at their slot, never within six days of the last one.
		due := drip.FirstDue(now)
		if s.LastSentAt != nil {
			due = drip.Reschedule(s.SlotOf(defaultHour, now), s.LastSentAt, now)
		}
		if err := setPlace(ctx, tx, id, s.Round, s.NextLesson, &due); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE subscribers SET status = 'active', confirmed_at = $2, unsubscribed_at = NULL,
				send_weekday = COALESCE($5::smallint, $3),
				send_hour = COALESCE($6::smallint, $4),
				name = $7, time_zone = $8, consent_method = $9, consent_at = $10, consent_ip = $11,
				consent_user_agent = $12, consent_form_url = $13, consent_version = $14,
				signup_pending = NULL,
				updated_at = $2
			WHERE id = $1`, id, now, int16(defaultWeekday), int16(defaultHour),
			slotColumn(s.SendWeekday), slotColumn(s.SendHour),
			s.Name, s.TimeZone, s.ConsentMethod, s.ConsentAt, s.ConsentIP,
			s.ConsentUserAgent, s.ConsentFormURL, s.ConsentVersion); err != nil {
			return err
		}
		if s, err = readSubscriber(ctx, tx, id); err != nil {
			return err
		}
		return addEvent(ctx, tx, now, id, "confirmed", "subscriber", nil)
	})
	if err != nil {
		if errors.Is(err, drip.ErrNotFound) || errors.Is(err, drip.ErrGone) {
			return nil, err
		}
		return nil, fmt.Errorf("confirm subscriber %d: %w", id, err)
	}
	return s, nil
}

// DeleteUnconfirmed removes pending signups older than before, with their
// queued mail; a signup of the address waiting in signup_pending counts as
// its newest. It returns how many went.
func (db *DB) DeleteUnconfirmed(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.Pool.Exec(ctx, `
		DELETE FROM subscribers WHERE status = 'pending' AND consent_at < $1
		AND confirmed_at IS NULL
		AND (signup_pending IS NULL OR (signup_pending->>'at')::timestamptz < $1)`, before)
	if err != nil {
		return 0, fmt.Errorf("delete unconfirmed signups: %w", err)
	}
	return tag.RowsAffected(), nil
}

// readSubscriber reads the subscriber with id as the transaction sees it.
func readSubscriber(ctx context.Context, tx pgx.Tx, id int64) (*drip.Subscriber, error) {
	return scanSubscriber(tx.QueryRow(ctx, `SELECT `+subscriberColumns+` FROM `+subscribersFrom+` WHERE id = $1`, id))
}

// setPlace puts subscriber id at lesson of round, due at due (nil: never),
// creating their schedule row when they have none. A new lesson or round
// starts its count of attempts afresh; a lease stays, for the pass sending
// now to record what it sent. The caller holds the subscriber's row lock.
func setPlace(ctx context.Context, tx pgx.Tx, id int64, round, lesson int, due *time.Time) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO schedule AS p (subscriber_id, round, lesson, due_at, active)
		SELECT id, $2, $3, $4, status = 'active' FROM subscribers WHERE id = $1
		ON CONFLICT (subscriber_id) DO UPDATE SET round = EXCLUDED.round, lesson = EXCLUDED.lesson, due_at = EXCLUDED.due_at,
			attempts = CASE WHEN (p.round, p.lesson) = (EXCLUDED.round, EXCLUDED.lesson) THEN p.attempts ELSE 0 END`,
		id, int32(round), int32(lesson), due)
	if err != nil {
		return fmt.Errorf("schedule subscriber %d: %w", id, err)
	}
	return nil
}

// addEvent appends to a subscriber's history.
func addEvent(ctx context.Context, tx pgx.Tx, at time.Time, id int64, kind, actor string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO events (subscriber_id, kind, actor, detail, at) VALUES ($1, $2, $3, $4, $5)`,
		id, kind, actor, detail, at)
	if err != nil {
		return fmt.Errorf("add %s event: %w", kind, err)
	}
	return nil
}
