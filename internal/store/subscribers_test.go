package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/store"
)

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
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
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
