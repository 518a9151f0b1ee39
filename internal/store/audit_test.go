package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

func TestAnAuditEntryIsReadBackAsWrittenAndTheLogPagesNewestFirstBySubject(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	one, two := int64(1), int64(2)
	entries := []store.AuditEntry{
		{At: now, Actor: "owner@example.com", Action: "session.sign_in", SubjectType: "session", IP: "192.0.2.1"},
		{At: now.Add(time.Minute), Actor: "owner@example.com", Action: "subscriber.pause", SubjectType: "subscriber", SubjectID: &one,
			Before: map[string]any{"status": "active"}, After: map[string]any{"status": "paused"}, IP: "192.0.2.1"},
		{At: now.Add(2 * time.Minute), Actor: "owner@example.com", Action: "subscriber.resume", SubjectType: "subscriber", SubjectID: &one,
			Before: map[string]any{"status": "paused"}, After: map[string]any{"status": "active"}, IP: "192.0.2.1"},
		{At: now.Add(3 * time.Minute), Actor: "owner@example.com", Action: "subscriber.pause", SubjectType: "subscriber", SubjectID: &two, IP: "192.0.2.1"},
	}
	for _, e := range entries {
		if err := db.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	all, more, err := db.AuditLog(ctx, store.AuditQuery{})
	if err != nil || more || len(all) != len(entries) {
		t.Fatalf("the whole log: %d entries (more %v), %v", len(all), more, err)
	}
	got := all[2] // newest first: the first pause of subscriber 1
	if got.Action != "subscriber.pause" || got.Actor != "owner@example.com" || got.SubjectType != "subscriber" || got.SubjectID == nil ||
		*got.SubjectID != 1 || !got.At.Equal(now.Add(time.Minute)) || got.IP != "192.0.2.1" ||
		got.Before["status"] != "active" || got.After["status"] != "paused" {
		t.Fatalf("entry read back = %+v", got)
	}
	if signIn := all[3]; signIn.SubjectID != nil || len(signIn.Before) != 0 || len(signIn.After) != 0 {
		t.Fatalf("an entry without subject or states read back as %+v", signIn)
	}

	// One subscriber's entries, a page of one at a time.
	var actions []string
	q := store.AuditQuery{SubjectType: "subscriber", SubjectID: 1, Limit: 1}
	for {
		page, more, err := db.AuditLog(ctx, q)
		if err != nil || len(page) != 1 {
			t.Fatalf("page: %v, %v", page, err)
		}
		actions = append(actions, page[0].Action)
		if !more {
			break
		}
		q.Before = page[0].ID
	}
	if len(actions) != 2 || actions[0] != "subscriber.resume" || actions[1] != "subscriber.pause" {
		t.Fatalf("subscriber 1's entries, newest first: %v", actions)
	}
	if subs, _, _ := db.AuditLog(ctx, store.AuditQuery{SubjectType: "subscriber"}); len(subs) != 3 {
		t.Fatalf("%d entries about subscribers, want 3", len(subs))
	}
}

func TestAnAdminsChangeAndItsAuditEntryAreWrittenInOneTransaction(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := signedUp(t, db, "ann@example.com", true)
	a := store.AdminAction{Actor: "owner@example.com", IP: "192.0.2.1", At: now}
	c := drip.Change{Action: drip.ActPause, Actor: drip.ActorAdmin, Now: now}
	if _, err := db.Change(ctx, store.Ref{ID: s.ID}, c, a); err != nil {
		t.Fatal(err)
	}
	// A refused change writes neither the row nor an entry.
	if _, err := db.Change(ctx, store.Ref{ID: s.ID}, c, a); err == nil {
		t.Fatal("pausing a paused subscriber as the admin was not refused")
	}
	log, _, err := db.AuditLog(ctx, store.AuditQuery{SubjectType: "subscriber", SubjectID: s.ID})
	if err != nil || len(log) != 1 || log[0].Before["status"] != "active" || log[0].After["status"] != "paused" {
		t.Fatalf("audit entries of the change: %+v, %v", log, err)
	}
}
