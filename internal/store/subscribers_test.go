package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
)

func TestASignupIsRecordedWithItsConsentAndQueuesOneConfirmation(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	hour := 7
	queued, err := db.Signup(ctx, drip.Signup{Email: "Ann@Example.com", Name: "Ann", TimeZone: "Europe/Berlin", At: now,
		IP: "192.0.2.1", UserAgent: "Firefox", FormURL: "https://example.com/", ConsentVersion: "v1", Hour: &hour})
	if err != nil || !queued {
		t.Fatalf("signup: queued %v, %v", queued, err)
	}
	s, err := db.SubscriberByEmail(ctx, "ann@example.com")
	if err != nil || s.Status != drip.StatusPending || s.Name != "Ann" || s.TimeZone != "Europe/Berlin" || s.SendHour == nil || *s.SendHour != 7 || s.SendWeekday != nil {
		t.Fatalf("subscriber = %+v, %v", s, err)
	}
	if n := count(t, db, `SELECT count(*) FROM subscribers WHERE id = $1 AND consent_ip = '192.0.2.1' AND consent_user_agent = 'Firefox'
		AND consent_form_url = 'https://example.com/' AND consent_version = 'v1' AND consent_at = $2`, s.ID, now); n != 1 {
		t.Fatal("the consent record is not stored as given")
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE subscriber_id = $1 AND kind = 'confirm' AND next_attempt_at = $2`, s.ID, now); n != 1 {
		t.Fatalf("%d confirmations queued, want 1 due at once", n)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE subscriber_id = $1 AND kind = 'signup'`, s.ID); n != 1 {
		t.Fatalf("%d signup events, want 1", n)
	}
}

func TestALinkOfAnotherGenerationFindsNobody(t *testing.T) {
	db := dbtest.New(t)
	s := signedUp(t, db, "ann@example.com", false)
	if got, err := db.Subscriber(context.Background(), s.ID, s.TokenGen); err != nil || got.ID != s.ID {
		t.Fatalf("the current generation: %v, %v", got, err)
	}
	if _, err := db.Subscriber(context.Background(), s.ID, s.TokenGen+1); !errors.Is(err, drip.ErrNotFound) {
		t.Fatalf("another generation: %v, want drip.ErrNotFound", err)
	}
}

func TestConfirmingMakesTheReaderActiveWithLessonOneDueAtOnceAndTwiceChangesNothing(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := signedUp(t, db, "ann@example.com", false)
	got, err := db.Confirm(ctx, s.ID, s.TokenGen, time.Wednesday, 8, now)
	if err != nil || got.Status != drip.StatusActive || got.ConfirmedAt == nil || !got.ConfirmedAt.Equal(now) ||
		got.NextDueAt == nil || !got.NextDueAt.Equal(drip.FirstDue(now)) || got.NextLesson != 1 {
		t.Fatalf("confirmed: %+v, %v", got, err)
	}
	if got.SendWeekday == nil || *got.SendWeekday != time.Wednesday || got.SendHour == nil || *got.SendHour != 8 {
		t.Fatalf("a reader who chose no slot got %v %v, want the default", got.SendWeekday, got.SendHour)
	}
	again, err := db.Confirm(ctx, s.ID, s.TokenGen, time.Friday, 9, now.Add(time.Hour))
	if err != nil || !again.ConfirmedAt.Equal(now) || *again.SendWeekday != time.Wednesday {
		t.Fatalf("confirming twice: %+v, %v", again, err)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE subscriber_id = $1 AND kind = 'confirmed'`, s.ID); n != 1 {
		t.Fatalf("%d confirmed events, want 1", n)
	}
}

func TestOnlySignupsLeftUnconfirmedTooLongAreDeleted(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	old := signedUp(t, db, "old@example.com", false)
	signedUp(t, db, "active@example.com", true)
	n, err := db.DeleteUnconfirmed(ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("deleted %d, %v; want the one pending signup", n, err)
	}
	if _, err := db.SubscriberByID(ctx, old.ID); !errors.Is(err, drip.ErrNotFound) {
		t.Fatalf("the old pending signup: %v", err)
	}
	if left := count(t, db, `SELECT count(*) FROM subscribers`); left != 1 {
		t.Fatalf("%d subscribers left, want the confirmed one", left)
	}
	if q := count(t, db, `SELECT count(*) FROM outbox WHERE subscriber_id = $1`, old.ID); q != 0 {
		t.Fatalf("%d mails of the deleted signup still queued", q)
	}
	signedUp(t, db, "new@example.com", false) // signed up an hour before now
	if n, _ := db.DeleteUnconfirmed(ctx, now.Add(-2*time.Hour)); n != 0 || count(t, db, `SELECT count(*) FROM subscribers`) != 2 {
		t.Fatalf("a signup newer than the cut-off was deleted (%d)", n)
	}
}
