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

// rollupDrift counts the (status, week) pairs where ledger_counts and a
// count of the ledger itself disagree.
func rollupDrift(t *testing.T, db *store.DB) int {
	t.Helper()
	return count(t, db, `
		WITH truth AS (
			SELECT status, ledger_counts_week(status, sent_at) AS week, count(*) AS n
			FROM deliveries WHERE status <> 'sending' GROUP BY 1, 2
		), rollup AS (
			SELECT status, week, sum(n) AS n FROM ledger_counts GROUP BY 1, 2 HAVING sum(n) <> 0
		)
		SELECT count(*) FROM ((TABLE truth EXCEPT TABLE rollup) UNION ALL (TABLE rollup EXCEPT TABLE truth)) x`)
}

func TestTheLedgerRollupStaysEqualToTheLedgerThroughEveryKindOfWrite(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	steps := []struct {
		name string
		sql  string
	}{
		{"a group begun in one statement", `
			INSERT INTO deliveries (round, lesson, status, due_at)
			SELECT 1, 1 + g % 3, 'sending', $1::timestamptz FROM generate_series(1, 60) g`},
		{"a group recorded sent over two weeks", `
			UPDATE deliveries SET status = 'sent', sent_at = $1::timestamptz - (id % 2) * interval '7 days' WHERE id % 3 <> 0`},
		{"some put off for a retry", `UPDATE deliveries SET status = 'retrying' WHERE status = 'sending' AND id % 2 = 0`},
		{"some given up", `UPDATE deliveries SET status = 'failed' WHERE status = 'sending'`},
		{"a retry begun again", `UPDATE deliveries SET status = 'sending' WHERE id = (SELECT min(id) FROM deliveries WHERE status = 'retrying')`},
		{"a sent lesson bounced later", `UPDATE deliveries SET status = 'bounced' WHERE id = (SELECT min(id) FROM deliveries WHERE status = 'sent')`},
		{"a sent time moved into another week", `UPDATE deliveries SET sent_at = sent_at - interval '30 days' WHERE id = (SELECT max(id) FROM deliveries WHERE status = 'sent')`},
		{"an update that changes no count", `UPDATE deliveries SET smtp_reply = 'x'`},
		{"rows inserted already sent", `
			INSERT INTO deliveries (round, lesson, status, due_at, sent_at)
			SELECT 2, g, 'sent', $1::timestamptz, $1 FROM generate_series(1, 5) g`},
		{"an upsert that updates", `
			INSERT INTO deliveries (round, lesson, status, due_at)
			SELECT round, lesson, 'sending', due_at FROM deliveries WHERE status = 'failed'
			ON CONFLICT DO NOTHING`},
		{"rows deleted", `DELETE FROM deliveries WHERE id % 5 = 0`},
	}
	for _, s := range steps {
		var args []any
		if strings.Contains(s.sql, "$1") {
			args = append(args, now)
		}
		if _, err := db.Pool.Exec(ctx, s.sql, args...); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if n := rollupDrift(t, db); n != 0 {
			t.Fatalf("after %s the rollup is off in %d counts", s.name, n)
		}
	}
	if n := count(t, db, `SELECT count(DISTINCT status) FROM ledger_counts WHERE n <> 0`); n < 4 {
		t.Fatalf("the steps left %d statuses counted; they should reach sent, retrying, failed and bounced", n)
	}
	if _, err := db.Pool.Exec(ctx, `TRUNCATE deliveries`); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM ledger_counts`); n != 0 {
		t.Fatalf("%d counters left after the ledger was emptied", n)
	}
}

func TestTheDashboardCountsWhatTheLedgerAndTheTriesHold(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	c := claimed(t, db)
	next := now.Add(7 * 24 * time.Hour)
	recorded(t, db, accepted(c, "<a@x>", now, &next))
	if err := db.Tried(ctx, c.Sub.ID, c.Sub.TokenGen, 1, now); err != nil {
		t.Fatal(err)
	}
	// Older history, written straight to the ledger and the tries.
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO deliveries (round, lesson, status, due_at, sent_at)
		SELECT 1, 1 + g % 4, (ARRAY['sent','sent','sent','failed','retrying'])[1 + g % 5], $1, $1::timestamptz - (g % 20) * interval '1 day'
		FROM generate_series(1, 200) g`, now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE deliveries SET sent_at = NULL WHERE status <> 'sent'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO tried (round, lesson) SELECT 1, 1 + g % 3 FROM generate_series(1, 30) g`); err != nil {
		t.Fatal(err)
	}
	d, err := db.LoadDashboard(ctx, now, 12)
	if err != nil {
		t.Fatal(err)
	}
	from := store.WeekStart(now).AddDate(0, 0, -7*11)
	for i := range 12 {
		wk := from.AddDate(0, 0, 7*i)
		want := count(t, db, `SELECT count(*) FROM deliveries WHERE status = 'sent' AND sent_at >= $1 AND sent_at < $2`, wk, wk.AddDate(0, 0, 7))
		if d.SentByWeek[wk] != want {
			t.Errorf("week of %s: %d sent shown, the ledger holds %d", wk.Format("2 Jan"), d.SentByWeek[wk], want)
		}
	}
	if len(d.SentByWeek) < 3 {
		t.Errorf("sends in %d weeks shown; the history spans three", len(d.SentByWeek))
	}
	if want := count(t, db, `SELECT count(*) FROM deliveries WHERE status IN ('retrying', 'failed')`); d.OpenDeliveriesN != want || want == 0 {
		t.Errorf("%d open deliveries shown, the ledger holds %d", d.OpenDeliveriesN, want)
	}
	for n := 1; n <= 3; n++ {
		if want := count(t, db, `SELECT count(*) FROM tried WHERE lesson = $1`, n); d.Tried[n] != want || want == 0 {
			t.Errorf("lesson %d: %d tries shown, %d recorded", n, d.Tried[n], want)
		}
	}
}

// subscriberDrift counts the (status, lesson) pairs where the subscriber
// counts (with their deltas) and a count of subscribers disagree. A
// subscriber is counted once they have a place in the course (a schedule
// row) and are not pending.
func subscriberDrift(t *testing.T, db *store.DB) int {
	t.Helper()
	return count(t, db, `
		WITH truth AS (
			SELECT status, lesson, count(*) AS n FROM subscribers s JOIN schedule p ON p.subscriber_id = s.id
			WHERE status <> 'pending' GROUP BY 1, 2
		), counted AS (
			SELECT status, lesson, sum(n) AS n FROM (
				SELECT status, lesson, n FROM subscriber_counts UNION ALL SELECT status, lesson, d FROM subscriber_count_deltas) c
			GROUP BY 1, 2 HAVING sum(n) <> 0
		)
		SELECT count(*) FROM ((TABLE truth EXCEPT TABLE counted) UNION ALL (TABLE counted EXCEPT TABLE truth)) x`)
}

func TestTheSubscriberCountsStayEqualToTheSubscribersThroughEveryKindOfWrite(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	files := []store.LessonFile{{Number: 1, Source: []byte("one")}, {Number: 2, Source: []byte("two")}, {Number: 3, Source: []byte("three")}}
	if _, err := db.SyncLessons(ctx, files, now); err != nil {
		t.Fatal(err)
	}
	check := func(step string) {
		t.Helper()
		if n := subscriberDrift(t, db); n != 0 {
			t.Fatalf("after %s the subscriber counts are off in %d counts", step, n)
		}
	}
	signedUp(t, db, "pending@example.com", false)
	check("a signup")
	ann := signedUp(t, db, "ann@example.com", true)
	bob := signedUp(t, db, "bob@example.com", true)
	check("two confirmations")

	// The pass's record, which counts inline, for lessons 1 and 2; the
	// last lesson completes in a transaction of its own.
	record := func(s *drip.Subscriber) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, `UPDATE schedule SET due_at = CASE WHEN subscriber_id = $1 THEN $2::timestamptz ELSE $2::timestamptz + interval '30 days' END WHERE due_at IS NOT NULL`, s.ID, now); err != nil {
			t.Fatal(err)
		}
		claims, err := db.ClaimAndBegin(ctx, now.Add(time.Minute), 10, now, now.Add(time.Hour))
		if err != nil || len(claims) != 1 || claims[0].Attempt == nil {
			t.Fatalf("claim: %v, %+v", err, claims)
		}
		c := claims[0]
		var next *time.Time // the last lesson
		if c.Sub.NextLesson < 3 {
			due := now.Add(7 * 24 * time.Hour)
			next = &due
		}
		recorded(t, db, accepted(c, "m", now, next))
	}
	record(ann)
	check("a lesson recorded sent")
	record(ann)
	record(ann)
	check("the last lesson recorded sent")
	if n := count(t, db, `SELECT count(*) FROM subscribers WHERE status = 'completed'`); n != 1 {
		t.Fatalf("%d completed; the steps should complete ann", n)
	}
	if n := count(t, db, `SELECT count(*) FROM subscriber_count_deltas WHERE status = 'active' AND lesson = 2 AND d = 1`); n != 1 {
		t.Fatal("the record of lesson 1 wrote no inline delta: the row trigger counted it")
	}
	if _, err := db.Change(ctx, store.Ref{ID: bob.ID, Gen: bob.TokenGen}, drip.Change{Action: drip.ActPause, Actor: drip.ActorSubscriber, Now: now}, store.AdminAction{}); err != nil {
		t.Fatal(err)
	}
	check("a pause")
	if err := db.FoldSubscriberCounts(ctx); err != nil {
		t.Fatal(err)
	}
	check("a fold")
	if n := count(t, db, `SELECT count(*) FROM subscriber_count_deltas`); n != 0 {
		t.Fatalf("%d deltas left after a fold", n)
	}
	steps := []string{
		`WITH s AS (
			INSERT INTO subscribers (email, status, consent_at, consent_method)
			SELECT 'imported' || g || '@example.com', (ARRAY['active','paused','unsubscribed'])[1 + g % 3], now(), 'import'
			FROM generate_series(1, 300) g
			RETURNING id, status)
		 INSERT INTO schedule (subscriber_id, lesson, active) SELECT id, 1 + id % 3, status = 'active' FROM s`,
		`INSERT INTO subscribers (email, status, consent_at, consent_method)
		 SELECT 'placeless' || g || '@example.com', 'active', now(), 'import' FROM generate_series(1, 5) g`,
		`UPDATE schedule SET lesson = 2 WHERE subscriber_id IN (SELECT id FROM subscribers WHERE email LIKE 'placeless%')`,
		`UPDATE schedule SET lesson = lesson + 1 WHERE active`,
		`UPDATE schedule SET due_at = now()`,
		`UPDATE subscribers SET status = 'unsubscribed' WHERE id % 4 = 0`,
		`UPDATE subscribers SET name = 'x'`,
		`UPDATE subscribers SET status = 'active' WHERE status = 'pending'`,
		`DELETE FROM subscribers WHERE id % 7 = 0`,
	}
	for _, sql := range steps {
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		check(sql)
	}
	// Two folds at once move each delta once.
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- db.FoldSubscriberCounts(ctx) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	check("two folds at once")
	d, err := db.LoadDashboard(ctx, now, 12)
	if err != nil {
		t.Fatal(err)
	}
	var truth int
	for _, n := range d.ByStatus {
		truth += n
	}
	if all := count(t, db, `SELECT count(*) FROM subscribers`); truth != all {
		t.Fatalf("the dashboard counts %d subscribers of %d", truth, all)
	}
	if _, err := db.Pool.Exec(ctx, `TRUNCATE subscribers CASCADE`); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT (SELECT count(*) FROM subscriber_counts) + (SELECT count(*) FROM subscriber_count_deltas)`); n != 0 {
		t.Fatalf("%d counters left after subscribers were emptied", n)
	}
}

// The pass's record counts the readers it moves on by their status as it
// finds them; a reader who pauses or leaves at the same moment is counted
// by the change's trigger. Whichever commits first, the other must see it,
// or a reader is counted under a status or a lesson they no longer have.
func TestTheSubscriberCountsStayExactWhenReadersLeaveWhileTheirLessonsAreRecorded(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	files := []store.LessonFile{{Number: 1, Source: []byte("one")}, {Number: 2, Source: []byte("two")}, {Number: 3, Source: []byte("three")}}
	if _, err := db.SyncLessons(ctx, files, now); err != nil {
		t.Fatal(err)
	}
	const n = 120
	if _, err := db.Pool.Exec(ctx, `
		WITH s AS (
			INSERT INTO subscribers (email, status, time_zone, send_weekday, send_hour, consent_at, confirmed_at)
			SELECT 'reader' || g || '@example.com', 'active', 'UTC', 1, 8, $1, $1 FROM generate_series(1, $2::int) g
			RETURNING id)
		INSERT INTO schedule (subscriber_id, lesson, due_at, active) SELECT id, 1, $1, true FROM s`, now, n); err != nil {
		t.Fatal(err)
	}
	claims, err := db.ClaimAndBegin(ctx, now.Add(time.Minute), n, now, now.Add(time.Hour))
	if err != nil || len(claims) != n {
		t.Fatalf("claimed %d of %d: %v", len(claims), n, err)
	}
	next := now.Add(7 * 24 * time.Hour)
	errs := make(chan error, 2)
	go func() { // the pass records in groups of 6
		for i := 0; i < n; i += 6 {
			var ds []store.Delivered
			for _, c := range claims[i : i+6] {
				ds = append(ds, store.Delivered{Sub: c.Sub, Attempt: *c.Attempt, MessageID: "m", Reply: "250 ok", At: now, NextDue: &next})
			}
			for _, r := range db.Sent(ctx, ds) {
				if r.Err != nil {
					errs <- r.Err
					return
				}
			}
		}
		errs <- nil
	}()
	go func() { // every third reader leaves, by turns pausing and unsubscribing, as the records land
		for i := 0; i < n; i += 3 {
			c := claims[i]
			act := drip.ActPause
			if i%2 == 0 {
				act = drip.ActUnsubscribe
			}
			if _, err := db.Change(ctx, store.Ref{ID: c.Sub.ID, Gen: c.Sub.TokenGen}, drip.Change{Action: act, Actor: drip.ActorSubscriber, Now: now}, store.AdminAction{}); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := subscriberDrift(t, db); n != 0 {
		t.Fatalf("the subscriber counts are off in %d counts", n)
	}
	if moved := count(t, db, `SELECT count(*) FROM schedule WHERE lesson = 2`); moved != n {
		t.Fatalf("%d of %d readers moved on to lesson 2; each had it sent", moved, n)
	}
	if left := count(t, db, `SELECT count(*) FROM subscribers WHERE status IN ('paused', 'unsubscribed')`); left != n/3 {
		t.Fatalf("%d readers left, want %d", left, n/3)
	}
}
