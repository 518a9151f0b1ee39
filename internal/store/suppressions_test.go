package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
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
		`UPDATE subscribers SET status = 'active', confirmed_at = $1, send_weekday = 1, send_hour = 8`,
		`UPDATE schedule SET due_at = $1`,
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

func TestSuppressionsPageByAddressFromThePrefixWithoutGapsOrRepeats(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO suppressions (email, reason, created_at)
		SELECT 'a' || lpad(g::text, 3, '0') || '@example.org', 'hard', $1::timestamptz FROM generate_series(1, 25) g
		UNION ALL SELECT 'b_1@example.org', 'complaint', $1`, now); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		prefix string
		want   int
	}{{"", 26}, {"A0", 25}, {"a01", 10}, {"b_", 1}, {"a_", 0}, {"%", 0}}
	for _, c := range cases {
		var seen []string
		q := store.SuppressionQuery{Email: c.prefix, Limit: 7}
		for range 10 {
			p, err := db.Suppressions(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range p.Suppressions {
				seen = append(seen, s.Email)
			}
			if p.Next == "" {
				break
			}
			q.After = p.Next
		}
		if len(seen) != c.want {
			t.Errorf("prefix %q: %d addresses, want %d", c.prefix, len(seen), c.want)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] <= seen[i-1] {
				t.Errorf("prefix %q: %s after %s, not in address order without repeats", c.prefix, seen[i], seen[i-1])
			}
		}
	}
}

func TestLiftingASuppressionKeepsTheAddressOutOfTheAuditLogAndAnUnknownAddressIsNotFound(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO suppressions (email, reason, created_at) VALUES ('gone@example.org', 'complaint', $1)`, now); err != nil {
		t.Fatal(err)
	}
	a := store.AdminAction{Actor: "owner@example.com", IP: "192.0.2.1", At: now}
	if err := db.LiftSuppression(ctx, "nobody@example.org", a); !errors.Is(err, drip.ErrNotFound) {
		t.Fatalf("lifting an address not suppressed = %v, want drip.ErrNotFound", err)
	}
	if err := db.LiftSuppression(ctx, "Gone@Example.org", a); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.Suppressed(ctx, "gone@example.org"); err != nil || ok {
		t.Fatalf("after the lift Suppressed = %v, %v", ok, err)
	}
	entries, _, err := db.AuditLog(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != "suppression.lift" || entries[0].Before["reason"] != "complaint" {
		t.Fatalf("audit log = %+v, want one suppression.lift with the reason", entries)
	}
	if s := fmt.Sprint(entries[0]); strings.Contains(s, "gone@") {
		t.Errorf("the audit entry holds the address: %s", s)
	}
}

func ptr(n int) *int { return &n }
