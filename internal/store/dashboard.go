package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// Dashboard is what the admin's front page shows.
type Dashboard struct {
	ByStatus map[drip.Status]int
	// Funnel counts active subscribers by their next lesson.
	Funnel map[int]int
	// SentByWeek counts lessons sent, by the Monday (UTC) of their week.
	SentByWeek      map[time.Time]int
	Due24h, Due7d   int
	OpenDeliveries  []OpenDelivery
	OpenDeliveriesN int // all of them, when OpenDeliveries is cut short
}

// OpenDelivery is a lesson that failed or is waiting for a retry, with the
// subscriber it is for.
type OpenDelivery struct {
	DeliveryRecord
	SubscriberID    *int64
	Email           string
	NextAttemptAt   *time.Time
	SubscriberState drip.Status
}

// maxOpenDeliveries is how many failed or retrying deliveries the
// dashboard lists.
const maxOpenDeliveries = 100

// LoadDashboard counts what the dashboard shows as of now; weeks is how
// many weeks of sending to chart, ending with the current one.
func (db *DB) LoadDashboard(ctx context.Context, now time.Time, weeks int) (*Dashboard, error) {
	d := &Dashboard{ByStatus: map[drip.Status]int{}, Funnel: map[int]int{}, SentByWeek: map[time.Time]int{}}
	var status drip.Status
	var n, count int
	rows, err := db.Pool.Query(ctx, `SELECT status, count(*) FROM subscribers GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count subscribers by status: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&status, &count}, func() error { d.ByStatus[status] = count; return nil }); err != nil {
		return nil, fmt.Errorf("count subscribers by status: %w", err)
	}
	// An index-only scan of subscribers_lesson_idx (next_lesson, status, id).
	rows, err = db.Pool.Query(ctx, `SELECT next_lesson, count(*) FROM subscribers WHERE status = 'active' GROUP BY next_lesson`)
	if err != nil {
		return nil, fmt.Errorf("count subscribers by lesson: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&n, &count}, func() error { d.Funnel[n] = count; return nil }); err != nil {
		return nil, fmt.Errorf("count subscribers by lesson: %w", err)
	}
	var week time.Time
	from := WeekStart(now).AddDate(0, 0, -7*(weeks-1))
	rows, err = db.Pool.Query(ctx, `
		SELECT date_trunc('week', sent_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*)
		FROM deliveries WHERE status = 'sent' AND sent_at >= $1
		GROUP BY 1`, from)
	if err != nil {
		return nil, fmt.Errorf("count lessons sent by week: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&week, &count}, func() error { d.SentByWeek[week.UTC()] = count; return nil }); err != nil {
		return nil, fmt.Errorf("count lessons sent by week: %w", err)
	}
	if err := db.Pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE next_due_at < $1), count(*)
		FROM subscribers WHERE status = 'active' AND next_due_at < $2`,
		now.Add(24*time.Hour), now.Add(7*24*time.Hour)).Scan(&d.Due24h, &d.Due7d); err != nil {
		return nil, fmt.Errorf("count due subscribers: %w", err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status IN ('retrying', 'failed')`).Scan(&d.OpenDeliveriesN); err != nil {
		return nil, fmt.Errorf("count open deliveries: %w", err)
	}
	rows, err = db.Pool.Query(ctx, `
		SELECT d.id, d.round, d.lesson, d.revision_id, d.status, d.attempts, d.message_id, d.smtp_reply,
		       d.due_at, d.sent_at, d.updated_at, d.subscriber_id, COALESCE(s.email, ''), d.next_attempt_at, COALESCE(s.status, '')
		FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id
		WHERE d.status IN ('retrying', 'failed')
		ORDER BY d.updated_at DESC
		LIMIT $1`, maxOpenDeliveries)
	if err != nil {
		return nil, fmt.Errorf("load open deliveries: %w", err)
	}
	d.OpenDeliveries, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (OpenDelivery, error) {
		var o OpenDelivery
		err := r.Scan(&o.ID, &o.Round, &o.Lesson, &o.RevisionID, &o.Status, &o.Attempts, &o.MessageID, &o.SMTPReply,
			&o.DueAt, &o.SentAt, &o.UpdatedAt, &o.SubscriberID, &o.Email, &o.NextAttemptAt, &o.SubscriberState)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("load open deliveries: %w", err)
	}
	return d, nil
}

// WeekStart is 00:00 UTC on the Monday of t's week, as PostgreSQL's
// date_trunc('week') counts weeks.
func WeekStart(t time.Time) time.Time {
	t = t.UTC()
	days := (int(t.Weekday()) + 6) % 7
	y, m, d := t.Date()
	return time.Date(y, m, d-days, 0, 0, 0, 0, time.UTC)
}
