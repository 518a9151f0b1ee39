package store_test

import (
	"context"
	"flag"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twostep/twostep/internal/dbtest"
)

var narrowSQL = flag.String("narrow-sql", "", "SQL BenchmarkLedgerNarrowSchedule runs after creating its schema")

// narrowSchema is a design not built yet, for BenchmarkLedgerNarrowSchedule:
// where each reader is in the course kept in a narrow table of its own
// (schedule: reader, round, lesson, due time, lease), so that neither the
// claim nor the record writes a new version of the wide subscribers row
// and its six index entries; the claim is a lease on the schedule row (an
// in-place update, no ledger row yet), and the record inserts the ledger
// row as sent and moves the schedule row on. ledger2 is a copy of the
// deliveries ledger with its indexes, its foreign key to subscribers and
// its count triggers.
const narrowSchema = `
CREATE TABLE schedule (subscriber_id bigint PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
  round int NOT NULL, lesson int NOT NULL, due_at timestamptz, lease_until timestamptz, attempts int NOT NULL DEFAULT 0) WITH (fillfactor = 70);
CREATE INDEX schedule_due_idx ON schedule (due_at);
CREATE INDEX schedule_lesson_idx ON schedule (lesson, subscriber_id);
CREATE TABLE ledger2 (LIKE deliveries INCLUDING ALL);
ALTER TABLE ledger2 ADD FOREIGN KEY (subscriber_id) REFERENCES subscribers (id) ON DELETE SET NULL;
CREATE TRIGGER l2_counts_insert AFTER INSERT ON ledger2
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_counts_apply();
CREATE TRIGGER l2_counts_update AFTER UPDATE ON ledger2
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_counts_apply();
`

// narrowClaim leases up to $2 due readers ($1 as of, $3 lease end, $4
// leases judged at) and returns what the current claim returns.
const narrowClaim = `
WITH u AS (
  UPDATE schedule SET lease_until = $3, attempts = schedule.attempts + 1
  WHERE schedule.subscriber_id = ANY (ARRAY(
    SELECT sc.subscriber_id FROM schedule sc
    WHERE sc.due_at <= $1 AND (sc.lease_until IS NULL OR sc.lease_until < $4)
      AND NOT EXISTS (SELECT 1 FROM subscribers s JOIN suppressions x ON x.email = lower(s.email) WHERE s.id = sc.subscriber_id)
    ORDER BY sc.due_at LIMIT $2 FOR UPDATE SKIP LOCKED))
  RETURNING schedule.subscriber_id, schedule.round, schedule.lesson, schedule.due_at, schedule.attempts
)
SELECT s.id, email, name, status, time_zone, send_weekday, send_hour, s.round, next_lesson, next_due_at, token_gen,
	u.round, u.lesson, u.due_at, u.attempts,
	(SELECT l.revision_id FROM lessons l WHERE l.number = u.lesson)
FROM u CROSS JOIN LATERAL (SELECT * FROM subscribers s WHERE s.id = u.subscriber_id OFFSET 0) s,
 (SELECT set_config('synchronous_commit', 'off', true)) AS async`

// narrowSent records a group as the current record does, from arrays.
const narrowSent = `
WITH o AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::bigint[], $9::timestamptz[], $10::int[])
   AS o(subscriber_id, lesson, round, message_id, reply, sent_at, next_due, revision_id, due_at, attempts)),
l AS (INSERT INTO ledger2 (subscriber_id, round, lesson, revision_id, status, attempts, due_at, message_id, smtp_reply, created_at, sent_at, updated_at)
      SELECT subscriber_id, round, lesson, revision_id, 'sent', attempts, due_at, message_id, reply, sent_at, sent_at, sent_at FROM o
      ON CONFLICT (subscriber_id, round, lesson) DO UPDATE SET status = 'sent', message_id = EXCLUDED.message_id, smtp_reply = EXCLUDED.smtp_reply,
        sent_at = EXCLUDED.sent_at, updated_at = EXCLUDED.updated_at),
moved AS (UPDATE schedule SET lesson = schedule.lesson + 1, due_at = o.next_due, lease_until = NULL, attempts = 0
  FROM o WHERE schedule.subscriber_id = o.subscriber_id AND schedule.lesson = o.lesson AND schedule.round = o.round
  RETURNING schedule.lesson)
INSERT INTO subscriber_count_deltas (status, lesson, d)
SELECT 'active', lesson, sum(d) FROM (SELECT lesson, 1 AS d FROM moved UNION ALL SELECT lesson - 1, -1 FROM moved) x GROUP BY 1, 2`

// BenchmarkLedgerNarrowSchedule is BenchmarkLedger for the design of
// narrowSchema, on the same readers, claims of 200 and records of 34: the
// measured prize of moving the schedule out of the subscribers row, before
// anyone builds it. -narrow-sql runs SQL after narrowSchema (an index
// dropped, a trigger or foreign key removed), to see what each costs.
//
//	go test ./internal/store/ -run '^$' -bench 'BenchmarkLedger$|BenchmarkLedgerNarrowSchedule' -benchtime 2x
func BenchmarkLedgerNarrowSchedule(b *testing.B) {
	ctx := context.Background()
	base := dbtest.URL(b)
	setup := oneConn(b, base)
	ledgerSetup(b, setup)
	if _, err := setup.Pool.Exec(ctx, narrowSchema+*narrowSQL); err != nil {
		b.Fatal(err)
	}
	claimDB, sentDB := oneConn(b, base), oneConn(b, base)
	n := *ledgerN
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	seed := func() {
		seedLedgerReaders(b, setup, n, t0.Add(-time.Minute))
		for _, sql := range []string{`TRUNCATE ledger2`, `INSERT INTO schedule (subscriber_id, round, lesson, due_at) SELECT id, round, next_lesson, next_due_at FROM subscribers`,
			`VACUUM ANALYZE schedule, ledger2`, `CHECKPOINT`} {
			if _, err := setup.Pool.Exec(ctx, sql); err != nil {
				b.Fatal(err)
			}
		}
	}
	measureLedger(b, claimDB, sentDB, seed, func() (msgs int) {
		for {
			rows, err := claimDB.Pool.Query(ctx, narrowClaim, pgx.QueryExecModeExec, t0, 200, t0.Add(time.Hour), t0)
			if err != nil {
				b.Fatal(err)
			}
			type cl struct {
				id, rev          int64
				lesson, round, a int32
				due              time.Time
			}
			var cls []cl
			for rows.Next() {
				v, err := rows.Values()
				if err != nil {
					b.Fatal(err)
				}
				cls = append(cls, cl{id: v[0].(int64), round: v[11].(int32), lesson: v[12].(int32), due: v[13].(time.Time), a: v[14].(int32), rev: v[15].(int64)})
			}
			if rows.Err() != nil {
				b.Fatal(rows.Err())
			}
			if len(cls) == 0 {
				break
			}
			next := t0.Add(7 * 24 * time.Hour)
			for i := 0; i < len(cls); i += 34 {
				g := cls[i:min(i+34, len(cls))]
				var sid, rev []int64
				var les, rnd, att []int32
				var mid, rep []string
				var at, nx, due []time.Time
				for _, c := range g {
					sid, rev = append(sid, c.id), append(rev, c.rev)
					les, rnd, att = append(les, c.lesson), append(rnd, c.round), append(att, c.a)
					mid, rep = append(mid, strconv.FormatInt(c.id, 10)+"@twostep.example"), append(rep, "250 2.0.0 Ok: queued as ABC")
					at, nx, due = append(at, t0), append(nx, next), append(due, c.due)
				}
				if _, err := sentDB.Pool.Exec(ctx, narrowSent, pgx.QueryExecModeExec, sid, les, rnd, mid, rep, at, nx, rev, due, att); err != nil {
					b.Fatal(err)
				}
				msgs += len(g)
			}
		}
		return msgs
	})
}
