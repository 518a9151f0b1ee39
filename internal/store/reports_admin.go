package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

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

// ReportsByLessonSQL is the dashboard's count of reports by lesson and
// kind, exported for the test that keeps it on reports_lesson_kind_idx.
const ReportsByLessonSQL = `SELECT COALESCE(lesson, 0), kind, count(*) FROM reports GROUP BY lesson, kind`

// ReportsByLesson counts reports by the lesson they were about; key 0 is
// the reports about no lesson (confirmations and other mail, or nothing
// matched). One index-only scan of reports_lesson_kind_idx.
func (db *DB) ReportsByLesson(ctx context.Context) (map[int]LessonReports, error) {
	rows, err := db.Pool.Query(ctx, ReportsByLessonSQL)
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

// SuppressionQuery is one page of the suppression list, ordered by address.
type SuppressionQuery struct {
	Email string // the address starts with this, in any letter case
	// After is the address the previous page ended with; "" is the first page.
	After string
	Limit int
}

// Suppression is an address never to be mailed until the admin lifts it,
// with the report that put it there (nil when that report is gone).
type Suppression struct {
	Email     string
	Reason    drip.ReportKind
	CreatedAt time.Time
	ReportID  *int64
	// Of the report, when there is one.
	Provider     drip.Provider
	ReportReason string
}

// SuppressionPage is a page of suppressions and the cursor of the next
// one ("" when this is the last).
type SuppressionPage struct {
	Suppressions []Suppression
	Next         string
}

// SuppressionsSQL is a page of the suppression list: $1 the LIKE prefix,
// $2 the address the last page ended with, $3 the limit. Exported for the
// test that keeps it on suppressions_email_c_idx.
const SuppressionsSQL = `
	SELECT x.email, x.reason, x.created_at, x.report_id, COALESCE(r.provider, ''), COALESCE(r.reason, '')
	FROM suppressions x LEFT JOIN reports r ON r.id = x.report_id
	WHERE x.email COLLATE "C" LIKE $1 AND x.email COLLATE "C" > $2
	ORDER BY x.email COLLATE "C"
	LIMIT $3`

// Suppressions returns a page of the suppression list by keyset
// pagination along suppressions_email_c_idx, from the prefix searched.
func (db *DB) Suppressions(ctx context.Context, q SuppressionQuery) (SuppressionPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	args := []any{likePrefix(q.Email), strings.ToLower(q.After), q.Limit + 1}
	rows, err := db.Pool.Query(ctx, SuppressionsSQL, args...)
	if err != nil {
		return SuppressionPage{}, fmt.Errorf("list suppressions: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Suppression, error) {
		var s Suppression
		err := r.Scan(&s.Email, &s.Reason, &s.CreatedAt, &s.ReportID, &s.Provider, &s.ReportReason)
		return s, err
	})
	if err != nil {
		return SuppressionPage{}, fmt.Errorf("list suppressions: %w", err)
	}
	list, last := keyset(list, q.Limit)
	p := SuppressionPage{Suppressions: list}
	if last != nil {
		p.Next = last.Email
	}
	return p, nil
}

// LiftSuppression takes email off the suppression list, with its audit
// entry in the same transaction. It changes no reader: a bounced reader
// stays bounced and an unsubscribed one unsubscribed; the address may only
// sign up, be imported and be mailed again. drip.ErrNotFound when the
// address is not suppressed.
func (db *DB) LiftSuppression(ctx context.Context, email string, a AdminAction) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var reason drip.ReportKind
		var reportID *int64
		var created time.Time
		err := tx.QueryRow(ctx, `DELETE FROM suppressions WHERE email = lower($1) RETURNING reason, report_id, created_at`,
			email).Scan(&reason, &reportID, &created)
		if errors.Is(err, pgx.ErrNoRows) {
			return drip.ErrNotFound
		}
		if err != nil {
			return err
		}
		// The subject is the report that caused the suppression: the
		// address itself is personal data the audit log does not hold
		// (an erasure would leave it there), so Before names it only
		// through that report.
		return addAudit(ctx, tx, AuditEntry{At: a.At, Actor: a.Actor, Action: "suppression.lift", SubjectType: "report",
			SubjectID: reportID, IP: a.IP,
			Before: map[string]any{"suppressed": true, "reason": reason, "report": reportID, "since": created.UTC().Format(time.RFC3339)},
			After:  map[string]any{"suppressed": false}})
	})
	if err != nil && !errors.Is(err, drip.ErrNotFound) {
		return fmt.Errorf("lift suppression: %w", err)
	}
	return err
}
