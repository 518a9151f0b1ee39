package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
)

func TestASuppressedAddressIsNeverClaimedForALessonOrAnyMail(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, e := range []string{"kept@example.org", "Gone@Example.org"} {
		if _, err := db.Signup(ctx, drip.Signup{Email: e, TimeZone: "UTC", At: now.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`UPDATE subscribers SET status = 'active', confirmed_at = $1, next_due_at = $1, send_weekday = 1, send_hour = 8`,
		`INSERT INTO suppressions (email, reason, created_at) VALUES ('gone@example.org', 'complaint', $1)`,
	} {
		if _, err := db.Pool.Exec(ctx, q, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	claims, err := db.ClaimAndBegin(ctx, now, 10, now, now.Add(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 1 || claims[0].Sub.Email != "kept@example.org" {
		var got []string
		for _, c := range claims {
			got = append(got, c.Sub.Email)
		}
		t.Errorf("claimed %v, want only kept@example.org", got)
	}
	items, err := db.ClaimOutbox(ctx, now, now, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Subscriber.Email != "kept@example.org" {
		t.Errorf("outbox claimed %d items, want only kept@example.org's confirmation: %+v", len(items), items)
	}
	var failed string
	if err := db.Pool.QueryRow(ctx, `SELECT o.status || ': ' || o.last_error FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id
		WHERE s.email = 'Gone@Example.org'`).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed != "failed: not sent: the address is suppressed (a hard bounce or a complaint)" {
		t.Errorf("the suppressed address's mail is %q", failed)
	}
}

func TestABouncedReaderMaySignUpAndConfirmAgainOnlyOnceTheSuppressionIsLifted(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	signup := drip.Signup{Email: "back@example.org", TimeZone: "UTC", At: now.Add(-48 * time.Hour)}
	if _, err := db.Signup(ctx, signup); err != nil {
		t.Fatal(err)
	}
	var id int64
	var gen int
	if err := db.Pool.QueryRow(ctx, `UPDATE subscribers SET status = 'bounced', confirmed_at = $1 RETURNING id, token_gen`, now.Add(-47*time.Hour)).Scan(&id, &gen); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO suppressions (email, reason, created_at) VALUES ('back@example.org', 'hard', $1)`, now); err != nil {
		t.Fatal(err)
	}
	signup.At = now
	if queued, err := db.Signup(ctx, signup); err != nil || queued {
		t.Fatalf("a suppressed bounced address signing up: queued %v, %v", queued, err)
	}
	if _, err := db.Confirm(ctx, id, gen, time.Monday, 8, now); !errors.Is(err, drip.ErrGone) {
		t.Fatalf("a suppressed bounced reader confirmed: %v", err)
	}
	if _, err := db.Pool.Exec(ctx, `DELETE FROM suppressions`); err != nil { // the admin lifts it
		t.Fatal(err)
	}
	signup.At = now.Add(time.Minute)
	if queued, err := db.Signup(ctx, signup); err != nil || !queued {
		t.Fatalf("after the lift: queued %v, %v; want a fresh confirmation", queued, err)
	}
	s, err := db.Confirm(ctx, id, gen, time.Monday, 8, now.Add(2*time.Minute))
	if err != nil || s.Status != drip.StatusActive {
		t.Fatalf("after the lift the reader confirms: %+v, %v", s, err)
	}
}
