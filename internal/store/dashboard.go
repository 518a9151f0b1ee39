package store

import (
	"context"
	"fmt"
	"strings"
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
	// Tried counts the readers who tried each lesson's action.
	Tried map[int]int
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

// The dashboard reads rollups kept with every write, so a view costs
// O(weeks charted + lessons), not O(history) nor O(subscribers): the
// ledger and the tries from ledger_counts and tried_counts (migration
// 00008), subscribers by status and lesson from subscriber_counts and its
// deltas (migration 00010). Only what is small by nature is counted from
// an index: pending signups (unconfirmed ones are deleted after a while)
// and the readers due within a day.
const (
	// sentByWeekSQL is lessons sent by week since $1, from the rollup.
	sentByWeekSQL = `
		SELECT week, sum(n) FROM ledger_counts
		WHERE status = 'sent' AND week >= $1
		GROUP BY week`
	// openCountSQL is how many deliveries failed or wait for a retry.
	openCountSQL = `
		SELECT COALESCE(sum(n), 0) FROM ledger_counts
		WHERE status IN ('retrying', 'failed') AND week = '-infinity'`
	// openListSQL is the newest $1 of them, read from the end of
	// deliveries_open_updated_idx: O($1).
	openListSQL = `
		SELECT d.id, d.round, d.lesson, d.revision_id, d.status, d.attempts, d.message_id, d.smtp_reply,
		       d.due_at, d.sent_at, d.updated_at, d.subscriber_id, COALESCE(s.email, ''), d.next_attempt_at, COALESCE(s.status, '')
		FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id
		WHERE d.status IN ('retrying', 'failed')
		ORDER BY d.updated_at DESC
		LIMIT $1`
	// triedSQL is how many readers tried each lesson, from the rollup.
	triedSQL = `SELECT lesson, sum(n) FROM tried_counts GROUP BY lesson HAVING sum(n) <> 0`
	// subscriberCountsSQL is subscribers by status and next lesson, from
	// the counts and the deltas not yet folded into them, and the pending
	// ones from subscribers_pending_idx.
	subscriberCountsSQL = `
		SELECT status, lesson, sum(n)::bigint FROM (
			SELECT status, lesson, n FROM subscriber_counts
			UNION ALL
			SELECT status, lesson, d FROM subscriber_count_deltas) c
		GROUP BY 1, 2 HAVING sum(n) <> 0
		UNION ALL
		SELECT 'pending', 0, count(*) FROM subscribers WHERE status = 'pending'`
	// dueSQL is the active readers due before $1 (a day ahead: a range of
	// schedule_due_idx, about a seventh of them) and those due at $2 (a
	// week ahead) or later or never, to subtract from all active readers:
	// a reader gets a lesson a week, so that range is nearly empty.
	dueSQL = `
		SELECT (SELECT count(*) FROM schedule WHERE active AND due_at < $1),
		       (SELECT count(*) FROM schedule WHERE active AND due_at >= $2)
		       + (SELECT count(*) FROM schedule WHERE active AND due_at IS NULL)`
)

// LoadDashboard counts what the dashboard shows as of now; weeks is how
// many weeks of sending to chart, ending with the current one.
func (db *DB) LoadDashboard(ctx context.Context, now time.Time, weeks int) (*Dashboard, error) {
	d := &Dashboard{ByStatus: map[drip.Status]int{}, Funnel: map[int]int{}, SentByWeek: map[time.Time]int{}}
	var count int
	if err := db.loadSubscriberCounts(ctx, d); err != nil {
		return nil, err
	}
	var week time.Time
	from := WeekStart(now).AddDate(0, 0, -7*(weeks-1))
	rows, err := db.Pool.Query(ctx, sentByWeekSQL, from)
	if err != nil {
		return nil, fmt.Errorf("count lessons sent by week: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&week, &count}, func() error { d.SentByWeek[week.UTC()] = count; return nil }); err != nil {
		return nil, fmt.Errorf("count lessons sent by week: %w", err)
	}
	var later int
	if err := db.Pool.QueryRow(ctx, dueSQL, now.Add(24*time.Hour), now.Add(7*24*time.Hour)).Scan(&d.Due24h, &later); err != nil {
		return nil, fmt.Errorf("count due subscribers: %w", err)
	}
	d.Due7d = d.ByStatus[drip.StatusActive] - later
	if err := db.Pool.QueryRow(ctx, openCountSQL).Scan(&d.OpenDeliveriesN); err != nil {
		return nil, fmt.Errorf("count open deliveries: %w", err)
	}
	rows, err = db.Pool.Query(ctx, openListSQL, maxOpenDeliveries)
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
	if d.Tried, err = db.countByLesson(ctx, "count tries by lesson", triedSQL); err != nil {
		return nil, err
	}
	return d, nil
}

// loadSubscriberCounts fills in d's subscribers by status and its funnel.
func (db *DB) loadSubscriberCounts(ctx context.Context, d *Dashboard) error {
	var status drip.Status
	var lesson, n int
	rows, err := db.Pool.Query(ctx, subscriberCountsSQL)
	if err != nil {
		return fmt.Errorf("count subscribers: %w", err)
	}
	_, err = pgx.ForEachRow(rows, []any{&status, &lesson, &n}, func() error {
		d.ByStatus[status] += n
		if status == drip.StatusActive {
			d.Funnel[lesson] += n
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("count subscribers: %w", err)
	}
	return nil
}

// FoldSubscriberCounts moves the subscriber count deltas written since the
// last fold into the counts, so that reading them stays O(statuses ×
// lessons). The counts are exact either way; every delivery pass folds
// (serve's SEND_SCHEDULE, and `twostep send`).
func (db *DB) FoldSubscriberCounts(ctx context.Context) error {
	if _, err := db.Pool.Exec(ctx, `SELECT subscriber_counts_fold()`); err != nil {
		return fmt.Errorf("fold subscriber counts: %w", err)
	}
	return nil
}

// ExplainDashboard returns the plan of every query LoadDashboard runs, by
// what it counts, for the scale test that keeps them off the ledger; with
// analyze, each is run and timed (EXPLAIN ANALYZE).
func (db *DB) ExplainDashboard(ctx context.Context, now time.Time, weeks int, analyze bool) (map[string]string, error) {
	explain := "EXPLAIN "
	if analyze {
		explain = "EXPLAIN (ANALYZE, BUFFERS) "
	}
	from := WeekStart(now).AddDate(0, 0, -7*(weeks-1))
	queries := []struct {
		name string
		sql  string
		args []any
	}{
		{"subscribers by status and lesson", subscriberCountsSQL, nil},
		{"lessons sent by week", sentByWeekSQL, []any{from}},
		{"due subscribers", dueSQL, []any{now.Add(24 * time.Hour), now.Add(7 * 24 * time.Hour)}},
		{"open deliveries", openCountSQL, nil},
		{"open deliveries listed", openListSQL, []any{maxOpenDeliveries}},
		{"tries by lesson", triedSQL, nil},
	}
	plans := make(map[string]string, len(queries))
	for _, q := range queries {
		rows, err := db.Pool.Query(ctx, explain+q.sql, q.args...)
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", q.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", q.name, err)
		}
		plans[q.name] = strings.Join(lines, "\n") + "\n"
	}
	return plans, nil
}

// WeekStart is 00:00 UTC on the Monday of t's week, as PostgreSQL's
// date_trunc('week') counts weeks.
func WeekStart(t time.Time) time.Time {
	t = t.UTC()
	days := (int(t.Weekday()) + 6) % 7
	y, m, d := t.Date()
	return time.Date(y, m, d-days, 0, 0, 0, 0, time.UTC)
}
