package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
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

// The signup statement's commit does not wait for the disk, and only its
// own: the setting is local to its transaction (see store.SignupSQL).
func TestTheSignupStatementAloneCommitsWithoutWaitingForTheDisk(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	show := func() string {
		t.Helper()
		var v string
		if err := conn.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := show(); v != "on" {
		t.Fatalf("synchronous_commit = %q before the signup, want the server's on", v)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var id int64
	if err := tx.QueryRow(ctx, store.SignupSQL, "nowait@example.org", "", "UTC", now, "192.0.2.1", "ua", "", "v1", nil, nil).Scan(&id); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := tx.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "off" {
		t.Errorf("synchronous_commit = %q in the signup's transaction, want off", v)
	}
	// The subscriber, its history and its confirmation are one transaction.
	var events, mails int
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM events WHERE subscriber_id = $1 AND kind = 'signup'),
		(SELECT count(*) FROM outbox WHERE subscriber_id = $1 AND kind = 'confirm')`, id).Scan(&events, &mails); err != nil {
		t.Fatal(err)
	}
	if events != 1 || mails != 1 {
		t.Errorf("the signup wrote %d signup events and %d confirmations, want 1 and 1", events, mails)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if v := show(); v != "on" {
		t.Errorf("synchronous_commit = %q after the signup's transaction, want on again", v)
	}
}

// Addresses have one index, unique in any letter case, and a lookup by
// address and the signup's ON CONFLICT read it (migration 00014; the
// admin's search by prefix is TestEverySubscriberSearchUsesAnIndexAtAMillionRows's).
func TestEveryUseOfAnAddressReadsTheOneIndexOfAddresses(t *testing.T) {
	db := dbtest.New(t)
	var indexes []string
	rows, err := db.Pool.Query(context.Background(), `SELECT indexname FROM pg_indexes
		WHERE tablename = 'subscribers' AND indexdef LIKE '%lower(email)%' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if indexes, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(indexes, []string{"subscribers_email_key"}) {
		t.Fatalf("indexes of addresses: %v, want only subscribers_email_key", indexes)
	}
	for _, c := range []struct {
		what, sql string
		args      []any
	}{
		{"a lookup by address", `SELECT id FROM subscribers WHERE ` + store.ByAddress, []any{"Ann@Example.com"}},
		{"the signup", store.SignupSQL, []any{"ann@example.com", "", "UTC", now, "192.0.2.1", "ua", "", "v1", nil, nil}},
	} {
		if plan := planOf(t, db, c.sql, c.args...); !strings.Contains(plan, "subscribers_email_key") {
			t.Errorf("%s does not read subscribers_email_key:\n%s", c.what, plan)
		}
	}
	if _, err := db.Signup(context.Background(), drip.Signup{Email: "Ann@Example.com", TimeZone: "UTC", At: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Signup(context.Background(), drip.Signup{Email: "ann@EXAMPLE.com", TimeZone: "UTC", At: now}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM subscribers`); n != 1 {
		t.Fatalf("the same address in two letter cases made %d subscribers, want 1", n)
	}
}
