package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// OutboxItem is a queued transactional mail with what is needed to render it.
type OutboxItem struct {
	ID         int64
	Kind       drip.MailKind
	Attempts   int // including the current one
	CreatedAt  time.Time
	Recipient  string // "" means the subscriber's address
	Subscriber drip.Subscriber
}

func enqueue(ctx context.Context, tx pgx.Tx, subscriberID int64, kind drip.MailKind, at time.Time) error {
	return enqueueTo(ctx, tx, subscriberID, kind, "", at)
}

// enqueueTo queues mail to recipient instead of the subscriber's address.
func enqueueTo(ctx context.Context, tx pgx.Tx, subscriberID int64, kind drip.MailKind, recipient string, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO outbox (subscriber_id, kind, recipient, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $4)`,
		subscriberID, kind, recipient, at)
	if err != nil {
		return fmt.Errorf("queue %s mail: %w", kind, err)
	}
	return nil
}

// ClaimOutbox takes up to limit queued mails that are due, for lease. Other
// copies skip the claimed rows; a crashed sender's claims come back when the
// lease ends.
func (db *DB) ClaimOutbox(ctx context.Context, now, leaseNow time.Time, limit int, lease time.Duration) ([]OutboxItem, error) {
	var items []OutboxItem
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, claimOutboxPlan); err != nil {
			return err
		}
		// Planned afresh each time, like the delivery claim: a generic plan
		// cached while subscribers was small would scan the whole table.
		rows, err := tx.Query(ctx, claimOutboxSQL, db.planEach, now, limit, leaseNow.Add(lease), leaseNow)
		if err != nil {
			return err
		}
		items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxItem, error) {
			var it OutboxItem
			err := r.Scan(&it.ID, &it.Kind, &it.Attempts, &it.CreatedAt, &it.Recipient,
				&it.Subscriber.ID, &it.Subscriber.Email, &it.Subscriber.Name, &it.Subscriber.Status, &it.Subscriber.TokenGen,
				&it.Subscriber.Round, &it.Subscriber.TimeZone)
			return it, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return items, nil
}

// claimOutboxPlan keeps the claim on outbox_due_idx in its order, so it
// reads about the limit's rows however long the queue. The statistics
// lag a burst: planned from them, the queue looks short, and PostgreSQL
// read every due row and sorted them for each claim instead (a bitmap
// scan); with a backlog of 18,000 that was 110 ms a claim of 50, 15 times
// the ordered scan, and so a drain that slowed as its queue grew.
const claimOutboxPlan = `SET LOCAL enable_bitmapscan = off`

// claimOutboxSQL claims the due mails ($1 now, $2 limit, $3 lease end, $4
// the wall clock the leases are judged by) and returns each with its
// subscriber. Mail to a suppressed address fails instead.
const claimOutboxSQL = `
		WITH due AS (
			SELECT o.id, EXISTS (
				SELECT 1 FROM subscribers s, suppressions x
				WHERE s.id = o.subscriber_id AND x.email = lower(COALESCE(NULLIF(o.recipient, ''), s.email))) AS suppressed
			FROM outbox o
			WHERE status = 'pending' AND next_attempt_at <= $1
			  AND (claimed_until IS NULL OR claimed_until < $4)
			ORDER BY next_attempt_at
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		), dropped AS (
			-- Mail to a suppressed address is never sent: it fails, for
			-- the admin to see, whatever queued it.
			UPDATE outbox o SET status = 'failed', last_error = 'not sent: the address is suppressed (a hard bounce or a complaint)'
			FROM due WHERE o.id = due.id AND due.suppressed
		)
		UPDATE outbox o SET claimed_until = $3, attempts = o.attempts + 1
		FROM due, subscribers s LEFT JOIN schedule p ON p.subscriber_id = s.id
		WHERE o.id = due.id AND NOT due.suppressed AND s.id = o.subscriber_id
		RETURNING o.id, o.kind, o.attempts, o.created_at, o.recipient, s.id, s.email, s.name, s.status, s.token_gen,
			COALESCE(p.round, 1), s.time_zone`

// OutboxAccepted is a queued mail the server accepted, to be recorded sent.
type OutboxAccepted struct {
	ID        int64
	MessageID string // "" for a mail that no longer applied and was not sent
	At        time.Time
}

// OutboxSent records that the server accepted the mails, all in one
// statement: the outbox sends over many connections, and one write per
// mail would cost the database more than sending does. Recording a mail
// twice changes nothing, so a failed record may be retried.
func (db *DB) OutboxSent(ctx context.Context, mails []OutboxAccepted) error {
	if len(mails) == 0 {
		return nil
	}
	ids := make([]int64, len(mails))
	msgIDs := make([]string, len(mails))
	at := make([]time.Time, len(mails))
	for i, m := range mails {
		ids[i], msgIDs[i], at[i] = m.ID, m.MessageID, m.At
	}
	_, err := db.Pool.Exec(ctx, `
		UPDATE outbox o SET status = 'sent', sent_at = u.at, message_id = u.message_id, claimed_until = NULL, last_error = ''
		FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS u(id, message_id, at)
		WHERE o.id = u.id`, ids, msgIDs, at)
	if err != nil {
		return fmt.Errorf("record %d outbox mails sent: %w", len(mails), err)
	}
	return nil
}

// OutboxRetry puts the mail back in the queue until next, with why it failed.
// With next zero the mail is given up as failed at now.
func (db *DB) OutboxRetry(ctx context.Context, id int64, reason string, next, now time.Time) error {
	status := drip.MailPending
	if next.IsZero() {
		status = drip.MailFailed
		next = now
	}
	_, err := db.Pool.Exec(ctx, `
		UPDATE outbox SET status = $2, next_attempt_at = $3, last_error = $4, claimed_until = NULL
		WHERE id = $1`, id, status, next, reason)
	if err != nil {
		return fmt.Errorf("record outbox %d retry: %w", id, err)
	}
	return nil
}

// OutboxRelease hands claimed mails back untried, due at once: their claim
// and the attempt the claim counted are undone, so a copy still running (or
// the next start) sends them as if never claimed. A shutdown uses it for
// the mails it will not get to.
func (db *DB) OutboxRelease(ctx context.Context, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.Pool.Exec(ctx, `
		UPDATE outbox SET claimed_until = NULL, attempts = greatest(attempts - 1, 0), next_attempt_at = least(next_attempt_at, $2)
		WHERE id = ANY($1) AND status = 'pending'`, ids, now)
	if err != nil {
		return fmt.Errorf("hand back %d outbox mails: %w", len(ids), err)
	}
	return nil
}
