package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// RecordReports stores a batch of bounce and complaint reports and acts on
// each one not seen before, all in one transaction, so a crash either loses
// the whole batch (the provider retries it) or nothing. A one-time token
// seen before is drip.ErrReplay and changes nothing.
func (db *DB) RecordReports(ctx context.Context, b drip.ReportBatch) ([]drip.Recorded, error) {
	now := db.Now()
	var out []drip.Recorded
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		if b.ReplayKey != "" {
			tag, err := tx.Exec(ctx, `INSERT INTO replay_keys (provider, key, received_at) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, b.Provider, b.ReplayKey, now)
			if err != nil {
				return fmt.Errorf("record replay key: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return drip.ErrReplay
			}
		}
		for _, r := range b.Reports {
			rec, fresh, err := recordReport(ctx, tx, r, now)
			if err != nil {
				return fmt.Errorf("record %s report %q: %w", r.Provider, r.ID, err)
			}
			if fresh {
				out = append(out, rec)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// reportTarget is the reader and lesson a report is about.
type reportTarget struct {
	subscriberID int64
	lesson       *int
	email        string
	status       drip.Status
}

// matchReport finds the reader by the Message-ID of a lesson or a
// confirmation we sent, else by address, and locks the reader's row (the
// lock order every write to a reader and its deliveries follows).
func matchReport(ctx context.Context, tx pgx.Tx, r drip.Report) (reportTarget, bool, error) {
	var t reportTarget
	var id *int64
	if r.MessageID != "" {
		err := tx.QueryRow(ctx, `
			SELECT subscriber_id, lesson FROM deliveries WHERE message_id = $1 AND subscriber_id IS NOT NULL
			UNION ALL
			SELECT subscriber_id, NULL FROM outbox WHERE message_id = $1 AND subscriber_id IS NOT NULL
			LIMIT 1`, r.MessageID).Scan(&id, &t.lesson)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return t, false, fmt.Errorf("match message id: %w", err)
		}
	}
	var err error
	if id != nil {
		err = tx.QueryRow(ctx, `SELECT id, email, status FROM subscribers WHERE id = $1 FOR UPDATE`, *id).Scan(&t.subscriberID, &t.email, &t.status)
	} else if r.Email != "" {
		err = tx.QueryRow(ctx, `SELECT id, email, status FROM subscribers WHERE lower(email) = lower($1) FOR UPDATE`, r.Email).Scan(&t.subscriberID, &t.email, &t.status)
	} else {
		return t, false, nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("lock subscriber: %w", err)
	}
	return t, true, nil
}

// recordReport stores one report and acts on it; fresh is false when the
// provider's event id was stored before, and then nothing changes.
func recordReport(ctx context.Context, tx pgx.Tx, r drip.Report, now time.Time) (rec drip.Recorded, fresh bool, err error) {
	rec.Report = r
	t, matched, err := matchReport(ctx, tx, r)
	if err != nil {
		return rec, false, err
	}
	rec.Outcome = drip.OutcomeUnmatched
	var subID *int64
	if matched {
		subID, rec.SubscriberID = &t.subscriberID, t.subscriberID
		rec.Outcome = drip.OutcomeNoChange
	}
	var reported *time.Time
	if !r.At.IsZero() {
		reported = &r.At
	}
	var reportID int64
	err = tx.QueryRow(ctx, `
		INSERT INTO reports (provider, event_id, kind, email, message_id, reason, subscriber_id, lesson, outcome, reported_at, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (provider, event_id) DO NOTHING
		RETURNING id`,
		r.Provider, r.ID, r.Kind, r.Email, r.MessageID, r.Reason, subID, t.lesson, rec.Outcome, reported, now).Scan(&reportID)
	if errors.Is(err, pgx.ErrNoRows) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("insert report: %w", err)
	}

	email := r.Email
	if matched {
		email = t.email
	}
	kind := r.Kind
	if kind == drip.ReportSoft {
		var n int
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FROM reports
			WHERE kind = 'soft' AND received_at > $3 AND (lower(email) = lower($1) OR subscriber_id = $2)`,
			email, subID, now.Add(-drip.SoftBounceWindow)).Scan(&n); err != nil {
			return rec, false, fmt.Errorf("count soft bounces: %w", err)
		}
		if n < drip.SoftBounceLimit {
			if matched {
				rec.Outcome = drip.OutcomeCounted
			}
			return rec, true, setOutcome(ctx, tx, reportID, rec.Outcome)
		}
	}
	if strings.Contains(email, "@") {
		if _, err := tx.Exec(ctx, `INSERT INTO suppressions (email, reason, report_id, created_at) VALUES (lower($1), $2, $3, $4)
			ON CONFLICT (email) DO NOTHING`, email, kind, reportID, now); err != nil {
			return rec, false, fmt.Errorf("suppress address: %w", err)
		}
	}
	if !matched {
		return rec, true, nil
	}
	to, eventKind := drip.StatusBounced, "bounced"
	if kind == drip.ReportComplaint {
		to, eventKind = drip.StatusUnsubscribed, "complained"
	}
	detail := map[string]any{"provider": r.Provider, "kind": kind, "report": reportID, "reason": r.Reason}
	if t.status == drip.StatusBounced || t.status == drip.StatusUnsubscribed {
		// Already getting nothing; the history still shows the report.
		return rec, true, addEvent(ctx, tx, now, t.subscriberID, eventKind, string(r.Provider), detail)
	}
	if _, err := tx.Exec(ctx, `
		UPDATE subscribers SET status = $2, next_due_at = NULL, paused_until = NULL, updated_at = $3,
			unsubscribed_at = CASE WHEN $2 = 'unsubscribed' THEN $3 ELSE unsubscribed_at END
		WHERE id = $1`, t.subscriberID, to, now); err != nil {
		return rec, false, fmt.Errorf("stop mail to subscriber: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE subscriber_id = $1 AND status = 'pending'`, t.subscriberID); err != nil {
		return rec, false, fmt.Errorf("drop queued mail: %w", err)
	}
	rec.Outcome = drip.OutcomeBounced
	if to == drip.StatusUnsubscribed {
		rec.Outcome = drip.OutcomeUnsubscribed
	}
	if err := setOutcome(ctx, tx, reportID, rec.Outcome); err != nil {
		return rec, false, err
	}
	return rec, true, addEvent(ctx, tx, now, t.subscriberID, eventKind, string(r.Provider), detail)
}

func setOutcome(ctx context.Context, tx pgx.Tx, id int64, o drip.ReportOutcome) error {
	if _, err := tx.Exec(ctx, `UPDATE reports SET outcome = $2 WHERE id = $1`, id, o); err != nil {
		return fmt.Errorf("set report outcome: %w", err)
	}
	return nil
}

// Suppressed reports whether email is on the suppression list.
func (db *DB) Suppressed(ctx context.Context, email string) (bool, error) {
	var ok bool
	if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM suppressions WHERE email = lower($1))`, email).Scan(&ok); err != nil {
		return false, fmt.Errorf("check suppression: %w", err)
	}
	return ok, nil
}
