package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is one admin action: who did what to which subject, when,
// and the state before and after.
type AuditEntry struct {
	ID          int64
	At          time.Time
	Actor       string
	Action      string // e.g. "subscriber.pause", "lesson.save"
	SubjectType string // "subscriber", "lesson", "delivery", "import", "session"
	SubjectID   *int64
	Before      map[string]any
	After       map[string]any
	IP          string
}

// Audit writes one entry outside any other change (sign-in, test sends).
func (db *DB) Audit(ctx context.Context, e AuditEntry) error {
	return db.inTx(ctx, func(tx pgx.Tx) error { return addAudit(ctx, tx, e) })
}

// addAudit writes an entry in the transaction of the change it records,
// so that no change is made without its entry, nor an entry without its
// change.
func addAudit(ctx context.Context, tx pgx.Tx, e AuditEntry) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO admin_audit (at, actor, action, subject_type, subject_id, before, after, ip)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.At, e.Actor, e.Action, e.SubjectType, e.SubjectID, e.Before, e.After, e.IP)
	if err != nil {
		return fmt.Errorf("write audit entry %s: %w", e.Action, err)
	}
	return nil
}

// AuditQuery selects a page of the audit log, newest first.
type AuditQuery struct {
	SubjectType string // "" = every subject
	SubjectID   int64  // 0 = every subject of the type
	Before      int64  // only entries with a smaller id (the next page); 0 = from the newest
	Limit       int
}

// AuditLog returns a page of entries and whether there are more.
func (db *DB) AuditLog(ctx context.Context, q AuditQuery) ([]AuditEntry, bool, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT id, at, actor, action, subject_type, subject_id, COALESCE(before, '{}'), COALESCE(after, '{}'), ip
		FROM admin_audit
		WHERE ($1 = '' OR subject_type = $1)
		  AND ($2 = 0 OR subject_id = $2)
		  AND ($3 = 0 OR id < $3)
		ORDER BY id DESC
		LIMIT $4`, q.SubjectType, q.SubjectID, q.Before, q.Limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("load audit log: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.SubjectType, &e.SubjectID, &e.Before, &e.After, &e.IP)
		return e, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("load audit log: %w", err)
	}
	entries, last := keyset(entries, q.Limit)
	return entries, last != nil, nil
}
