package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

func TestASecondAddressChangeWithinAnHourIsTooSoonAndQueuesNothing(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := signedUp(t, db, "ann@example.com", true)
	if _, err := db.RequestEmailChange(ctx, s.ID, s.TokenGen, "ann@new.example", now); err != nil {
		t.Fatal(err)
	}
	_, err := db.RequestEmailChange(ctx, s.ID, s.TokenGen, "ann@other.example", now.Add(59*time.Minute))
	if !errors.Is(err, drip.ErrTooSoon) {
		t.Fatalf("err = %v, want ErrTooSoon", err)
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE subscriber_id = $1 AND kind = 'email_change' AND recipient = 'ann@new.example'`, s.ID); n != 1 {
		t.Fatalf("%d confirmations to the first new address", n)
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE recipient = 'ann@other.example'`); n != 0 {
		t.Fatal("the refused request queued mail")
	}
}

func TestARescheduleKeepsSixDaysAfterTheLastLessonAndRecordsTheSlot(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := signedUp(t, db, "ann@example.com", true)
	last := now.Add(-24 * time.Hour)
	if _, err := db.Pool.Exec(ctx, `UPDATE schedule SET last_sent_at = $2, lesson = 2 WHERE subscriber_id = $1`, s.ID, last); err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	got, err := db.SetSchedule(ctx, s.ID, s.TokenGen, drip.Slot{Weekday: now.Weekday(), Hour: 20, Location: berlin}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.NextDueAt == nil || got.NextDueAt.Sub(last) < drip.MinGap || *got.SendHour != 20 {
		t.Fatalf("due %v (last %v), hour %v", got.NextDueAt, last, *got.SendHour)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE subscriber_id = $1 AND kind = 'schedule_changed' AND detail->>'hour' = '20'`, s.ID); n != 1 {
		t.Fatalf("%d schedule_changed events", n)
	}
}

func TestTryingALessonTwiceIsOneTryAndALessonNotReceivedIsRefused(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	c := claimed(t, db)
	next := now.Add(7 * 24 * time.Hour)
	db.Sent(ctx, []store.Delivered{{Sub: c.Sub, Attempt: *c.Attempt, MessageID: "<m@x>", At: now, NextDue: &next}})
	s, _ := db.SubscriberByID(ctx, c.Sub.ID)
	if err := db.Tried(ctx, s.ID, s.TokenGen, 2, now); !errors.Is(err, drip.ErrNotReceived) {
		t.Fatalf("try of lesson 2: %v, want ErrNotReceived", err)
	}
	for range 2 {
		if err := db.Tried(ctx, s.ID, s.TokenGen, 1, now); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM tried WHERE subscriber_id = $1`, s.ID); n != 1 {
		t.Fatalf("%d tries", n)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE subscriber_id = $1 AND kind = 'tried'`, s.ID); n != 1 {
		t.Fatalf("%d tried events", n)
	}
}
