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

func TestAClaimedMailIsNotClaimedAgainUntilItsLeaseEnds(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := signedUp(t, db, "ann@example.com", false)
	items, err := db.ClaimOutbox(ctx, now, now, 10, time.Minute)
	if err != nil || len(items) != 1 || items[0].Kind != drip.MailConfirm || items[0].Subscriber.ID != s.ID {
		t.Fatalf("first claim: %v, %+v", err, items)
	}
	if again, _ := db.ClaimOutbox(ctx, now.Add(30*time.Second), now.Add(30*time.Second), 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed again within the lease: %+v", again)
	}
	if later, _ := db.ClaimOutbox(ctx, now.Add(2*time.Minute), now.Add(2*time.Minute), 10, time.Minute); len(later) != 1 || later[0].Attempts != 2 {
		t.Fatalf("after the lease: %+v", later)
	}
}

func TestAMailGivenUpIsFailedAndASentOneIsNotClaimedAgain(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	signedUp(t, db, "ann@example.com", false)
	signedUp(t, db, "bob@example.com", false)
	items, _ := db.ClaimOutbox(ctx, now, now, 10, time.Minute)
	if len(items) != 2 {
		t.Fatalf("%d claimed", len(items))
	}
	if err := db.OutboxRetry(ctx, items[0].ID, "550 no such user", time.Time{}, now); err != nil {
		t.Fatal(err)
	}
	if err := db.OutboxSent(ctx, []store.OutboxAccepted{{ID: items[1].ID, MessageID: "<id@x>", At: now}}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE id = $1 AND status = 'failed' AND last_error = '550 no such user'`, items[0].ID); n != 1 {
		t.Fatal("given-up mail not failed")
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE id = $1 AND status = 'sent' AND message_id = '<id@x>'`, items[1].ID); n != 1 {
		t.Fatal("sent mail not sent")
	}
	if again, _ := db.ClaimOutbox(ctx, now.Add(time.Hour), now.Add(time.Hour), 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed again: %+v", again)
	}
}

func TestMailsRecordedSentTogetherEachKeepTheirOwnMessageIDAndTime(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	for _, e := range []string{"ann@example.com", "bob@example.com", "cat@example.com"} {
		signedUp(t, db, e, false)
	}
	items, _ := db.ClaimOutbox(ctx, now, now, 10, time.Minute)
	if len(items) != 3 {
		t.Fatalf("%d claimed", len(items))
	}
	// Two of the three in one statement; the third stays claimed.
	group := []store.OutboxAccepted{
		{ID: items[0].ID, MessageID: "<a@x>", At: now.Add(time.Second)},
		{ID: items[1].ID, MessageID: "<b@x>", At: now.Add(2 * time.Second)},
	}
	if err := db.OutboxSent(ctx, group); err != nil {
		t.Fatal(err)
	}
	for _, m := range group {
		if n := count(t, db, `SELECT count(*) FROM outbox WHERE id = $1 AND status = 'sent' AND message_id = $2
			AND sent_at = $3 AND claimed_until IS NULL`, m.ID, m.MessageID, m.At); n != 1 {
			t.Errorf("mail %d not recorded sent as %s at %s", m.ID, m.MessageID, m.At)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE id = $1 AND status = 'pending' AND claimed_until IS NOT NULL`, items[2].ID); n != 1 {
		t.Error("a mail not in the group was changed")
	}
	// Recording again changes nothing.
	if err := db.OutboxSent(ctx, group); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE status = 'sent'`); n != 2 {
		t.Errorf("%d sent after recording twice, want 2", n)
	}
}

// `send --now` a week ahead runs the outbox as of then, but its leases
// are judged on the wall clock: it takes no claim a running serve holds,
// and what it claims is held for minutes, not a week.
func TestOutboxLeasesRunOnTheWallClockWhateverTheTimeOfThePass(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	wall := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.Signup(ctx, drip.Signup{Email: "a@example.com", TimeZone: "UTC", At: wall.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if items, err := db.ClaimOutbox(ctx, wall, wall, 10, time.Minute); err != nil || len(items) != 1 {
		t.Fatalf("serve's claim: %v %v", items, err)
	}
	weekAhead := wall.Add(7 * 24 * time.Hour)
	if items, _ := db.ClaimOutbox(ctx, weekAhead, wall.Add(10*time.Second), 10, time.Minute); len(items) != 0 {
		t.Fatalf("a pass a week ahead took a claim serve still holds")
	}
	var until time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT claimed_until FROM outbox`).Scan(&until); err != nil {
		t.Fatal(err)
	}
	if !until.Equal(wall.Add(time.Minute)) {
		t.Errorf("claimed until %v, want %v", until, wall.Add(time.Minute))
	}
}

// A claim reads about the rows it takes, however long the queue and however
// stale the statistics (autovacuum has not analyzed the burst): planned
// from them the queue looks short, and a bitmap scan would read and sort
// every due mail for each claim.
func TestTheOutboxClaimReadsTheQueueInOrderNotAllOfIt(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `
		WITH s AS (
			INSERT INTO subscribers (email, time_zone, consent_at, confirmation_sent_at)
			SELECT 'q' || g || '@example.com', 'UTC', $1::timestamptz, $1::timestamptz FROM generate_series(1, 5000) g RETURNING id)
		INSERT INTO outbox (subscriber_id, kind, next_attempt_at, created_at) SELECT id, 'confirm', $1, $1 FROM s`,
		now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	plan := planAfter(t, db, []string{store.ClaimOutboxPlan}, store.ClaimOutboxSQL, now, 50, now.Add(time.Minute), now)
	if !strings.Contains(plan, "Index Scan using outbox_due_idx") || strings.Contains(plan, "Sort") || strings.Contains(plan, "Bitmap") {
		t.Errorf("the claim does not read outbox_due_idx in order:\n%s", plan)
	}
}
