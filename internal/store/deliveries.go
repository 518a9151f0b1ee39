package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// claimSQL is the claim every pass runs ($1 the time it is due as of, $2
// limit, $3 lease end, $4 the time leases are judged at): due active
// subscribers, each leased until $3, in one statement. The partial index
// schedule_due_idx (due_at WHERE active) makes it read only the due rows,
// so a pass costs O(due), not O(subscribers).
//
// The lease is the claim (migration 00016): an in-place update of the
// reader's narrow schedule row, and no ledger row until the attempt ends.
// A reader leased by a pass whose lease has not ended is not taken, nor one
// whose current lesson has a ledger row that may not be begun again (sent,
// bounced or given up: one probe of the ledger's unique index). SKIP LOCKED
// lets copies claim side by side without waiting for each other (the
// lease finds its rows by their keys, an array: joined to the CTE, the
// planner would read the whole schedule to hash it); a copy
// that reaches a row another has just leased sees the lease and passes it
// by. A crashed copy's readers are claimed again once their lease ends. A
// suppressed address (a hard bounce or a complaint reported later) is never
// claimed, whatever its status says: however it became active again, it
// gets no lesson.
const claimSQL = `
	WITH due AS (
		SELECT p.subscriber_id, s.id, s.email, s.name, s.status, s.time_zone, s.send_weekday, s.send_hour, s.token_gen
		FROM schedule p JOIN subscribers s ON s.id = p.subscriber_id
		WHERE p.active AND p.due_at <= $1 AND (p.lease_until IS NULL OR p.lease_until < $4)
		  AND s.status = 'active'
		  AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email = lower(s.email))
		  AND NOT EXISTS (
			SELECT 1 FROM deliveries d
			WHERE d.subscriber_id = p.subscriber_id AND d.round = p.round AND d.lesson = p.lesson
			  AND d.status <> 'retrying')
		ORDER BY p.due_at
		LIMIT $2
		FOR UPDATE OF p SKIP LOCKED
	), leased AS (
		UPDATE schedule p SET lease_until = $3, attempts = p.attempts + 1
		FROM ` + asyncCommit + `
		WHERE p.subscriber_id = ANY (ARRAY(SELECT subscriber_id FROM due))
		RETURNING p.*
	)
	SELECT ` + deliveryColumns + `, p.attempts,
		CASE WHEN p.attempts = 1 THEN $1 ELSE COALESCE((SELECT d.created_at FROM deliveries d
			WHERE d.subscriber_id = p.subscriber_id AND d.round = p.round AND d.lesson = p.lesson), $1) END,
		l.revision_id
	FROM leased p JOIN due s ON s.id = p.subscriber_id
	LEFT JOIN lessons l ON l.number = p.lesson`

// Claim is one claimed subscriber and, when their lesson exists, the
// attempt to send it.
type Claim struct {
	Sub     *drip.Subscriber // only what sending reads (deliveryColumns)
	Attempt *Attempt         // nil: no such lesson (past the last one)
}

// ClaimAndBegin claims up to limit subscribers due at now, leased until
// leaseUntil, in one statement: one round trip and one commit per batch.
// Leases are judged at leaseNow, the wall clock, which differs from now
// when a pass runs "as of" another time (`twostep send --now`): leases must
// mean the same to every copy. A subscriber past the last lesson comes back
// with no Attempt, for the caller to complete. The commit does not wait for
// the disk: a lease lost in a crash only makes the reader due again, and
// every outcome is recorded with a synchronous commit that flushes it too.
func (db *DB) ClaimAndBegin(ctx context.Context, now time.Time, limit int, leaseNow, leaseUntil time.Time) ([]Claim, error) {
	// Planned afresh each time, never from a cached generic plan: one made
	// while the ledger was small, early in a new database's first pass,
	// scanned it for every reader it probed, and kept while the ledger grew
	// during the pass it made every claim cost O(ledger) (BenchmarkPass at
	// 100,000: half the throughput).
	rows, err := db.Pool.Query(ctx, claimSQL, db.planEach, now, limit, leaseUntil, leaseNow)
	if err != nil {
		return nil, fmt.Errorf("claim due subscribers: %w", err)
	}
	claims, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Claim, error) {
		var sc subscriberScan
		var a Attempt
		var rev *int64
		if err := r.Scan(sc.deliveryTargets(&a.Attempts, &a.FirstTry, &rev)...); err != nil {
			return Claim{}, err
		}
		c := Claim{Sub: sc.subscriber()}
		if rev != nil {
			a.RevisionID, a.LeaseUntil = *rev, leaseUntil
			if c.Sub.NextDueAt != nil {
				a.DueAt = *c.Sub.NextDueAt
			}
			c.Attempt = &a
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim due subscribers: %w", err)
	}
	return claims, nil
}

// Unbegin hands back claimed attempts that were never tried (the pass
// stopped first, or their lease ran short): each reader is claimed again at
// once by the next pass, and the attempt does not count. Only a lease still
// as this attempt left it is handed back: after a lease ended, another pass
// may have claimed the same reader again and be sending to them.
func (db *DB) Unbegin(ctx context.Context, cs ...Claim) error {
	var ids []int64
	var attempts []int32
	var leases []time.Time
	for _, c := range cs {
		if c.Attempt != nil {
			ids, attempts, leases = append(ids, c.Sub.ID), append(attempts, int32(c.Attempt.Attempts)), append(leases, c.Attempt.LeaseUntil)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := db.Pool.Exec(ctx, `
		UPDATE schedule p SET lease_until = NULL, attempts = p.attempts - 1
		FROM unnest($1::bigint[], $2::int[], $3::timestamptz[]) AS u(id, attempts, lease)
		WHERE p.subscriber_id = u.id AND p.attempts = u.attempts AND p.lease_until = u.lease`, ids, attempts, leases)
	if err != nil {
		return fmt.Errorf("hand back %d deliveries: %w", len(ids), err)
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
	err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM schedule p JOIN subscribers s ON s.id = p.subscriber_id
		WHERE p.active AND p.due_at <= $1 AND s.status = 'active'
		AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email = lower(s.email))`, now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count due subscribers: %w", err)
	}
	return n, nil
}

// Attempt is one claimed attempt to send a reader's current lesson.
type Attempt struct {
	Attempts   int       // including this one
	FirstTry   time.Time // when the first attempt of this lesson was claimed
	DueAt      time.Time // when the lesson was due, for the next due time
	RevisionID int64     // the revision of the lesson to send, which the ledger records
	// LeaseUntil is when the claim ends: after it another copy may claim
	// the reader again, and Unbegin and Failed touch only a lease still
	// as it was.
	LeaseUntil time.Time
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

// outcomeSQL writes the ledger row of an attempt that ended ($1
// subscriber, $2 round, $3 lesson, $4 revision, $5 status, $6 attempts, $7
// due, $8 Message-ID, $9 reply, $10 next attempt, $11 first try, $12 sent
// at, $13 now; no subscriber for one erased during the send, whose row
// names no one): the row is written once, when the attempt ends, or made
// final from 'retrying'. A row another pass already ended (after this
// one's lease ran out) stays as it is.
const outcomeSQL = `
	INSERT INTO deliveries AS d (subscriber_id, round, lesson, revision_id, status, attempts, due_at, message_id, smtp_reply,
		next_attempt_at, created_at, sent_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
	ON CONFLICT (subscriber_id, round, lesson) DO UPDATE SET ` + outcomeUpdate

// outcomeUpdate is how a later attempt's end updates the row of a lesson
// that was retrying, in outcomeSQL and sentSQL alike.
const outcomeUpdate = `status = EXCLUDED.status, attempts = EXCLUDED.attempts, revision_id = EXCLUDED.revision_id,
		message_id = EXCLUDED.message_id, smtp_reply = EXCLUDED.smtp_reply, next_attempt_at = EXCLUDED.next_attempt_at,
		sent_at = EXCLUDED.sent_at, updated_at = EXCLUDED.updated_at
	WHERE d.status = 'retrying'`

// writeOutcome writes the ledger row of sub's attempt a, ended as status;
// erased: sub was erased during the send, and the row names no one and,
// as the erasure left their other rows, keeps no SMTP reply (servers
// quote the address in it).
func writeOutcome(ctx context.Context, tx pgx.Tx, sub *drip.Subscriber, erased bool, a Attempt, status drip.DeliveryStatus,
	messageID, reply string, next, sentAt *time.Time, now time.Time) error {
	var who *int64
	if erased {
		reply = ""
	} else {
		who = &sub.ID
	}
	_, err := tx.Exec(ctx, outcomeSQL, who, int32(sub.Round), int32(sub.NextLesson), a.RevisionID, status,
		int32(a.Attempts), a.DueAt, messageID, reply, next, a.FirstTry, sentAt, now)
	return err
}

// sentSQL records a group of deliveries the server accepted and moves
// their subscribers on, from parallel arrays: $1 subscriber, $2 lesson, $3
// round, $4 attempts, $5 revision, $6 due, $7 first try, $8 Message-ID, $9
// reply, $10 sent at, $11 next due. The ledger row is written once, as
// sent (outcomeSQL's rule). Only a reader still on that lesson and round
// moves on: an admin's change during the send wins.
//
// It touches no subscriber row, only the narrow schedule rows: it moves
// each reader still on the lesson (moved) and locks the group's other rows
// (kept: a reader an admin moved during the send), so that the ledger
// insert comes after every row of the group is held, and the rows are
// taken in key order (Sent sorts the group). That lock is what every other
// writer of the reader waits for: a status change writes the row's active
// flag, and an erasure deletes the row (so the ledger row it nulls is
// already there). A subscriber erased before the record leaves a ledger
// row that names no one and keeps no SMTP reply, as an erasure leaves
// their others. The rows moved are locked by their update alone.
//
// Its plan may be cached (the pgx default): it finds every row by key,
// through its indexes, and reads no table that grows during a pass. The
// claim, which probes the ledger, is planned afresh each time (see
// claimSQL's caller): a plan made while the ledger was small scanned it.
//
// It is the one write that runs for every lesson, so it keeps the
// dashboard's counts itself, and sets twostep.ledger_counts and
// twostep.subscriber_counts to 'inline' for its own implicit transaction,
// which the triggers that would count the same rows read:
//   - the ledger's (migration 00008): each row it wrote is a lesson sent in
//     its week, and one it made final from 'retrying' (the new version of
//     an updated row holds a lock in xmax; an inserted one does not) is one
//     retry fewer. The two statement triggers an upsert fires cost ~10 µs a
//     message in BenchmarkLedger.
//   - the subscribers' (migration 00016), for the readers still active: a
//     delta per lesson it moves them from and to, counted from the rows it
//     really moved, instead of the row trigger's delta per reader (about
//     10 µs a lesson). The row trigger still counts a reader who left
//     during the send, from their status.
var sentSQL = sentRecord(`ON CONFLICT (subscriber_id, round, lesson) DO UPDATE SET ` + outcomeUpdate)

// sentFirstSQL is sentSQL for first attempts, which mostly find no ledger
// row of their lesson: a plain insert. An upsert probes the unique index
// before it inserts and confirms its row after, which cost 2.5 µs a message
// in BenchmarkLedger, a tenth of the record.
var sentFirstSQL = sentRecord("")

// sentRecord is sentSQL with onConflict as the ledger insert's rule.
func sentRecord(onConflict string) string {
	return `
	WITH o AS (
		SELECT o.* FROM unnest($1::bigint[], $2::int[], $3::int[], $4::int[], $5::bigint[], $6::timestamptz[], $7::timestamptz[],
				$8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[])
			AS o(subscriber_id, lesson, round, attempts, revision_id, due_at, first_try, message_id, reply, sent_at, next_due),
			(SELECT set_config('twostep.ledger_counts', 'inline', true), set_config('twostep.subscriber_counts', 'inline', true)) AS inline
	), moved AS (
		UPDATE schedule p SET lesson = p.lesson + 1, due_at = o.next_due, last_sent_at = o.sent_at,
			lease_until = NULL, attempts = 0
		FROM o
		WHERE p.subscriber_id = o.subscriber_id AND p.lesson = o.lesson AND p.round = o.round
		RETURNING p.subscriber_id, p.active, p.lesson
	), kept AS (
		SELECT p.subscriber_id FROM schedule p
		WHERE p.subscriber_id = ANY (ARRAY(SELECT subscriber_id FROM o EXCEPT ALL SELECT subscriber_id FROM moved))
		ORDER BY p.subscriber_id FOR NO KEY UPDATE OF p
	), l AS (
		INSERT INTO deliveries AS d (subscriber_id, round, lesson, revision_id, status, attempts, due_at, message_id, smtp_reply,
			created_at, sent_at, updated_at)
		SELECT h.subscriber_id, o.round, o.lesson, o.revision_id, 'sent', o.attempts, o.due_at, o.message_id,
			CASE WHEN h.subscriber_id IS NULL THEN '' ELSE o.reply END, o.first_try, o.sent_at, o.sent_at
		FROM o LEFT JOIN (SELECT subscriber_id FROM moved UNION ALL SELECT subscriber_id FROM kept) h ON h.subscriber_id = o.subscriber_id
		` + onConflict + `
		RETURNING d.sent_at, d.xmax = 0 AS fresh
	), counted AS (
		INSERT INTO ledger_counts AS c (status, week, shard, n)
		SELECT status, week, pg_backend_pid() % 8, sum(n) FROM (
			SELECT 'sent' AS status, ledger_counts_week('sent', sent_at) AS week, 1 AS n FROM l
			UNION ALL
			SELECT 'retrying', '-infinity', -1 FROM l WHERE NOT fresh) x
		GROUP BY 1, 2 ORDER BY 1, 2
		ON CONFLICT (status, week, shard) DO UPDATE SET n = c.n + EXCLUDED.n
	)
	INSERT INTO subscriber_count_deltas (status, lesson, d)
	SELECT 'active', lesson, sum(d) FROM (
		SELECT lesson, 1 AS d FROM moved WHERE active
		UNION ALL
		SELECT lesson - 1, -1 FROM moved WHERE active) x
	GROUP BY 1, 2
	HAVING sum(d) <> 0`
}

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
func (db *DB) Sent(ctx context.Context, ds []Delivered) []SentResult {
	// One statement moves each reader once: a reader twice in a group (a
	// pass takes each reader once, so only a caller's mistake) is recorded
	// by a statement of its own.
	if i := repeated(ds); i > 0 {
		return append(db.Sent(ctx, ds[:i]), db.Sent(ctx, ds[i:])...)
	}
	out := make([]SentResult, len(ds))
	var (
		idx                  []int
		subscriber, revision []int64
		lesson, round, tries []int32
		messageID, reply     []string
		due, first, at, next []time.Time
	)
	for i, d := range ds {
		if d.NextDue == nil {
			out[i].Completed, out[i].Err = db.sentLast(ctx, d)
			continue
		}
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return out
	}
	// In key order: the statement locks the rows as the arrays list them.
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(ds[a].Sub.ID, ds[b].Sub.ID) })
	for _, i := range idx {
		d := ds[i]
		subscriber = append(subscriber, d.Sub.ID)
		lesson = append(lesson, int32(d.Sub.NextLesson))
		round = append(round, int32(d.Sub.Round))
		tries = append(tries, int32(d.Attempt.Attempts))
		revision = append(revision, d.Attempt.RevisionID)
		due = append(due, d.Attempt.DueAt)
		first = append(first, d.Attempt.FirstTry)
		messageID = append(messageID, d.MessageID)
		reply = append(reply, d.Reply)
		at = append(at, d.At)
		next = append(next, *d.NextDue)
	}
	// First attempts are inserted plainly: a retry counts on, and a move
	// back to a lesson starts a new round. A few still meet their row — a
	// record written again after a commit whose reply was lost, a first
	// attempt whose lease ended while another copy sent and recorded the
	// lesson, one handed back before migration 00016 (attempts 0 and a
	// retrying row) — and the unique violation rolls the whole statement
	// back: the group is written again as the upsert.
	args := []any{subscriber, lesson, round, tries, revision, due, first, messageID, reply, at, next}
	retried := slices.ContainsFunc(tries, func(n int32) bool { return n != 1 })
	var err error
	if !retried {
		_, err = db.Pool.Exec(ctx, sentFirstSQL, args...)
	}
	if retried || isViolation(err, "deliveries_subscriber_id_round_lesson_key") {
		_, err = db.Pool.Exec(ctx, sentSQL, args...)
	}
	if err != nil {
		err = fmt.Errorf("record %d deliveries sent: %w", len(idx), err)
		for _, i := range idx {
			out[i].Err = err
		}
	}
	return out
}

// repeated is the index of the first delivery in ds to a reader an earlier
// one went to, or -1.
func repeated(ds []Delivered) int {
	seen := make(map[int64]bool, len(ds))
	for i, d := range ds {
		if seen[d.Sub.ID] {
			return i
		}
		seen[d.Sub.ID] = true
	}
	return -1
}

// sentLast records the delivery of a subscriber's last lesson: it
// completes the course and queues the graduation mail, together. It
// reports whether the reader completed the course.
func (db *DB) sentLast(ctx context.Context, d Delivered) (bool, error) {
	sub, now := d.Sub, d.At
	completed := false
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		completed = false
		var status drip.Status
		err := tx.QueryRow(ctx, `SELECT status FROM subscribers WHERE id = $1 FOR UPDATE`, sub.ID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			// Erased during the send: the ledger row names no one.
			return writeOutcome(ctx, tx, sub, true, d.Attempt,
				drip.DeliverySent, d.MessageID, d.Reply, nil, &now, now)
		}
		if err != nil {
			return err
		}
		// Only a subscriber still active and on this lesson completes: an
		// unsubscribe or an admin's change during the send wins. The
		// schedule row before the ledger's, as in sentSQL.
		tag, err := tx.Exec(ctx, `
			UPDATE schedule SET lesson = lesson + 1, last_sent_at = $2, due_at = NULL, lease_until = NULL, attempts = 0
			WHERE subscriber_id = $1 AND lesson = $3 AND round = $4`, sub.ID, now, int32(sub.NextLesson), int32(sub.Round))
		if err != nil {
			return err
		}
		if err := writeOutcome(ctx, tx, sub, false, d.Attempt, drip.DeliverySent, d.MessageID, d.Reply, nil, &now, now); err != nil {
			return err
		}
		if tag.RowsAffected() == 0 || status != drip.StatusActive {
			return nil // moved or left during the send: no graduation
		}
		if _, err := tx.Exec(ctx, `UPDATE subscribers SET status = 'completed', updated_at = $2 WHERE id = $1`, sub.ID, now); err != nil {
			return err
		}
		completed = true
		// The closing email goes through the outbox, in this same
		// transaction, so it is sent exactly when the course ends.
		if err := enqueue(ctx, tx, sub.ID, drip.MailGraduation, now); err != nil {
			return err
		}
		return addEvent(ctx, tx, now, sub.ID, "completed", "system", nil)
	})
	if err != nil {
		return false, fmt.Errorf("record lesson %d of subscriber %d sent: %w", sub.NextLesson, sub.ID, err)
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
		// The subscriber first, then their schedule and the ledger: the
		// lock order of every change.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM subscribers WHERE id = $1 FOR UPDATE`, sub.ID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			// Erased during the send: the ledger row names no one.
			return writeOutcome(ctx, tx, sub, true, a, status, "", f.Reply, next, nil, now)
		}
		if err != nil {
			return err
		}
		if status == drip.DeliveryBounced {
			c := drip.Change{Action: drip.ActBounce, Actor: drip.ActorSystem, Now: now,
				Lesson: sub.NextLesson, Round: sub.Round, Reply: f.Reply}
			if _, err := changeTx(ctx, tx, Ref{ID: sub.ID}, c, AdminAction{}); err != nil {
				return err
			}
			// Whatever the reader does next (resume, sign up again after
			// an erasure), the dead address is not mailed again.
			if err := suppress(ctx, tx, sub.Email, drip.ReportHard, nil, now); err != nil {
				return err
			}
		} else {
			// Only while the attempt is still this pass's: after its lease
			// ended another pass may have claimed the reader and be sending
			// (clearing that lease would let a third send too), and a reader
			// moved meanwhile has no retry of this lesson coming. Either way
			// what this attempt ends is moot, and its row would only mislead.
			tag, err := tx.Exec(ctx, `
				UPDATE schedule SET due_at = $2, lease_until = NULL
				WHERE subscriber_id = $1 AND lesson = $3 AND round = $4 AND lease_until = $5 AND attempts = $6`,
				sub.ID, next, int32(sub.NextLesson), int32(sub.Round), a.LeaseUntil, int32(a.Attempts))
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return nil
			}
		}
		if err := writeOutcome(ctx, tx, sub, false, a, status, "", f.Reply, next, nil, now); err != nil {
			return err
		}
		if status == drip.DeliveryFailed {
			return addEvent(ctx, tx, now, sub.ID, "delivery_failed", "system", map[string]any{"lesson": sub.NextLesson, "reply": f.Reply})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record lesson %d of subscriber %d %s: %w", sub.NextLesson, sub.ID, status, err)
	}
	return nil
}

// Complete marks a subscriber who has no lesson left as completed.
func (db *DB) Complete(ctx context.Context, sub *drip.Subscriber, now time.Time) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		// Only a reader still where the claim found them: one moved
		// meanwhile has a lesson again.
		tag, err := tx.Exec(ctx, `
			UPDATE subscribers SET status = 'completed', updated_at = $2
			WHERE id = $1 AND status = 'active'
			  AND EXISTS (SELECT 1 FROM schedule WHERE subscriber_id = $1 AND lesson = $3 AND round = $4)`,
			sub.ID, now, int32(sub.NextLesson), int32(sub.Round))
		if err != nil {
			return fmt.Errorf("complete subscriber %d: %w", sub.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE schedule SET due_at = NULL, lease_until = NULL, attempts = 0 WHERE subscriber_id = $1`, sub.ID); err != nil {
			return fmt.Errorf("complete subscriber %d: %w", sub.ID, err)
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
		// The subscriber first, then their schedule row, then the ledger
		// row: the lock order of every writer (see sentSQL).
		err := tx.QueryRow(ctx, `
			SELECT s.id FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id JOIN schedule p ON p.subscriber_id = s.id
			WHERE d.id = $1 FOR UPDATE OF s FOR NO KEY UPDATE OF p`, id).Scan(&subID)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		err = tx.QueryRow(ctx, `
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
			UPDATE schedule SET due_at = $2
			WHERE subscriber_id = $1 AND active AND lesson = $3 AND round = $4`, *subID, now, d.Lesson, d.Round)
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
