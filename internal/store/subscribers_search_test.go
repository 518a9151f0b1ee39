package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

// addReaders inserts readers with the given addresses, each active on
// lesson 2 unless status says otherwise, and returns their ids in order.
func addReaders(t *testing.T, db *store.DB, status drip.Status, lesson int, emails ...string) []int64 {
	t.Helper()
	var ids []int64
	for _, e := range emails {
		var id int64
		if err := db.Pool.QueryRow(context.Background(), `
			WITH s AS (
				INSERT INTO subscribers (email, status, time_zone, consent_at, confirmed_at)
				VALUES ($1, $2, 'UTC', $4, $4) RETURNING id)
			INSERT INTO schedule (subscriber_id, lesson, active) SELECT id, $3, $2 = 'active' FROM s
			RETURNING subscriber_id`, e, string(status), lesson, now).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// searchAll walks every page of q and returns the addresses in order.
func searchAll(t *testing.T, db *store.DB, q store.SubscriberQuery) []string {
	t.Helper()
	var out []string
	for range 100 {
		page, err := db.SearchSubscribers(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Subscribers {
			out = append(out, s.Email)
		}
		if page.Next == "" {
			return out
		}
		q.After = page.Next
	}
	t.Fatal("the pages never ended")
	return nil
}

func TestSearchFindsByAddressPrefixStatusAndLessonAndPagesWithoutGapsOrRepeats(t *testing.T) {
	db := dbtest.New(t)
	addReaders(t, db, drip.StatusActive, 2, "Ann@example.com", "anna@example.com", "an_x@example.com", "bob@example.com")
	addReaders(t, db, drip.StatusPaused, 5, "andy@example.com", "carl@example.com")

	cases := []struct {
		name string
		q    store.SubscriberQuery
		want string
	}{
		{"a prefix in any letter case, by lower-case address in byte order", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Email: "AN"}, Limit: 2},
			"[an_x@example.com andy@example.com Ann@example.com anna@example.com]"},
		{"LIKE's wildcards are plain letters", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Email: "an_"}, Limit: 2},
			"[an_x@example.com]"},
		{"a status, newest first", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Status: drip.StatusPaused}, Limit: 1},
			"[carl@example.com andy@example.com]"},
		{"a lesson", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Lesson: 2}, Limit: 3},
			"[bob@example.com an_x@example.com anna@example.com Ann@example.com]"},
		{"a prefix and a status", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Email: "an", Status: drip.StatusActive}, Limit: 10},
			"[an_x@example.com Ann@example.com anna@example.com]"},
		{"everyone, newest first", store.SubscriberQuery{Limit: 4},
			"[carl@example.com andy@example.com bob@example.com an_x@example.com anna@example.com Ann@example.com]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := fmt.Sprint(searchAll(t, db, c.q)); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
	if _, err := db.SearchSubscribers(context.Background(), store.SubscriberQuery{After: "not-a-number"}); err == nil {
		t.Fatal("a forged cursor was accepted")
	}
}

func TestTheTimelineMergesEventsAndDeliveriesNewestFirst(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := signedUp(t, db, "ann@example.com", true)
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO deliveries (subscriber_id, round, lesson, status, attempts, message_id, smtp_reply, due_at, sent_at, created_at, updated_at)
		VALUES ($1, 1, 1, 'sent', 1, '<m1@example.com>', '250 ok', $2, $3, $2, $3)`, s.ID, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tl, err := db.Timeline(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i, e := range tl {
		kinds = append(kinds, e.Kind)
		if i > 0 && e.At.After(tl[i-1].At) {
			t.Fatalf("the timeline is not newest first: %v after %v", e.At, tl[i-1].At)
		}
	}
	if fmt.Sprint(kinds) != "[delivery confirmed signup]" || tl[0].Delivery == nil || tl[0].Delivery.MessageID != "<m1@example.com>" ||
		tl[0].Delivery.Status != drip.DeliverySent {
		t.Fatalf("timeline = %v (%+v)", kinds, tl[0].Delivery)
	}
}

func TestErasingASubscriberKeepsTheirDeliveriesWithoutThemAndAuditsNoPersonalData(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := signedUp(t, db, "ann@example.com", true)
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO deliveries (subscriber_id, round, lesson, status, attempts, smtp_reply, due_at, sent_at, created_at, updated_at)
		VALUES ($1, 1, 1, 'sent', 1, '250 ok for ann@example.com', $2, $2, $2, $2)`, s.ID, now); err != nil {
		t.Fatal(err)
	}
	a := store.AdminAction{Actor: "owner@example.com", IP: "192.0.2.1", At: now}
	if err := db.EraseSubscriber(ctx, s.ID, a); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SubscriberByID(ctx, s.ID); !errors.Is(err, drip.ErrNotFound) {
		t.Fatalf("the erased subscriber: %v", err)
	}
	if n := count(t, db, `SELECT count(*) FROM deliveries WHERE subscriber_id IS NULL AND smtp_reply = '' AND status = 'sent'`); n != 1 {
		t.Fatalf("%d anonymous sent deliveries kept, want 1", n)
	}
	if n := count(t, db, `SELECT count(*) FROM admin_audit WHERE action = 'subscriber.erase' AND NOT (after::text LIKE '%ann@%')`); n != 1 {
		t.Fatalf("%d erase entries without the address in their after state", n)
	}
	if err := db.EraseSubscriber(ctx, s.ID, a); !errors.Is(err, drip.ErrNotFound) {
		t.Fatalf("erasing twice: %v, want drip.ErrNotFound", err)
	}
}
