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

// suppress puts email on the suppression list, for reason, unless it is
// there already: from then on nothing mails it, whatever its reader's
// status says.
func suppress(ctx context.Context, tx pgx.Tx, email string, reason drip.ReportKind, reportID *int64, now time.Time) error {
	if _, err := tx.Exec(ctx, `INSERT INTO suppressions (email, reason, report_id, created_at) VALUES (lower($1), $2, $3, $4)
		ON CONFLICT (email) DO NOTHING`, email, reason, reportID, now); err != nil {
		return fmt.Errorf("suppress address: %w", err)
	}
	return nil
}

// Suppressed reports whether email is on the suppression list.
func (db *DB) Suppressed(ctx context.Context, email string) (bool, error) {
	return suppressed(ctx, db.Pool, email)
}

// suppressed is Suppressed on q, a pool or a transaction.
func suppressed(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, email string) (bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM suppressions WHERE email = lower($1))`, email).Scan(&ok); err != nil {
		return false, fmt.Errorf("check suppression: %w", err)
	}
	return ok, nil
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

// suppressionsSQL is a page of the suppression list: $1 the LIKE prefix,
// $2 the address the last page ended with, $3 the limit; the test that
// keeps it on suppressions_email_c_idx reads it through export_test.go.
const suppressionsSQL = `
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
	rows, err := db.Pool.Query(ctx, suppressionsSQL, args...)
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
