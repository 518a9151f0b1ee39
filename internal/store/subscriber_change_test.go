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

func TestMain(m *testing.M) { dbtest.Main(m) }

var now = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// signedUp is a fresh subscriber, pending (confirm false, their
// confirmation still queued) or active.
func signedUp(t *testing.T, db *store.DB, email string, confirm bool) *drip.Subscriber {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Signup(ctx, drip.Signup{Email: email, TimeZone: "Europe/Berlin", At: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s, err := db.SubscriberByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	if confirm {
		if s, err = db.Confirm(ctx, s.ID, s.TokenGen, time.Sunday, 8, now); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// count is the number of rows a query counts.
func count(t *testing.T, db *store.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAReadersChangeWritesTheRowAndItsEventTogether(t *testing.T) {
	db := dbtest.New(t)
	s := signedUp(t, db, "ann@example.com", true)
	until := now.Add(7 * 24 * time.Hour)
	c := drip.Change{Action: drip.ActPause, Actor: drip.ActorSubscriber, Now: now, Until: &until}
	got, err := db.Change(context.Background(), store.Ref{ID: s.ID, Gen: s.TokenGen}, c, store.AdminAction{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != drip.StatusPaused || got.NextDueAt != nil || got.PausedUntil == nil || !got.PausedUntil.Equal(until) {
		t.Fatalf("after pause: %+v", got)
	}
	stored, _ := db.SubscriberByID(context.Background(), s.ID)
	if stored.Status != drip.StatusPaused {
		t.Fatalf("stored status %s", stored.Status)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE subscriber_id = $1 AND kind = 'paused' AND actor = 'subscriber' AND detail->>'until' IS NOT NULL`, s.ID); n != 1 {
		t.Fatalf("%d paused events", n)
	}
}

func TestALinkOfAnOlderGenerationChangesNobody(t *testing.T) {
	db := dbtest.New(t)
	s := signedUp(t, db, "ann@example.com", true)
	c := drip.Change{Action: drip.ActUnsubscribe, Actor: drip.ActorSubscriber, Now: now}
	if _, err := db.Change(context.Background(), store.Ref{ID: s.ID, Gen: s.TokenGen + 1}, c, store.AdminAction{}); !errors.Is(err, drip.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if stored, _ := db.SubscriberByID(context.Background(), s.ID); stored.Status != drip.StatusActive {
		t.Fatalf("status %s", stored.Status)
	}
}

func TestARefusedOrRedundantChangeWritesNothing(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := signedUp(t, db, "ann@example.com", true)
	events := count(t, db, `SELECT count(*) FROM events WHERE subscriber_id = $1`, s.ID)
	admin := store.AdminAction{Actor: "admin@example.com", IP: "192.0.2.1"}
	_, err := db.Change(ctx, store.Ref{ID: s.ID}, drip.Change{Action: drip.ActResume, Actor: drip.ActorAdmin, Now: now}, admin)
	var r *drip.Refused
	if !errors.As(err, &r) || !errors.Is(err, drip.ErrNotNow) || r.Status != drip.StatusActive {
		t.Fatalf("admin resume of an active reader: %v", err)
	}
	got, err := db.Change(ctx, store.Ref{ID: s.ID, Gen: s.TokenGen}, drip.Change{Action: drip.ActResume, Actor: drip.ActorSubscriber, Now: now}, store.AdminAction{})
	if err != nil || got.Status != drip.StatusActive {
		t.Fatalf("reader resume of an active reader: %v, %+v", err, got)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE subscriber_id = $1`, s.ID); n != events {
		t.Fatalf("%d events, want %d", n, events)
	}
	if n := count(t, db, `SELECT count(*) FROM admin_audit`); n != 0 {
		t.Fatalf("%d audit entries", n)
	}
}

func TestAnAdminsChangeIsOnTheTimelineAndInTheAuditLogWithBeforeAndAfter(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := signedUp(t, db, "ann@example.com", true)
	admin := store.AdminAction{Actor: "admin@example.com", IP: "192.0.2.1"}
	c := drip.Change{Action: drip.ActMove, Actor: drip.ActorAdmin, Now: now, Lesson: 7, Lessons: 52}
	if _, err := db.Change(ctx, store.Ref{ID: s.ID}, c, admin); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE subscriber_id = $1 AND kind = 'admin.move' AND actor = $2
		AND detail->'before'->>'next_lesson' = '1' AND detail->'after'->>'next_lesson' = '7'`, s.ID, admin.Actor); n != 1 {
		t.Fatalf("%d admin.move events with before and after", n)
	}
	if n := count(t, db, `SELECT count(*) FROM admin_audit WHERE action = 'subscriber.move' AND subject_id = $1 AND ip = $2
		AND before->>'next_lesson' = '1' AND after->>'next_lesson' = '7' AND after->>'lesson' = '7'`, s.ID, admin.IP); n != 1 {
		t.Fatalf("%d subscriber.move audit entries", n)
	}
}

func TestUnsubscribingDropsTheQueuedConfirmation(t *testing.T) {
	db := dbtest.New(t)
	s := signedUp(t, db, "ann@example.com", false)
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE subscriber_id = $1 AND status = 'pending'`, s.ID); n != 1 {
		t.Fatalf("%d queued confirmations before", n)
	}
	c := drip.Change{Action: drip.ActUnsubscribe, Actor: drip.ActorSubscriber, Now: now}
	got, err := db.Change(context.Background(), store.Ref{ID: s.ID, Gen: s.TokenGen}, c, store.AdminAction{})
	if err != nil || got.Status != drip.StatusUnsubscribed || got.UnsubscribedAt == nil {
		t.Fatalf("%v, %+v", err, got)
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE subscriber_id = $1 AND status = 'pending'`, s.ID); n != 0 {
		t.Fatalf("%d queued confirmations after", n)
	}
}
