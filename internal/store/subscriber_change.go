package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// Ref picks a subscriber. The reader acts through a link, which carries
// the generation of the subscriber's links: an old link finds no one. The
// admin and the system act on the row whatever its generation, so Gen is
// checked only for drip.ActorSubscriber.
type Ref struct {
	ID  int64
	Gen int
}

// Change is the one way a subscriber's standing changes, whoever asks: it
// locks the row, lets drip.Apply judge c, and writes the new state, its
// event and, for an admin, the audit entry, in one transaction. a names
// the admin (zero for the reader and the system). A refusal comes back as
// the *drip.Refused; a change already in effect writes nothing and returns
// the subscriber as they are.
func (db *DB) Change(ctx context.Context, ref Ref, c drip.Change, a AdminAction) (*drip.Subscriber, error) {
	var out *drip.Subscriber
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = changeTx(ctx, tx, ref, c, a)
		return err
	})
	var refused *drip.Refused
	switch {
	case err == nil, errors.Is(err, drip.ErrNoChange):
		return out, nil
	case errors.Is(err, drip.ErrNotFound), errors.As(err, &refused):
		return nil, err
	}
	return nil, fmt.Errorf("%s subscriber %d: %w", c.Action, ref.ID, err)
}

// changeTx is Change inside tx, for callers that write more in the same
// transaction (the ledger, for a bounce). On drip.ErrNoChange it returns
// the subscriber as locked.
func changeTx(ctx context.Context, tx pgx.Tx, ref Ref, c drip.Change, a AdminAction) (*drip.Subscriber, error) {
	before, err := lockSubscriber(ctx, tx, ref, c.Actor == drip.ActorSubscriber)
	if err != nil {
		return nil, err
	}
	if c.Action.NeedsLedger() {
		// A lesson being sent now, under a lease, has no ledger row yet
		// but counts as this round's: moving a reader to it starts a new
		// round, as moving them to a lesson already sent does.
		if err := tx.QueryRow(ctx, `
			SELECT COALESCE(max(lesson) FILTER (WHERE status = 'sent'), 0),
			       GREATEST(COALESCE(max(lesson) FILTER (WHERE round = $2), 0),
			                COALESCE((SELECT lesson FROM schedule WHERE subscriber_id = $1 AND round = $2 AND lease_until > $3), 0))
			FROM deliveries WHERE subscriber_id = $1`, before.ID, before.Round, c.Now).
			Scan(&c.Ledger.HighestSent, &c.Ledger.HighestThisRound); err != nil {
			return nil, fmt.Errorf("read the ledger: %w", err)
		}
	}
	next, ev, err := drip.Apply(*before, c)
	if err != nil {
		return before, err
	}
	if next.Round != before.Round || next.NextLesson != before.NextLesson || !sameTime(next.NextDueAt, before.NextDueAt) {
		if err := setPlace(ctx, tx, before.ID, next.Round, next.NextLesson, next.NextDueAt); err != nil {
			return nil, err
		}
	}
	if _, err := tx.Exec(ctx, `
		UPDATE subscribers SET status = $2, paused_until = $3, unsubscribed_at = $4, next_now_at = $5, updated_at = $6,
			-- A signup waiting for its confirmation is moot once the
			-- reader is back without it.
			signup_pending = CASE WHEN $2 IN ('pending', 'unsubscribed', 'bounced') THEN signup_pending END
		WHERE id = $1`,
		before.ID, next.Status, next.PausedUntil, next.UnsubscribedAt, next.NextNowAt, c.Now); err != nil {
		return nil, err
	}
	after, err := readSubscriber(ctx, tx, before.ID)
	if err != nil {
		return nil, err
	}
	if ev.CancelMail {
		// Unsent confirmations are moot once the reader has left.
		if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE subscriber_id = $1 AND status = 'pending'`, before.ID); err != nil {
			return nil, err
		}
	}
	if c.Actor == drip.ActorAdmin {
		return after, recordAdmin(ctx, tx, c.Now, before, after, string(c.Action), ev.Detail, a)
	}
	return after, addEvent(ctx, tx, c.Now, before.ID, ev.Kind, string(c.Actor), ev.Detail)
}

// lockSubscriber reads and locks the subscriber ref picks, by id and, when
// byGen, by the generation of their links, and their schedule row: the
// subscriber's row first, then the schedule's, the lock order of every
// writer. The pass's record moves a reader on holding only the schedule
// row, so a change that read the place unlocked could put the reader back
// on the lesson they were just sent.
func lockSubscriber(ctx context.Context, tx pgx.Tx, ref Ref, byGen bool) (*drip.Subscriber, error) {
	var id int64
	var err error
	if byGen {
		err = tx.QueryRow(ctx, `SELECT id FROM subscribers WHERE id = $1 AND token_gen = $2 FOR UPDATE`, ref.ID, ref.Gen).Scan(&id)
	} else {
		err = tx.QueryRow(ctx, `SELECT id FROM subscribers WHERE id = $1 FOR UPDATE`, ref.ID).Scan(&id)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, drip.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return scanSubscriber(tx.QueryRow(ctx, `SELECT `+subscriberColumns+` FROM subscribers s
		LEFT JOIN LATERAL (SELECT * FROM schedule WHERE subscriber_id = s.id FOR NO KEY UPDATE) p ON true
		WHERE id = $1`, id))
}

// sameTime reports whether a and b are both nil or the same instant.
func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// AdminAction is who does an admin action, from where, and when.
type AdminAction struct {
	Actor string // the admin's email
	IP    string
	At    time.Time
}

// recordAdmin records an admin's action on a subscriber as an event on
// their timeline ("admin.ACTION") and in the audit log
// ("subscriber.ACTION"), each with the state before and after, in the
// transaction that made the change.
func recordAdmin(ctx context.Context, tx pgx.Tx, now time.Time, before, after *drip.Subscriber, action string, detail map[string]any, a AdminAction) error {
	b, aft := snapshot(before), snapshot(after)
	own := maps.Clone(detail)
	d := maps.Clone(detail)
	if d == nil {
		d = map[string]any{}
	}
	d["before"], d["after"] = b, aft
	if err := addEvent(ctx, tx, now, before.ID, "admin."+action, a.Actor, d); err != nil {
		return err
	}
	withOwn := maps.Clone(aft)
	maps.Copy(withOwn, own)
	return addAudit(ctx, tx, AuditEntry{At: now, Actor: a.Actor, Action: "subscriber." + action,
		SubjectType: "subscriber", SubjectID: &before.ID, Before: b, After: withOwn, IP: a.IP})
}

// snapshot is the part of a subscriber an admin action changes, for the
// audit log's before and after. It holds no personal data.
func snapshot(s *drip.Subscriber) map[string]any {
	m := map[string]any{"status": s.Status, "next_lesson": s.NextLesson, "round": s.Round}
	if s.NextDueAt != nil {
		m["next_due_at"] = s.NextDueAt.UTC().Format(time.RFC3339)
	}
	return m
}
