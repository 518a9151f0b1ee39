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

// claimSQL is the claim every pass runs ($1 the time it is due as of, $2
// limit, $3 lease end, $4 the time leases are judged at):
// due active subscribers and, for each, its 'sending' ledger row, in one
// statement. The partial index subscribers_due_idx (next_due_at WHERE
// status = 'active') makes it read only the due rows, so a pass costs
// O(due), not O(subscribers).
//
// The 'sending' row is the claim: a subscriber whose current lesson has a
// ledger row that may not be begun again — sent, bounced, given up, or
// being sent under a lease that has not ended — is not taken (one probe of
// the ledger's unique index). SKIP LOCKED lets copies claim side by side
// without waiting for each other, and should two copies still pick the same
// reader, the unique (subscriber, round, lesson) row lets only one begin
// it: the other gets the reader back with no Attempt. A crashed copy's
// rows are begun again once their lease ends. A suppressed address (a hard
// bounce or a complaint reported later) is never claimed, whatever its
// status says: however it became active again, it gets no lesson.
const claimSQL = `
	WITH claimed AS (
		SELECT ` + deliveryColumns + ` FROM subscribers s
		WHERE status = 'active' AND next_due_at <= $1
		  AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email = lower(s.email))
		  AND NOT EXISTS (
			SELECT 1 FROM deliveries d
			WHERE d.subscriber_id = s.id AND d.round = s.round AND d.lesson = s.next_lesson
			  AND NOT (d.status = 'retrying' OR (d.status = 'sending' AND d.lease_until < $4)))
		ORDER BY next_due_at
		LIMIT $2
		FOR UPDATE SKIP LOCKED
	), begun AS (
		INSERT INTO deliveries (subscriber_id, round, lesson, revision_id, status, attempts, due_at, lease_until, created_at, updated_at)
		SELECT c.id, c.round, c.next_lesson, l.revision_id, 'sending', 1, c.next_due_at, $3, $1, $1
		FROM claimed c JOIN lessons l ON l.number = c.next_lesson,
			` + asyncCommit + `
		ON CONFLICT (subscriber_id, round, lesson) DO UPDATE
			SET status = 'sending', attempts = deliveries.attempts + 1, revision_id = EXCLUDED.revision_id,
			    lease_until = EXCLUDED.lease_until, updated_at = EXCLUDED.updated_at
			WHERE deliveries.status = 'retrying'
			   OR (deliveries.status = 'sending' AND deliveries.lease_until < $4)
		RETURNING subscriber_id, id, attempts, created_at, due_at, revision_id
	)
	SELECT c.*, b.id, b.attempts, b.created_at, b.due_at, b.revision_id
	FROM claimed c LEFT JOIN begun b ON b.subscriber_id = c.id`

// Claim is one claimed subscriber and, when its lesson could be begun,
// the ledger row written for it.
type Claim struct {
	Sub        *drip.Subscriber // only what sending reads (deliveryColumns)
	Attempt    *Attempt         // nil: begun by another copy at the same moment, or no such lesson
	RevisionID int64            // the revision the ledger row records
	// LeaseUntil is when the claim ends: after it another copy may begin
	// the same delivery again.
	LeaseUntil time.Time
}

// ClaimAndBegin claims up to limit subscribers due at now and begins their
// ledger rows, leased until leaseUntil, in one statement: one round trip
// and one commit per batch. Leases are judged at leaseNow, the wall clock,
// which differs from now when a pass runs "as of" another time (`twostep
// send --now`): leases must mean the same to every copy. Rows are begun
// only for lessons that exist (a subscriber past the last lesson comes
// back with no Attempt, for the caller to complete). The commit does not
// wait for the disk: a 'sending' row lost in a crash only makes the reader
// due again, and every outcome is recorded with a synchronous commit that
// flushes these rows too.
func (db *DB) ClaimAndBegin(ctx context.Context, now time.Time, limit int, leaseNow, leaseUntil time.Time) ([]Claim, error) {
	// Planned afresh each time (see sentSQL): the ledger grows fast while
	// passes run.
	rows, err := db.Pool.Query(ctx, claimSQL, db.planEach, now, limit, leaseUntil, leaseNow)
	if err != nil {
		return nil, fmt.Errorf("claim due subscribers: %w", err)
	}
	claims, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Claim, error) {
		var sc subscriberScan
		var id, rev *int64
		var attempts *int
		var first, due *time.Time
		if err := r.Scan(sc.deliveryTargets(&id, &attempts, &first, &due, &rev)...); err != nil {
			return Claim{}, err
		}
		c := Claim{Sub: sc.subscriber(), LeaseUntil: leaseUntil}
		if id != nil {
			c.Attempt = &Attempt{DeliveryID: *id, Attempts: *attempts, FirstTry: *first, DueAt: *due}
			c.RevisionID = *rev
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim due subscribers: %w", err)
	}
	return claims, nil
}

// Unbegin hands back begun deliveries that were never tried (the pass
// stopped first, or their lease ran short): each is retried at once by the
// next pass, and its attempt does not count. Only a row still as this
// attempt left it is handed back: after a lease ended, another pass may
// have begun the same row again (one more attempt) and be sending it.
func (db *DB) Unbegin(ctx context.Context, as ...Attempt) error {
	if len(as) == 0 {
		return nil
	}
	ids := make([]int64, len(as))
	attempts := make([]int32, len(as))
	for i, a := range as {
		ids[i], attempts[i] = a.DeliveryID, int32(a.Attempts)
	}
	_, err := db.Pool.Exec(ctx, `
		UPDATE deliveries d SET status = 'retrying', attempts = d.attempts - 1, lease_until = NULL
		FROM unnest($1::bigint[], $2::int[]) AS u(id, attempts)
		WHERE d.id = u.id AND d.attempts = u.attempts AND d.status = 'sending'`, ids, attempts)
	if err != nil {
		return fmt.Errorf("hand back %d deliveries: %w", len(as), err)
	}
	return nil
}

// ExplainClaim returns the plan of the claim every pass runs, for the test
// that keeps it on its indexes.
func (db *DB) ExplainClaim(ctx context.Context, now time.Time, limit int) (string, error) {
	rows, err := db.Pool.Query(ctx, "EXPLAIN "+claimSQL, now, limit, now, now)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	return strings.Join(lines, "\n") + "\n", nil
}

// DueCount is how many active subscribers are due at now (the backlog).
func (db *DB) DueCount(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM subscribers s WHERE status = 'active' AND next_due_at <= $1
		AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email = lower(s.email))`, now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count due subscribers: %w", err)
	}
	return n, nil
}

// Attempt is one delivery attempt begun in the ledger.
type Attempt struct {
	DeliveryID int64
	Attempts   int       // including this one
	FirstTry   time.Time // when the ledger row was created
	DueAt      time.Time // when the lesson was due, for the next due time
}

// Delivered is a delivery the SMTP server accepted.
type Delivered struct {
	Sub       *drip.Subscriber
	Attempt   Attempt
	MessageID string
	Reply     string
	At        time.Time
	// NextDue is when the next lesson is due; nil after the last lesson.
	NextDue *time.Time
}

// sentSQL finalises a group of deliveries and moves their subscribers on,
// from parallel arrays: $1 delivery, $2 subscriber, $3 lesson, $4 round,
// $5 Message-ID, $6 reply, $7 sent at, $8 next due. Only a subscriber still
// on that lesson and round moves on: an admin's change during the send
// wins.
//
// It is planned for each group (db.planEach), never run from a
// cached generic plan: one made while the ledger was small — early in a
// new database's first pass — joins the group to deliveries by scanning
// the whole table, and kept while the ledger grows during the pass it made
// every record cost O(ledger) (BenchmarkPass at 100,000: ~2,200 buffers
// read per group of ~24, and half the throughput).
//
// Moving readers on is the one subscriber update that runs for every
// lesson, so it keeps the dashboard's subscriber counts itself (migration
// 00010): a delta per (status, lesson) it moves readers from and to,
// counted from the rows it really moved, instead of the row trigger's
// delta per reader (about 10 µs a lesson in BenchmarkLedger). It sets
// twostep.subscriber_counts for its own implicit transaction only.
const sentSQL = `
	WITH o AS (
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::int[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[])
			AS o(delivery_id, subscriber_id, lesson, round, message_id, reply, sent_at, next_due)
	), d AS (
		UPDATE deliveries SET status = 'sent', message_id = o.message_id, smtp_reply = o.reply, sent_at = o.sent_at,
			lease_until = NULL, next_attempt_at = NULL, updated_at = o.sent_at
		FROM o WHERE deliveries.id = o.delivery_id
	), moved AS (
		UPDATE subscribers s SET next_lesson = s.next_lesson + 1, last_sent_at = o.sent_at, next_due_at = o.next_due,
			updated_at = o.sent_at
		FROM o, (SELECT set_config('twostep.subscriber_counts', 'inline', true)) AS inline
		WHERE s.id = o.subscriber_id AND s.next_lesson = o.lesson AND s.round = o.round
		RETURNING s.status, s.next_lesson
	)
	INSERT INTO subscriber_count_deltas (status, lesson, d)
	SELECT status, lesson, sum(d) FROM (
		SELECT status, next_lesson AS lesson, 1 AS d FROM moved
		UNION ALL
		SELECT status, next_lesson - 1, -1 FROM moved) x
	WHERE status <> 'pending'
	GROUP BY 1, 2
	HAVING sum(d) <> 0`

// SentResult is what recording one accepted delivery did.
type SentResult struct {
	Err error
	// Completed: it was the reader's last lesson, and they finished the
	// course with it (not so when they left or were moved during the send).
	Completed bool
}

// Sent records deliveries the server accepted and moves each subscriber
// on: to the next lesson's due time, or to completed after the last one.
// The common case, however many deliveries, is one statement and one
// commit; a last lesson also queues the graduation mail, in a transaction
// of its own. The result for ds[i] is at [i]. Recording again what was
// recorded changes nothing, so a failed record may be retried.
//
// Like the claim, every write here locks the subscriber's row before the
// delivery's, so a claim and a record never wait for each other in a
// circle.
func (db *DB) Sent(ctx context.Context, ds []Delivered) []SentResult {
	out := make([]SentResult, len(ds))
	var (
		idx                  []int
		delivery, subscriber []int64
		lesson, round        []int32
		messageID, reply     []string
		at, next             []time.Time
	)
	for i, d := range ds {
		if d.NextDue == nil {
			out[i].Completed, out[i].Err = db.sentLast(ctx, d)
			continue
		}
		idx = append(idx, i)
		delivery = append(delivery, d.Attempt.DeliveryID)
		subscriber = append(subscriber, d.Sub.ID)
		lesson = append(lesson, int32(d.Sub.NextLesson))
		round = append(round, int32(d.Sub.Round))
		messageID = append(messageID, d.MessageID)
		reply = append(reply, d.Reply)
		at = append(at, d.At)
		next = append(next, *d.NextDue)
	}
	if len(idx) == 0 {
		return out
	}
	// The main statement reads moved, so the subscribers UPDATE runs
	// before the unreferenced data-modifying CTE d: subscribers are locked
	// before deliveries, as in the claim.
	if _, err := db.Pool.Exec(ctx, sentSQL, db.planEach, delivery, subscriber, lesson, round, messageID, reply, at, next); err != nil {
		err = fmt.Errorf("record %d deliveries sent: %w", len(idx), err)
		for _, i := range idx {
			out[i].Err = err
		}
	}
	return out
}

// sentLast records the delivery of a subscriber's last lesson: it
// completes the course and queues the graduation mail, together. It
// reports whether the reader completed the course.
func (db *DB) sentLast(ctx context.Context, d Delivered) (bool, error) {
	sub, now := d.Sub, d.At
	completed := false
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		completed = false
		// Only a subscriber still active and on this lesson completes: an
		// unsubscribe or an admin's change during the send wins.
		var status drip.Status
		err := tx.QueryRow(ctx, `
			UPDATE subscribers SET next_lesson = next_lesson + 1, last_sent_at = $3, next_due_at = NULL,
				status = CASE WHEN status = 'active' THEN 'completed' ELSE status END,
				updated_at = $3
			WHERE id = $1 AND next_lesson = $2 AND round = $4
			RETURNING status`,
			sub.ID, sub.NextLesson, now, sub.Round).Scan(&status)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		completed = err == nil && status == drip.StatusCompleted
		if _, err := tx.Exec(ctx, `
			UPDATE deliveries SET status = 'sent', message_id = $2, smtp_reply = $3, sent_at = $4,
				lease_until = NULL, next_attempt_at = NULL, updated_at = $4
			WHERE id = $1`, d.Attempt.DeliveryID, d.MessageID, d.Reply, now); err != nil {
			return err
		}
		if !completed {
			return nil // moved or left during the send: no graduation
		}
		// The closing email goes through the outbox, in this same
		// transaction, so it is sent exactly when the course ends.
		if err := enqueue(ctx, tx, sub.ID, drip.MailGraduation, now); err != nil {
			return err
		}
		return addEvent(ctx, tx, now, sub.ID, "completed", "system", nil)
	})
	if err != nil {
		return false, fmt.Errorf("record delivery %d sent: %w", d.Attempt.DeliveryID, err)
	}
	return completed, nil
}

// Failure is how an attempt ended when the server did not accept it.
type Failure struct {
	// Status is the ledger status it ends in: retrying, failed (given up)
	// or bounced (the address is dead).
	Status drip.DeliveryStatus
	Reply  string
	// RetryAt is when to try again, when retrying.
	RetryAt time.Time
}

// Failed records an attempt that did not deliver. A retry leaves the
// subscriber on the same lesson, due again at RetryAt; a delivery given up
// stays failed with the subscriber on that lesson for the admin to see; a
// bounce stops all mail to the subscriber.
func (db *DB) Failed(ctx context.Context, sub *drip.Subscriber, a Attempt, f Failure, now time.Time) error {
	status := f.Status
	var next *time.Time // when a retry is due; nil for an end
	if status == drip.DeliveryRetrying {
		next = &f.RetryAt
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// The subscriber first, then the delivery: the claim's lock order.
		if status == drip.DeliveryBounced {
			c := drip.Change{Action: drip.ActBounce, Actor: drip.ActorSystem, Now: now,
				Lesson: sub.NextLesson, Round: sub.Round, Reply: f.Reply}
			// A reader erased during the send has nothing left to mark.
			if _, err := changeTx(ctx, tx, Ref{ID: sub.ID}, c, AdminAction{}); err != nil && !errors.Is(err, drip.ErrNotFound) {
				return err
			}
			// Whatever the reader does next (resume, sign up again after
			// an erasure), the dead address is not mailed again.
			if err := suppress(ctx, tx, sub.Email, drip.ReportHard, nil, now); err != nil {
				return err
			}
		} else {
			if _, err := tx.Exec(ctx, `
				UPDATE subscribers SET next_due_at = $2, updated_at = $3
				WHERE id = $1 AND next_lesson = $4 AND round = $5`,
				sub.ID, next, now, sub.NextLesson, sub.Round); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `
			UPDATE deliveries SET status = $2, smtp_reply = $3, next_attempt_at = $4, lease_until = NULL, updated_at = $5
			WHERE id = $1`, a.DeliveryID, status, f.Reply, next, now); err != nil {
			return err
		}
		if status == drip.DeliveryFailed {
			return addEvent(ctx, tx, now, sub.ID, "delivery_failed", "system", map[string]any{"lesson": sub.NextLesson, "reply": f.Reply})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record delivery %d %s: %w", a.DeliveryID, status, err)
	}
	return nil
}

// Complete marks a subscriber who has no lesson left as completed.
func (db *DB) Complete(ctx context.Context, sub *drip.Subscriber, now time.Time) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE subscribers SET status = 'completed', next_due_at = NULL, updated_at = $2
			WHERE id = $1 AND status = 'active'`, sub.ID, now)
		if err != nil {
			return fmt.Errorf("complete subscriber %d: %w", sub.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return addEvent(ctx, tx, now, sub.ID, "completed", "system", nil)
	})
}

// SenderPausedUntil is when a policy refusal's pause of all sending ends;
// zero when not paused. Kept in the database so every copy pauses.
func (db *DB) SenderPausedUntil(ctx context.Context) (time.Time, error) {
	var v string
	err := db.Pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'sender_paused_until'`).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read sender pause: %w", err)
	}
	t, err := time.Parse(pauseFormat, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("read sender pause %q: %w", v, err)
	}
	return t, nil
}

// pauseFormat sorts as text in time order (fixed width, UTC), which the
// GREATEST in PauseSender relies on.
const pauseFormat = "2006-01-02T15:04:05.000000000Z"

// PauseSender stops every copy's sending until until; an existing later
// pause is kept.
func (db *DB) PauseSender(ctx context.Context, until time.Time) error {
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO settings (key, value) VALUES ('sender_paused_until', $1)
		ON CONFLICT (key) DO UPDATE SET value = GREATEST(settings.value, EXCLUDED.value)`,
		until.UTC().Format(pauseFormat))
	if err != nil {
		return fmt.Errorf("pause sender: %w", err)
	}
	return nil
}

// NotApplicableError means an admin action does not fit the delivery's
// current state. The message is for the admin.
type NotApplicableError string

func (e NotApplicableError) Error() string { return string(e) }

// RetryDelivery makes a failed or retrying delivery due now: the ledger
// row becomes 'retrying' (which the next pass takes at once) and its
// subscriber, when still active on that lesson and round, is due now.
func (db *DB) RetryDelivery(ctx context.Context, id int64, a AdminAction) error {
	now := a.At
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var d DeliveryRecord
		var subID *int64
		err := tx.QueryRow(ctx, `
			SELECT id, round, lesson, status, attempts, subscriber_id FROM deliveries WHERE id = $1 FOR UPDATE`, id).
			Scan(&d.ID, &d.Round, &d.Lesson, &d.Status, &d.Attempts, &subID)
		if errors.Is(err, pgx.ErrNoRows) {
			return drip.ErrNotFound
		}
		if err != nil {
			return err
		}
		if d.Status != drip.DeliveryFailed && d.Status != drip.DeliveryRetrying {
			return NotApplicableError("This delivery is " + string(d.Status) + "; only a failed or retrying one can be retried.")
		}
		if subID == nil {
			return NotApplicableError("The subscriber of this delivery was erased.")
		}
		tag, err := tx.Exec(ctx, `
			UPDATE subscribers SET next_due_at = $2, updated_at = $2
			WHERE id = $1 AND status = 'active' AND next_lesson = $3 AND round = $4`, *subID, now, d.Lesson, d.Round)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return NotApplicableError("The subscriber is no longer active on this lesson, so there is nothing to retry.")
		}
		if _, err := tx.Exec(ctx, `
			UPDATE deliveries SET status = 'retrying', next_attempt_at = $2, updated_at = $2 WHERE id = $1`, id, now); err != nil {
			return err
		}
		detail := map[string]any{"delivery": id, "lesson": d.Lesson, "was": d.Status}
		if err := addEvent(ctx, tx, now, *subID, "admin.retry", a.Actor, detail); err != nil {
			return err
		}
		return addAudit(ctx, tx, AuditEntry{At: now, Actor: a.Actor, Action: "delivery.retry", SubjectType: "delivery",
			SubjectID: &id, Before: map[string]any{"status": d.Status, "attempts": d.Attempts},
			After: map[string]any{"status": drip.DeliveryRetrying, "subscriber": *subID, "lesson": d.Lesson}, IP: a.IP})
	})
	var na NotApplicableError
	if err != nil && !errors.Is(err, drip.ErrNotFound) && !errors.As(err, &na) {
		return fmt.Errorf("retry delivery %d: %w", id, err)
	}
	return err
}
