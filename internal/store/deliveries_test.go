package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

// claimed is an active reader of a two-lesson course, claimed for lesson 1.
func claimed(t *testing.T, db *store.DB) store.Claim {
	t.Helper()
	ctx := context.Background()
	files := []store.LessonFile{{Number: 1, Source: []byte("lesson one")}, {Number: 2, Source: []byte("lesson two")}}
	if _, err := db.SyncLessons(ctx, files, now); err != nil {
		t.Fatal(err)
	}
	signedUp(t, db, "ann@example.com", true)
	claims, err := db.ClaimAndBegin(ctx, now.Add(time.Minute), 10, now, now.Add(time.Hour))
	if err != nil || len(claims) != 1 || claims[0].Attempt == nil {
		t.Fatalf("claim: %v, %+v", err, claims)
	}
	return claims[0]
}

// accepted is claim c's lesson, accepted by the server at at as
// Message-ID id; next is when the next lesson is due (nil: it was the
// last).
func accepted(c store.Claim, id string, at time.Time, next *time.Time) store.Delivered {
	return store.Delivered{Sub: c.Sub, Attempt: *c.Attempt, MessageID: id, Reply: "250 ok", At: at, NextDue: next}
}

// recorded records ds sent and fails t when any of them was not.
func recorded(t *testing.T, db *store.DB, ds ...store.Delivered) []store.SentResult {
	t.Helper()
	res := db.Sent(context.Background(), ds)
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	return res
}

func TestABounceMarksTheReaderAndTheLedgerRowBouncedAndRecordsIt(t *testing.T) {
	db := dbtest.New(t)
	c := claimed(t, db)
	f := store.Failure{Status: drip.DeliveryBounced, Reply: "550 5.1.1 no such user"}
	if err := db.Failed(context.Background(), c.Sub, *c.Attempt, f, now); err != nil {
		t.Fatal(err)
	}
	s, _ := db.SubscriberByID(context.Background(), c.Sub.ID)
	if s.Status != drip.StatusBounced || s.NextDueAt != nil {
		t.Fatalf("reader %s due %v", s.Status, s.NextDueAt)
	}
	if n := count(t, db, `SELECT count(*) FROM deliveries WHERE subscriber_id = $1 AND lesson = 1 AND status = 'bounced' AND smtp_reply = $2`,
		c.Sub.ID, f.Reply); n != 1 {
		t.Fatal("ledger row not bounced")
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE subscriber_id = $1 AND kind = 'bounced' AND actor = 'system' AND detail->>'lesson' = '1'`,
		c.Sub.ID); n != 1 {
		t.Fatalf("%d bounced events", n)
	}
}

func TestARetryLeavesTheReaderOnTheLessonDueAtTheRetry(t *testing.T) {
	db := dbtest.New(t)
	c := claimed(t, db)
	retry := now.Add(2 * time.Minute)
	f := store.Failure{Status: drip.DeliveryRetrying, Reply: "451 try later", RetryAt: retry}
	if err := db.Failed(context.Background(), c.Sub, *c.Attempt, f, now); err != nil {
		t.Fatal(err)
	}
	s, _ := db.SubscriberByID(context.Background(), c.Sub.ID)
	if s.Status != drip.StatusActive || s.NextLesson != 1 || s.NextDueAt == nil || !s.NextDueAt.Equal(retry) {
		t.Fatalf("reader %s on %d due %v", s.Status, s.NextLesson, s.NextDueAt)
	}
	if n := count(t, db, `SELECT count(*) FROM deliveries WHERE subscriber_id = $1 AND lesson = 1 AND status = 'retrying' AND next_attempt_at = $2 AND attempts = 1`,
		c.Sub.ID, retry); n != 1 {
		t.Fatal("ledger row not retrying at the retry time")
	}
	if n := count(t, db, `SELECT count(*) FROM schedule WHERE subscriber_id = $1 AND lease_until IS NULL AND attempts = 1`, c.Sub.ID); n != 1 {
		t.Fatal("the retry kept its lease or lost its count of attempts")
	}
}

func TestAnAcceptedLessonIsSentInTheLedgerAndMovesTheReaderOn(t *testing.T) {
	db := dbtest.New(t)
	c := claimed(t, db)
	next := now.Add(7 * 24 * time.Hour)
	res := db.Sent(context.Background(), []store.Delivered{{Sub: c.Sub, Attempt: *c.Attempt, MessageID: "<m@x>", Reply: "250 ok", At: now, NextDue: &next}})
	if res[0].Err != nil || res[0].Completed {
		t.Fatalf("result %+v", res[0])
	}
	s, _ := db.SubscriberByID(context.Background(), c.Sub.ID)
	if s.NextLesson != 2 || s.NextDueAt == nil || !s.NextDueAt.Equal(next) || s.LastSentAt == nil {
		t.Fatalf("reader on %d due %v", s.NextLesson, s.NextDueAt)
	}
	if n := count(t, db, `SELECT count(*) FROM deliveries WHERE subscriber_id = $1 AND lesson = 1 AND status = 'sent' AND message_id = '<m@x>' AND attempts = 1`, c.Sub.ID); n != 1 {
		t.Fatal("ledger row not sent")
	}
	if n := count(t, db, `SELECT count(*) FROM schedule WHERE subscriber_id = $1 AND lease_until IS NULL AND attempts = 0`, c.Sub.ID); n != 1 {
		t.Fatal("the next lesson kept the lease or the attempts of this one")
	}
}

// The record counts the lessons it writes itself, not through the ledger's
// triggers: a lesson sent at its first try is one more sent, and one sent
// at a retry is also one retry fewer.
func TestTheRecordKeepsTheLedgerRollupExactForFreshAndRetriedLessons(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	ann := claimed(t, db) // lesson 1, first try
	retry := now.Add(2 * time.Minute)
	if err := db.Failed(ctx, ann.Sub, *ann.Attempt, store.Failure{Status: drip.DeliveryRetrying, Reply: "451 later", RetryAt: retry}, now); err != nil {
		t.Fatal(err)
	}
	signedUp(t, db, "bob@example.com", true)
	claims, err := db.ClaimAndBegin(ctx, retry, 10, retry, retry.Add(time.Hour))
	if err != nil || len(claims) != 2 {
		t.Fatalf("claimed %d: %v", len(claims), err)
	}
	next := now.Add(7 * 24 * time.Hour)
	var ds []store.Delivered
	for _, c := range claims {
		ds = append(ds, accepted(c, "<"+c.Sub.Email+">", retry, &next))
	}
	recorded(t, db, ds...)
	if n := count(t, db, `SELECT count(*) FROM deliveries WHERE status = 'sent'`); n != 2 {
		t.Fatalf("%d sent, want ann's retried lesson and bob's first", n)
	}
	if n := rollupDrift(t, db); n != 0 {
		t.Fatalf("the ledger rollup is off in %d counts", n)
	}
	d, err := db.LoadDashboard(ctx, retry, 12)
	if err != nil {
		t.Fatal(err)
	}
	if d.OpenDeliveriesN != 0 {
		t.Fatalf("the dashboard shows %d open deliveries after the retry was sent", d.OpenDeliveriesN)
	}
}

// A first attempt is written as a plain insert. One handed back before
// migration 00016 carried attempts 0 beside a retrying ledger row into the
// schedule (made here by hand), so its next claim is a first attempt that
// meets its row: that record is written again as the upsert, and the
// lesson is recorded sent once, counted once.
func TestAFirstAttemptAtALessonWithALedgerRowIsRecordedOverIt(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	ann := claimed(t, db)
	retry := now.Add(2 * time.Minute)
	if err := db.Failed(ctx, ann.Sub, *ann.Attempt, store.Failure{Status: drip.DeliveryRetrying, Reply: "451 later", RetryAt: retry}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE schedule SET attempts = 0 WHERE subscriber_id = $1`, ann.Sub.ID); err != nil {
		t.Fatal(err)
	}
	claims, err := db.ClaimAndBegin(ctx, retry, 10, retry, retry.Add(time.Hour))
	if err != nil || len(claims) != 1 || claims[0].Attempt == nil || claims[0].Attempt.Attempts != 1 || claims[0].Sub.NextLesson != 1 {
		t.Fatalf("claim %+v: %v; want lesson 1 at its first attempt again", claims, err)
	}
	if n := count(t, db, `SELECT count(*) FROM deliveries WHERE subscriber_id = $1 AND lesson = 1 AND status = 'retrying'`, ann.Sub.ID); n != 1 {
		t.Fatal("the retrying row is gone before the record")
	}
	next := now.Add(7 * 24 * time.Hour)
	recorded(t, db, accepted(claims[0], "<m@x>", retry, &next))
	if n := count(t, db, `SELECT count(*) FROM deliveries WHERE subscriber_id = $1 AND lesson = 1 AND status = 'sent' AND message_id = '<m@x>'`, ann.Sub.ID); n != 1 {
		t.Fatal("the lesson is not sent in the ledger")
	}
	if s, _ := db.SubscriberByID(ctx, ann.Sub.ID); s.NextLesson != 2 {
		t.Fatalf("reader on lesson %d; want 2", s.NextLesson)
	}
	if n := rollupDrift(t, db); n != 0 {
		t.Fatalf("the ledger rollup is off in %d counts", n)
	}
}

// The recorder writes a group again when its statement failed, and one
// whose commit went through while the reply was lost meets its own rows:
// nothing changes, the reader is not moved twice, and the counts hold.
func TestARecordWrittenTwiceChangesNothing(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	c := claimed(t, db)
	next := now.Add(7 * 24 * time.Hour)
	for range 2 {
		recorded(t, db, accepted(c, "<m@x>", now, &next))
	}
	if s, _ := db.SubscriberByID(ctx, c.Sub.ID); s.NextLesson != 2 {
		t.Fatalf("reader on lesson %d; want 2", s.NextLesson)
	}
	if n := count(t, db, `SELECT count(*) FROM deliveries WHERE subscriber_id = $1`, c.Sub.ID); n != 1 {
		t.Fatalf("%d ledger rows; want 1", n)
	}
	if n := rollupDrift(t, db) + subscriberDrift(t, db); n != 0 {
		t.Fatalf("the counts are off in %d places", n)
	}
}

// A pass takes each reader once, so a group never holds one reader twice;
// should a caller hand one over twice (here, lesson 1 of round 1 and of
// round 2, after a move), each is recorded as if alone, in either order:
// both ledger rows name the reader, and only the current round moves on.
func TestAReaderTwiceInOneGroupIsRecordedBothTimes(t *testing.T) {
	for _, order := range []string{"older first", "newer first"} {
		t.Run(order, func(t *testing.T) {
			db := dbtest.New(t)
			ctx := context.Background()
			old := claimed(t, db) // lesson 1 of round 1, leased
			mv := drip.Change{Action: drip.ActMove, Actor: drip.ActorAdmin, Now: now, Lesson: 1, Lessons: 2}
			if _, err := db.Change(ctx, store.Ref{ID: old.Sub.ID}, mv, store.AdminAction{Actor: "admin@example.com", At: now}); err != nil {
				t.Fatal(err)
			}
			later := now.Add(2 * time.Hour) // the first lease has ended
			claims, err := db.ClaimAndBegin(ctx, later, 10, later, later.Add(time.Hour))
			if err != nil || len(claims) != 1 || claims[0].Sub.Round != 2 {
				t.Fatalf("claim of round 2: %+v, %v", claims, err)
			}
			next := now.Add(7 * 24 * time.Hour)
			ds := []store.Delivered{accepted(old, "<r1@x>", now, &next), accepted(claims[0], "<r2@x>", later, &next)}
			if order == "newer first" {
				ds[0], ds[1] = ds[1], ds[0]
			}
			recorded(t, db, ds...)
			if n := count(t, db, `SELECT count(*) FROM deliveries WHERE subscriber_id = $1 AND lesson = 1 AND status = 'sent'`, old.Sub.ID); n != 2 {
				t.Fatalf("%d sent ledger rows name the reader; want both rounds'", n)
			}
			if s, _ := db.SubscriberByID(ctx, old.Sub.ID); s.Round != 2 || s.NextLesson != 2 {
				t.Fatalf("reader at round %d lesson %d; want lesson 2 of round 2", s.Round, s.NextLesson)
			}
			if n := rollupDrift(t, db) + subscriberDrift(t, db); n != 0 {
				t.Fatalf("the counts are off in %d places", n)
			}
		})
	}
}

// A reader erased while their lesson was out leaves a ledger row that
// names no one and, like the rows the erasure blanked, keeps no SMTP reply
// (servers quote the address in it) — whether the lesson was accepted in
// a group, was their last, or failed — and their counts stay exact.
func TestARecordAfterAnErasureKeepsNeitherTheReaderNorTheReply(t *testing.T) {
	const reply = "250 2.0.0 <ann@example.com> queued as 4XyZ"
	admin := store.AdminAction{Actor: "admin@example.com", At: now}
	next := now.Add(7 * 24 * time.Hour)
	sent := func(next *time.Time) func(t *testing.T, db *store.DB, c store.Claim) {
		return func(t *testing.T, db *store.DB, c store.Claim) {
			d := accepted(c, "<m@x>", now, next)
			d.Reply = reply
			if r := recorded(t, db, d); r[0].Completed {
				t.Fatalf("result %+v: an erased reader completes nothing", r[0])
			}
		}
	}
	for _, tc := range []struct {
		name   string
		record func(t *testing.T, db *store.DB, c store.Claim)
	}{
		{"sent in a group", sent(&next)},
		{"the last lesson sent", sent(nil)}, // no next lesson: recorded as the last
		{"bounced", func(t *testing.T, db *store.DB, c store.Claim) {
			f := store.Failure{Status: drip.DeliveryBounced, Reply: "550 5.1.1 <ann@example.com>: no such user"}
			if err := db.Failed(context.Background(), c.Sub, *c.Attempt, f, now); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := dbtest.New(t)
			ctx := context.Background()
			c := claimed(t, db)
			if err := db.EraseSubscriber(ctx, c.Sub.ID, admin); err != nil {
				t.Fatal(err)
			}
			tc.record(t, db, c)
			anonymous(t, db)
			if n := count(t, db, `SELECT count(*) FROM outbox`) + count(t, db, `SELECT count(*) FROM suppressions`); n != 0 {
				t.Fatalf("%d mails or suppressions for an erased reader", n)
			}
		})
	}
}

// A record in flight holds the reader's schedule row. An erasure that
// comes meanwhile must wait for it before it blanks the reader's replies
// (it locks that row first, with the subscriber's): the ledger row the
// record then commits loses the reader and the reply like the others.
// Were the erasure to wait only where it deletes the row, it would have
// blanked the replies it could see, and the new row would keep its own.
func TestARecordThatCommitsWhileAnErasureWaitsKeepsNeitherTheReaderNorTheReply(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	c := claimed(t, db)
	next := now.Add(7 * 24 * time.Hour)
	d := accepted(c, "<m@x>", now, &next)
	d.Reply = "250 2.0.0 <ann@example.com> queued as 4XyZ"

	// Hold the record after its move and its ledger insert, at its count:
	// the week's counter rows, one a shard, taken by a transaction left open.
	hold, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback(ctx)
	if _, err := hold.Exec(ctx, `INSERT INTO ledger_counts (status, week, shard, n)
		SELECT 'sent', ledger_counts_week('sent', $1), s, 0 FROM generate_series(0, 7) s
		ON CONFLICT (status, week, shard) DO UPDATE SET n = ledger_counts.n`, now); err != nil {
		t.Fatal(err)
	}
	waiting := func(what, like string) {
		t.Helper()
		for range 500 {
			if count(t, db, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`, like) > 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("the %s never waited", what)
	}
	rec := make(chan []store.SentResult)
	go func() { rec <- db.Sent(ctx, []store.Delivered{d}) }()
	waiting("record", "%WITH o AS%")
	erased := make(chan error)
	go func() {
		erased <- db.EraseSubscriber(ctx, c.Sub.ID, store.AdminAction{Actor: "admin@example.com", At: now})
	}()
	waiting("erasure", "%JOIN LATERAL (SELECT * FROM schedule%")
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-rec; r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if err := <-erased; err != nil {
		t.Fatal(err)
	}
	anonymous(t, db)
}

// anonymous fails t unless the ledger holds one row, of the lesson in
// flight when its reader was erased, naming no one and keeping no SMTP
// reply, and the counts are exact.
func anonymous(t *testing.T, db *store.DB) {
	t.Helper()
	if n := count(t, db, `SELECT count(*) FROM deliveries WHERE subscriber_id IS NULL AND smtp_reply = ''`); n != 1 {
		t.Fatalf("%d ledger rows without reader or reply; want the one of the lesson in flight", n)
	}
	if n := count(t, db, `SELECT count(*) FROM deliveries WHERE subscriber_id IS NOT NULL OR smtp_reply <> ''`); n != 0 {
		t.Fatalf("%d ledger rows keep the reader or their reply", n)
	}
	if n := rollupDrift(t, db) + subscriberDrift(t, db); n != 0 {
		t.Fatalf("the counts are off in %d places", n)
	}
}

// An attempt whose lease ended while it was out belongs to no one: another
// pass may have claimed the reader since and be sending. Its failure must
// not clear that pass's lease, or a third pass could send too.
func TestAFailureAfterTheLeaseEndedLeavesTheNewClaimAlone(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	first := claimed(t, db) // leased until now+1h, judged at now
	later := now.Add(2 * time.Hour)
	second, err := db.ClaimAndBegin(ctx, later, 10, later, later.Add(time.Hour))
	if err != nil || len(second) != 1 || second[0].Attempt.Attempts != 2 {
		t.Fatalf("second claim %+v: %v", second, err)
	}
	f := store.Failure{Status: drip.DeliveryRetrying, Reply: "451 later", RetryAt: later}
	if err := db.Failed(ctx, first.Sub, *first.Attempt, f, later); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM schedule WHERE subscriber_id = $1 AND lease_until = $2 AND attempts = 2`,
		first.Sub.ID, later.Add(time.Hour)); n != 1 {
		t.Fatal("the first attempt's failure undid the second claim's lease")
	}
	if n := count(t, db, `SELECT count(*) FROM deliveries`); n != 0 {
		t.Fatalf("%d ledger rows: the ended attempt wrote its outcome over the live one", n)
	}
	third, err := db.ClaimAndBegin(ctx, later, 10, later, later.Add(time.Hour))
	if err != nil || len(third) != 0 {
		t.Fatalf("a third pass claimed %d while the second is sending (%v)", len(third), err)
	}
}

// Moving a reader to the lesson being sent to them right now starts a new
// round, as moving them to a lesson already sent does: the lesson goes out
// again in the new round, and the record of the one in flight does not
// move them past it.
func TestMovingAReaderToTheLessonInFlightStartsANewRound(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	c := claimed(t, db) // lesson 1 of round 1, leased
	mv := drip.Change{Action: drip.ActMove, Actor: drip.ActorAdmin, Now: now, Lesson: 1, Lessons: 2}
	s, err := db.Change(ctx, store.Ref{ID: c.Sub.ID}, mv, store.AdminAction{Actor: "admin@example.com", At: now})
	if err != nil {
		t.Fatal(err)
	}
	if s.Round != 2 || s.NextLesson != 1 {
		t.Fatalf("moved to round %d lesson %d; want lesson 1 of round 2", s.Round, s.NextLesson)
	}
	next := now.Add(7 * 24 * time.Hour)
	recorded(t, db, accepted(c, "<m@x>", now, &next))
	if s, _ = db.SubscriberByID(ctx, c.Sub.ID); s.Round != 2 || s.NextLesson != 1 {
		t.Fatalf("after the record: round %d lesson %d; the admin's move should win", s.Round, s.NextLesson)
	}
	if n := count(t, db, `SELECT count(*) FROM deliveries WHERE subscriber_id = $1 AND round = 1 AND lesson = 1 AND status = 'sent'`, c.Sub.ID); n != 1 {
		t.Fatal("the lesson the server accepted is not in the ledger")
	}
}

// The record's plan, as the pass runs it (a generic plan: its statement
// is cached), joins each delivery to its schedule row by key. One that
// compared every delivery of a group with every other (a nested loop
// filtering a scan of the group) cost each message time in proportion to
// the group: 44 µs of PostgreSQL a message at groups of 34 in
// BenchmarkLedger, 59 at 100, against 37 and 30 now.
func TestTheRecordsPlanFindsEachRowByKey(t *testing.T) {
	db := dbtest.New(t)
	for name, sql := range map[string]string{"sent": store.SentSQL, "sent_first": store.SentFirstSQL} {
		plan := planAfter(t, db, []string{
			`SET LOCAL plan_cache_mode = force_generic_plan`,
			`PREPARE ` + name + `(bigint[], int[], int[], int[], bigint[], timestamptz[], timestamptz[], text[], text[], timestamptz[], timestamptz[]) AS ` + sql,
		}, `EXECUTE `+name+`('{1}', '{1}', '{1}', '{1}', '{1}', '{now}', '{now}', '{a}', '{b}', '{now}', '{now}')`)
		for _, bad := range []string{"Join Filter", "Seq Scan"} {
			if strings.Contains(plan, bad) {
				t.Fatalf("%s: the record's plan has a %s:\n%s", name, bad, plan)
			}
		}
	}
}
