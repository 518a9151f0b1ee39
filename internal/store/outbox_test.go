package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
)

func TestAClaimedMailIsNotClaimedAgainUntilItsLeaseEnds(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := signedUp(t, db, "ann@example.com", false)
	items, err := db.ClaimOutbox(ctx, now, 10, time.Minute)
	if err != nil || len(items) != 1 || items[0].Kind != drip.MailConfirm || items[0].Subscriber.ID != s.ID {
		t.Fatalf("first claim: %v, %+v", err, items)
	}
	if again, _ := db.ClaimOutbox(ctx, now.Add(30*time.Second), 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed again within the lease: %+v", again)
	}
	if later, _ := db.ClaimOutbox(ctx, now.Add(2*time.Minute), 10, time.Minute); len(later) != 1 || later[0].Attempts != 2 {
		t.Fatalf("after the lease: %+v", later)
	}
}

func TestAMailGivenUpIsFailedAndASentOneIsNotClaimedAgain(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	signedUp(t, db, "ann@example.com", false)
	signedUp(t, db, "bob@example.com", false)
	items, _ := db.ClaimOutbox(ctx, now, 10, time.Minute)
	if len(items) != 2 {
		t.Fatalf("%d claimed", len(items))
	}
	if err := db.OutboxRetry(ctx, items[0].ID, "550 no such user", time.Time{}, now); err != nil {
		t.Fatal(err)
	}
	if err := db.OutboxSent(ctx, items[1].ID, "<id@x>", now); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE id = $1 AND status = 'failed' AND last_error = '550 no such user'`, items[0].ID); n != 1 {
		t.Fatal("given-up mail not failed")
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE id = $1 AND status = 'sent' AND message_id = '<id@x>'`, items[1].ID); n != 1 {
		t.Fatal("sent mail not sent")
	}
	if again, _ := db.ClaimOutbox(ctx, now.Add(time.Hour), 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed again: %+v", again)
	}
}
