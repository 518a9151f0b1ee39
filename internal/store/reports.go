package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// RecordReports stores a batch of bounce and complaint reports and acts on
// each one not seen before, all in one transaction, so a crash either loses
// the whole batch (the provider retries it) or nothing. A one-time token
// seen before is drip.ErrReplay and changes nothing.
func (db *DB) RecordReports(ctx context.Context, now time.Time, b drip.ReportBatch) ([]drip.Recorded, error) {
	var out []drip.Recorded
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		if b.ReplayKey != "" {
			// Keys outlive any signature Mailgun would still accept.
			if _, err := tx.Exec(ctx, `DELETE FROM replay_keys WHERE received_at < $1`, now.Add(-drip.ReplayKeyLifetime)); err != nil {
				return fmt.Errorf("purge replay keys: %w", err)
			}
			tag, err := tx.Exec(ctx, `INSERT INTO replay_keys (provider, key, received_at) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, b.Provider, b.ReplayKey, now)
			if err != nil {
				return fmt.Errorf("record replay key: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return drip.ErrReplay
			}
		}
		targets := make([]reportTarget, len(b.Reports))
		var ids []int64
		for i, r := range b.Reports {
			t, err := matchReport(ctx, tx, r)
			if err != nil {
				return fmt.Errorf("match %s report %q: %w", r.Provider, r.ID, err)
			}
			targets[i] = t
			if t.subscriberID != 0 {
				ids = append(ids, t.subscriberID)
			}
		}
		// Every reader the batch names is locked at once, in id order, so
		// two batches naming the same readers cannot deadlock.
		slices.Sort(ids)
		if err := lockReaders(ctx, tx, slices.Compact(ids), targets); err != nil {
			return err
		}
		for i, r := range b.Reports {
			rec, fresh, err := recordReport(ctx, tx, r, targets[i], now)
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
	// recipient is the address the matched mail went to when that was not
	// the reader's own (an address-change mail); "" otherwise.
	recipient string
	email     string      // the reader's address, once locked
	status    drip.Status // the reader's status, once locked
}

// matchReport finds the reader by the Message-ID of a lesson or of mail
// from the outbox we sent, else, for a signed provider webhook only, by
// address. A bounce mailbox report must name a message of ours: its
// address is anyone's to write, the Message-ID (or VERP) is not.
func matchReport(ctx context.Context, tx pgx.Tx, r drip.Report) (reportTarget, error) {
	var t reportTarget
	if r.MessageID != "" {
		var id *int64
		err := tx.QueryRow(ctx, `
			SELECT subscriber_id, lesson, '' FROM deliveries WHERE message_id = $1 AND subscriber_id IS NOT NULL
			UNION ALL
			SELECT subscriber_id, NULL, recipient FROM outbox WHERE message_id = $1 AND subscriber_id IS NOT NULL
			LIMIT 1`, r.MessageID).Scan(&id, &t.lesson, &t.recipient)
		switch {
		case err == nil:
			t.subscriberID = *id
			return t, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return t, fmt.Errorf("match message id: %w", err)
		}
	}
	if r.Provider == drip.ProviderIMAP || r.Email == "" {
		return t, nil
	}
	err := tx.QueryRow(ctx, `SELECT id FROM subscribers WHERE `+byAddress, r.Email).Scan(&t.subscriberID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("match address: %w", err)
	}
	return t, nil
}

// lockReaders locks the readers ids (sorted) and fills in each target's
// address and status as locked.
func lockReaders(ctx context.Context, tx pgx.Tx, ids []int64, targets []reportTarget) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT id, email, status FROM subscribers WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return fmt.Errorf("lock subscribers: %w", err)
	}
	type row struct {
		email  string
		status drip.Status
	}
	locked := map[int64]row{}
	for rows.Next() {
		var id int64
		var r row
		if err := rows.Scan(&id, &r.email, &r.status); err != nil {
			rows.Close()
			return fmt.Errorf("lock subscribers: %w", err)
		}
		locked[id] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("lock subscribers: %w", err)
	}
	for i := range targets {
		if r, ok := locked[targets[i].subscriberID]; ok {
			targets[i].email, targets[i].status = r.email, r.status
		} else {
			targets[i].subscriberID = 0 // erased in between
		}
	}
	return nil
}

// about decides whose address a matched report is about: the reader's, or
// another one (the new address of an address change, an address the
// reader has since left, a forwarding target), which is suppressed but
// leaves the reader as they are.
func (t reportTarget) about(r drip.Report) (email string, reader bool) {
	if t.recipient != "" && !strings.EqualFold(t.recipient, t.email) {
		return t.recipient, false
	}
	if r.Email != "" && !strings.EqualFold(r.Email, t.email) {
		return r.Email, false
	}
	return t.email, true
}

// recordReport stores one report and acts on it; fresh is false when the
// provider's event id was stored before, and then nothing changes.
func recordReport(ctx context.Context, tx pgx.Tx, r drip.Report, t reportTarget, now time.Time) (rec drip.Recorded, fresh bool, err error) {
	rec.Report = r
	matched := t.subscriberID != 0
	var subID *int64
	email, reader := r.Email, false
	rec.Outcome = drip.OutcomeUnmatched
	if matched {
		subID, rec.SubscriberID = &t.subscriberID, t.subscriberID
		email, reader = t.about(r)
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
	// A bounce mailbox report that names no message of ours is only kept:
	// anyone may write one.
	if !matched && r.Provider == drip.ProviderIMAP {
		return rec, true, nil
	}
	kind := r.Kind
	if kind == drip.ReportSoft {
		// One message retried is one soft bounce, however many reports it
		// causes (Mailgun reports each attempt).
		var n int
		if err := tx.QueryRow(ctx, `
			SELECT count(DISTINCT COALESCE(NULLIF(message_id, ''), provider || '/' || event_id)) FROM reports
			WHERE kind = 'soft' AND received_at > $2 AND lower(email) = lower($1)`,
			email, now.Add(-drip.SoftBounceWindow)).Scan(&n); err != nil {
			return rec, false, fmt.Errorf("count soft bounces: %w", err)
		}
		if n < drip.SoftBounceLimit {
			if matched && reader {
				rec.Outcome = drip.OutcomeCounted
			}
			return rec, true, setOutcome(ctx, tx, reportID, rec.Outcome)
		}
	}
	if strings.Contains(email, "@") {
		if err := suppress(ctx, tx, email, kind, &reportID, now); err != nil {
			return rec, false, err
		}
	}
	if !matched {
		return rec, true, nil
	}
	detail := map[string]any{"provider": r.Provider, "kind": kind, "report": reportID, "reason": r.Reason}
	if !reader {
		// The new address of an address change bounced: forget it.
		if _, err := tx.Exec(ctx, `UPDATE subscribers SET pending_email = NULL, pending_email_at = NULL
			WHERE id = $1 AND lower(pending_email) = lower($2)`, t.subscriberID, email); err != nil {
			return rec, false, fmt.Errorf("drop bounced new address: %w", err)
		}
		detail["address"] = "other"
		return rec, true, addEvent(ctx, tx, now, t.subscriberID, "address_bounced", string(drip.ActorReport), detail)
	}
	c := drip.Change{Action: drip.ActHardBounce, Actor: drip.ActorReport, Now: now, Reply: r.Reason, Provider: r.Provider}
	if kind == drip.ReportComplaint {
		c.Action = drip.ActComplain
	}
	after, err := changeTx(ctx, tx, Ref{ID: t.subscriberID}, c, AdminAction{})
	switch {
	case errors.Is(err, drip.ErrNoChange):
		// Already getting no lessons, or done: the record of finishing the
		// course stays; the address is suppressed, queued mail dropped, and
		// the timeline says so.
		if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE subscriber_id = $1 AND status = 'pending'`, t.subscriberID); err != nil {
			return rec, false, fmt.Errorf("drop queued mail: %w", err)
		}
		ev := "bounced"
		if kind == drip.ReportComplaint {
			ev = "complained"
		}
		return rec, true, addEvent(ctx, tx, now, t.subscriberID, ev, string(drip.ActorReport), detail)
	case err != nil:
		return rec, false, fmt.Errorf("stop mail to subscriber: %w", err)
	}
	rec.Outcome = drip.OutcomeBounced
	if after.Status == drip.StatusUnsubscribed {
		rec.Outcome = drip.OutcomeUnsubscribed
	}
	return rec, true, setOutcome(ctx, tx, reportID, rec.Outcome)
}

func setOutcome(ctx context.Context, tx pgx.Tx, id int64, o drip.ReportOutcome) error {
	if _, err := tx.Exec(ctx, `UPDATE reports SET outcome = $2 WHERE id = $1`, id, o); err != nil {
		return fmt.Errorf("set report outcome: %w", err)
	}
	return nil
}

// ReportFilter narrows the admin's list of bounces and complaints.
type ReportFilter struct {
	Kind     drip.ReportKind // "" = any
	Provider drip.Provider   // "" = any
}

// ReportQuery is one page of the list, newest first.
type ReportQuery struct {
	ReportFilter
	// Before is the id the previous page ended with; 0 is the first page.
	Before int64
	Limit  int
}

// ReportRow is one stored report as the admin reads it, with the reader
// it matched as they are now.
type ReportRow struct {
	ID         int64
	Provider   drip.Provider
	Kind       drip.ReportKind
	Email      string // the reported address, as the report gave it
	Reason     string // the provider's diagnostic
	Lesson     *int   // nil: no lesson matched (other mail, or unmatched)
	Outcome    drip.ReportOutcome
	ReportedAt *time.Time
	ReceivedAt time.Time
	// SubscriberID is the matched reader, nil when none matched or they
	// were erased since; SubscriberEmail is their current address.
	SubscriberID    *int64
	SubscriberEmail string
}

// ReportPage is a page of reports; Next is the cursor of the next page, 0
// when this is the last.
type ReportPage struct {
	Reports []ReportRow
	Next    int64
}

// Reports returns a page of bounce and complaint reports, newest first.
// Ids grow with received_at (a report is stored when it arrives), so the
// keyset on the primary key pages as the list reads and the thousandth
// page costs what the first does.
func (db *DB) Reports(ctx context.Context, q ReportQuery) (ReportPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	var where []string
	var args []any
	if q.Kind != "" {
		args = append(args, q.Kind)
		where = append(where, `r.kind = $`+strconv.Itoa(len(args)))
	}
	if q.Provider != "" {
		args = append(args, q.Provider)
		where = append(where, `r.provider = $`+strconv.Itoa(len(args)))
	}
	if q.Before > 0 {
		args = append(args, q.Before)
		where = append(where, `r.id < $`+strconv.Itoa(len(args)))
	}
	cond := "TRUE"
	if len(where) > 0 {
		cond = strings.Join(where, " AND ")
	}
	args = append(args, q.Limit+1)
	rows, err := db.Pool.Query(ctx, `
		SELECT r.id, r.provider, r.kind, r.email, r.reason, r.lesson, r.outcome, r.reported_at, r.received_at,
		       s.id, COALESCE(s.email, '')
		FROM reports r LEFT JOIN subscribers s ON s.id = r.subscriber_id
		WHERE `+cond+`
		ORDER BY r.id DESC
		LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return ReportPage{}, fmt.Errorf("list reports: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReportRow, error) {
		var x ReportRow
		err := r.Scan(&x.ID, &x.Provider, &x.Kind, &x.Email, &x.Reason, &x.Lesson, &x.Outcome, &x.ReportedAt, &x.ReceivedAt,
			&x.SubscriberID, &x.SubscriberEmail)
		return x, err
	})
	if err != nil {
		return ReportPage{}, fmt.Errorf("list reports: %w", err)
	}
	list, last := keyset(list, q.Limit)
	p := ReportPage{Reports: list}
	if last != nil {
		p.Next = last.ID
	}
	return p, nil
}

// LessonReports counts the bounces and complaints about one lesson's mail.
type LessonReports struct {
	Hard, Soft, Complaint int
}

// reportsByLessonSQL is the dashboard's count of reports by lesson and
// kind; the test that keeps it on reports_lesson_kind_idx reads it
// through export_test.go.
const reportsByLessonSQL = `SELECT COALESCE(lesson, 0), kind, count(*) FROM reports GROUP BY lesson, kind`

// ReportsByLesson counts reports by the lesson they were about; key 0 is
// the reports about no lesson (confirmations and other mail, or nothing
// matched). One index-only scan of reports_lesson_kind_idx.
func (db *DB) ReportsByLesson(ctx context.Context) (map[int]LessonReports, error) {
	rows, err := db.Pool.Query(ctx, reportsByLessonSQL)
	if err != nil {
		return nil, fmt.Errorf("count reports by lesson: %w", err)
	}
	out := map[int]LessonReports{}
	var lesson, n int
	var kind drip.ReportKind
	_, err = pgx.ForEachRow(rows, []any{&lesson, &kind, &n}, func() error {
		c := out[lesson]
		switch kind {
		case drip.ReportHard:
			c.Hard += n
		case drip.ReportSoft:
			c.Soft += n
		case drip.ReportComplaint:
			c.Complaint += n
		}
		out[lesson] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count reports by lesson: %w", err)
	}
	return out, nil
}
