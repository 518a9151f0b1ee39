package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// ImportRow is one valid row of an import: a subscriber with their status,
// slot, place in the course and consent record, as the file gave them.
// Nil pointers are NULL.
type ImportRow struct {
	Line             int // in the source file, for duplicates
	Email            string
	Name             string
	Status           drip.Status
	TimeZone         string
	SendWeekday      *time.Weekday
	SendHour         *int
	Round            int
	NextLesson       int
	NextDueAt        *time.Time // active subscribers only
	PausedUntil      *time.Time // paused subscribers only
	ConsentMethod    string     // form or import
	ConsentAt        time.Time
	ConsentIP        string
	ConsentUserAgent string
	ConsentFormURL   string
	ConsentVersion   string
	ConfirmedAt      *time.Time
	UnsubscribedAt   *time.Time
	// Confirm queues a confirmation mail: the row is pending, and the
	// importer chose to ask them.
	Confirm bool
}

// ImportCounts is what an import did.
type ImportCounts struct {
	Rows          int // valid rows read
	Unique        int // distinct addresses among them
	Added         int // new subscribers
	Confirmations int // confirmation mails queued for new pending subscribers
}

// ImportConfirmInterval spaces the confirmations an import queues, so that
// a list is asked at ten addresses a second rather than all at once: each
// one is due this much after the one before. Signups' confirmations, due at
// once, go out in between.
const ImportConfirmInterval = 100 * time.Millisecond

var importColumns = []string{"line", "email", "name", "status", "time_zone", "send_weekday", "send_hour", "round",
	"next_lesson", "next_due_at", "paused_until", "consent_method", "consent_at", "consent_ip", "consent_user_agent",
	"consent_form_url", "consent_version", "confirmed_at", "unsubscribed_at", "confirm"}

// ImportSubscribers streams rows (next returns false at the end) into a
// temporary staging table with COPY, then adds them all with one set-based
// INSERT … ON CONFLICT DO NOTHING: an address already known, in any letter
// case, is left exactly as it is (an unsubscribed or bounced one stays so,
// whatever the file says), so importing the same file twice changes
// nothing. Within the file the first row of an address wins. Each new
// subscriber gets an 'imported' event, each new one marked Confirm a
// confirmation in the outbox, spaced by ImportConfirmInterval; the import
// gets one audit entry. Everything happens in one transaction: a failure
// adds nobody.
func (db *DB) ImportSubscribers(ctx context.Context, next func() (ImportRow, bool, error), a AdminAction) (ImportCounts, error) {
	var c ImportCounts
	now := a.At
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			CREATE TEMP TABLE import_staging (
				line int NOT NULL, email text NOT NULL, name text NOT NULL, status text NOT NULL, time_zone text NOT NULL,
				send_weekday smallint, send_hour smallint, round int NOT NULL, next_lesson int NOT NULL,
				next_due_at timestamptz, paused_until timestamptz,
				consent_method text NOT NULL, consent_at timestamptz NOT NULL, consent_ip text NOT NULL,
				consent_user_agent text NOT NULL, consent_form_url text NOT NULL, consent_version text NOT NULL,
				confirmed_at timestamptz, unsubscribed_at timestamptz, confirm boolean NOT NULL
			) ON COMMIT DROP`); err != nil {
			return err
		}
		var copyErr error
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"import_staging"}, importColumns, pgx.CopyFromFunc(func() ([]any, error) {
			r, ok, err := next()
			if err != nil {
				copyErr = err
				return nil, err
			}
			if !ok {
				return nil, nil
			}
			var wd, hour *int16
			if r.SendWeekday != nil {
				v := int16(*r.SendWeekday)
				wd = &v
			}
			if r.SendHour != nil {
				v := int16(*r.SendHour)
				hour = &v
			}
			return []any{r.Line, r.Email, r.Name, string(r.Status), r.TimeZone, wd, hour, r.Round,
				r.NextLesson, r.NextDueAt, r.PausedUntil, r.ConsentMethod, r.ConsentAt, r.ConsentIP,
				r.ConsentUserAgent, r.ConsentFormURL, r.ConsentVersion, r.ConfirmedAt, r.UnsubscribedAt, r.Confirm}, nil
		}))
		if copyErr != nil {
			return copyErr
		}
		if err != nil {
			return err
		}
		c.Rows = int(n)
		if err := tx.QueryRow(ctx, `SELECT count(DISTINCT lower(email)) FROM import_staging`).Scan(&c.Unique); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `
			WITH src AS (
				SELECT DISTINCT ON (lower(email)) *
				FROM import_staging
				ORDER BY lower(email), line
			), added AS (
				INSERT INTO subscribers (email, name, status, time_zone, send_weekday, send_hour,
					paused_until, consent_method, consent_at, consent_ip, consent_user_agent,
					consent_form_url, consent_version, confirmed_at, unsubscribed_at, confirmation_sent_at,
					created_at, updated_at)
				SELECT email, name, status, time_zone, send_weekday, send_hour,
					paused_until, consent_method, consent_at, consent_ip, consent_user_agent,
					consent_form_url, consent_version, confirmed_at, unsubscribed_at, CASE WHEN confirm THEN $1::timestamptz END,
					$1, $1
				FROM src ORDER BY line
				ON CONFLICT (lower(email)) DO NOTHING
				RETURNING id, lower(email) AS key
			), place AS (
				INSERT INTO schedule (subscriber_id, round, lesson, due_at, active)
				SELECT a.id, s.round, s.next_lesson, s.next_due_at, s.status = 'active'
				FROM added a JOIN src s ON lower(s.email) = a.key
			), ev AS (
				INSERT INTO events (subscriber_id, kind, actor, detail, at)
				SELECT a.id, 'imported', $2, jsonb_build_object('status', s.status, 'confirm', s.confirm), $1
				FROM added a JOIN src s ON lower(s.email) = a.key
			), ob AS (
				INSERT INTO outbox (subscriber_id, kind, next_attempt_at, created_at)
				SELECT a.id, 'confirm', $1 + (row_number() OVER (ORDER BY s.line) - 1) * $3::interval, $1
				FROM added a JOIN src s ON lower(s.email) = a.key
				WHERE s.confirm
				RETURNING 1
			)
			SELECT (SELECT count(*) FROM added), (SELECT count(*) FROM ob)`, now, a.Actor, ImportConfirmInterval).Scan(&c.Added, &c.Confirmations)
		if err != nil {
			return err
		}
		return addAudit(ctx, tx, AuditEntry{At: now, Actor: a.Actor, Action: "subscribers.import", SubjectType: "import",
			After: map[string]any{"rows": c.Rows, "unique": c.Unique, "added": c.Added, "confirmations": c.Confirmations}, IP: a.IP})
	})
	if err != nil {
		return ImportCounts{}, fmt.Errorf("import subscribers: %w", err)
	}
	return c, nil
}

// ExportRow is one subscriber as the CSV export writes it: the record an
// import reads, so that the two carry the same columns (Line and Confirm
// are unset).
type ExportRow = ImportRow

// CountSubscribers counts the subscribers f selects, for a progress bar.
func (db *DB) CountSubscribers(ctx context.Context, f SubscriberFilter) (int, error) {
	where, args := filterSQL(f, nil)
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM `+subscribersFrom+` WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count subscribers: %w", err)
	}
	return n, nil
}

// ExportSubscribers calls fn for every subscriber f selects, in id order,
// as the rows arrive from the server: memory stays flat at any size.
func (db *DB) ExportSubscribers(ctx context.Context, f SubscriberFilter, fn func(ExportRow) error) error {
	where, args := filterSQL(f, nil)
	rows, err := db.Pool.Query(ctx, `
		SELECT email, name, status, time_zone, send_weekday, send_hour, COALESCE(round, 1), COALESCE(lesson, 1), due_at, paused_until,
			consent_method, consent_at, consent_ip, consent_user_agent, consent_form_url, consent_version,
			confirmed_at, unsubscribed_at
		FROM `+subscribersFrom+` WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return fmt.Errorf("export subscribers: %w", err)
	}
	var r ExportRow
	var weekday, hour *int16
	_, err = pgx.ForEachRow(rows, []any{&r.Email, &r.Name, &r.Status, &r.TimeZone, &weekday, &hour,
		&r.Round, &r.NextLesson, &r.NextDueAt, &r.PausedUntil, &r.ConsentMethod, &r.ConsentAt, &r.ConsentIP,
		&r.ConsentUserAgent, &r.ConsentFormURL, &r.ConsentVersion, &r.ConfirmedAt, &r.UnsubscribedAt},
		func() error {
			r.SendWeekday, r.SendHour = nil, nil
			if weekday != nil {
				wd := time.Weekday(*weekday)
				r.SendWeekday = &wd
			}
			if hour != nil {
				h := int(*hour)
				r.SendHour = &h
			}
			return fn(r)
		})
	if err != nil {
		return fmt.Errorf("export subscribers: %w", err)
	}
	return nil
}
