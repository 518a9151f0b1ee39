package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// ImportRow is one valid row of an import, ready to become an active
// subscriber.
type ImportRow struct {
	Line        int // in the source file, for duplicates
	Email       string
	Name        string
	TimeZone    string
	NextLesson  int
	ConfirmedAt time.Time
	SendWeekday time.Weekday
	SendHour    int
	NextDueAt   time.Time
}

// ImportCounts is what an import did.
type ImportCounts struct {
	Rows   int // valid rows read
	Unique int // distinct addresses among them
	Added  int // new subscribers
}

var importColumns = []string{"line", "email", "name", "time_zone", "next_lesson", "confirmed_at", "send_weekday", "send_hour", "next_due_at"}

// ImportSubscribers streams rows (next returns false at the end) into a
// temporary staging table with COPY, then adds them all with one set-based
// INSERT … ON CONFLICT DO NOTHING: an address already known, in any letter
// case, is left exactly as it is, so importing the same file twice changes
// nothing. Within the file the first row of an address wins. Each new
// subscriber gets an 'imported' event; the import gets one audit entry.
// Everything happens in one transaction: a failure adds nobody.
func (db *DB) ImportSubscribers(ctx context.Context, next func() (ImportRow, bool, error), a AdminAction) (ImportCounts, error) {
	var c ImportCounts
	now := a.At
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			CREATE TEMP TABLE import_staging (
				line int NOT NULL, email text NOT NULL, name text NOT NULL, time_zone text NOT NULL,
				next_lesson int NOT NULL, confirmed_at timestamptz NOT NULL,
				send_weekday smallint NOT NULL, send_hour smallint NOT NULL, next_due_at timestamptz NOT NULL
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
			return []any{r.Line, r.Email, r.Name, r.TimeZone, r.NextLesson, r.ConfirmedAt,
				int16(r.SendWeekday), int16(r.SendHour), r.NextDueAt}, nil
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
		tag, err := tx.Exec(ctx, `
			WITH src AS (
				SELECT DISTINCT ON (lower(email)) line, email, name, time_zone, next_lesson, confirmed_at,
					send_weekday, send_hour, next_due_at
				FROM import_staging
				ORDER BY lower(email), line
			), added AS (
				INSERT INTO subscribers (email, name, status, time_zone, send_weekday, send_hour, next_lesson,
					next_due_at, consent_method, consent_at, confirmed_at, created_at, updated_at)
				SELECT email, name, 'active', time_zone, send_weekday, send_hour, next_lesson,
					next_due_at, 'import', confirmed_at, confirmed_at, $1, $1
				FROM src ORDER BY line
				ON CONFLICT (lower(email)) DO NOTHING
				RETURNING id
			)
			INSERT INTO events (subscriber_id, kind, actor, detail, at)
			SELECT id, 'imported', $2, '{}', $1 FROM added`, now, a.Actor)
		if err != nil {
			return err
		}
		c.Added = int(tag.RowsAffected())
		return addAudit(ctx, tx, AuditEntry{At: now, Actor: a.Actor, Action: "subscribers.import", SubjectType: "import",
			After: map[string]any{"rows": c.Rows, "unique": c.Unique, "added": c.Added}, IP: a.IP})
	})
	if err != nil {
		return ImportCounts{}, fmt.Errorf("import subscribers: %w", err)
	}
	return c, nil
}

// ExportRow is one subscriber as the CSV export writes it.
type ExportRow struct {
	Email, Name, TimeZone string
	NextLesson            int
	ConfirmedAt           *time.Time
	Status                drip.Status
	ConsentMethod         string
	ConsentAt             time.Time
	CreatedAt             time.Time
}

// CountSubscribers counts the subscribers f selects, for a progress bar.
func (db *DB) CountSubscribers(ctx context.Context, f SubscriberFilter) (int, error) {
	where, args := filterSQL(f, nil)
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM subscribers WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count subscribers: %w", err)
	}
	return n, nil
}

// ExportSubscribers calls fn for every subscriber f selects, in id order,
// as the rows arrive from the server: memory stays flat at any size.
func (db *DB) ExportSubscribers(ctx context.Context, f SubscriberFilter, fn func(ExportRow) error) error {
	where, args := filterSQL(f, nil)
	rows, err := db.Pool.Query(ctx, `
		SELECT email, name, time_zone, next_lesson, confirmed_at, status, consent_method, consent_at, created_at
		FROM subscribers WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return fmt.Errorf("export subscribers: %w", err)
	}
	var r ExportRow
	_, err = pgx.ForEachRow(rows, []any{&r.Email, &r.Name, &r.TimeZone, &r.NextLesson, &r.ConfirmedAt, &r.Status,
		&r.ConsentMethod, &r.ConsentAt, &r.CreatedAt}, func() error { return fn(r) })
	if err != nil {
		return fmt.Errorf("export subscribers: %w", err)
	}
	return nil
}
