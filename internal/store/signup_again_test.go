package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

// consentRecord is what a signup may change of a subscriber's row.
type consentRecord struct {
	Name, TimeZone, IP, UserAgent, FormURL, Version string
	At                                              time.Time
	Weekday                                         *time.Weekday
	Hour                                            *int
}

func recordOf(s *drip.Subscriber) consentRecord {
	return consentRecord{Name: s.Name, TimeZone: s.TimeZone, IP: s.ConsentIP, UserAgent: s.ConsentUserAgent,
		FormURL: s.ConsentFormURL, Version: s.ConsentVersion, At: s.ConsentAt.UTC(), Weekday: s.SendWeekday, Hour: s.SendHour}
}

func (c consentRecord) same(o consentRecord) bool {
	return c.Name == o.Name && c.TimeZone == o.TimeZone && c.IP == o.IP && c.UserAgent == o.UserAgent &&
		c.FormURL == o.FormURL && c.Version == o.Version && c.At.Equal(o.At) && samePtr(c.Weekday, o.Weekday) && samePtr(c.Hour, o.Hour)
}

func samePtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func TestSigningUpAgainChangesTheConsentRecordOnlyWhenTheReaderConfirms(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	first := drip.Signup{Email: "ann@example.org", Name: "Ann", TimeZone: "Europe/Berlin", IP: "198.51.100.1",
		UserAgent: "Ann's browser", FormURL: "https://lessons.example/", ConsentVersion: "v1", At: now.Add(-30 * 24 * time.Hour)}
	friday, seven := time.Friday, 7
	again := drip.Signup{Email: "ANN@example.org", Name: "Someone Else", TimeZone: "Asia/Tokyo", IP: "203.0.113.66",
		UserAgent: "another browser", FormURL: "https://lessons.example/?ref=x", ConsentVersion: "v2", At: now,
		Weekday: &friday, Hour: &seven}
	for _, status := range []drip.Status{drip.StatusUnsubscribed, drip.StatusPending} {
		t.Run(string(status), func(t *testing.T) {
			db := dbtest.New(t)
			if _, err := db.Signup(ctx, first); err != nil {
				t.Fatal(err)
			}
			sub, err := db.SubscriberByEmail(ctx, first.Email)
			if err != nil {
				t.Fatal(err)
			}
			if status == drip.StatusUnsubscribed {
				if _, err := db.Confirm(ctx, sub.ID, sub.TokenGen, time.Monday, 8, first.At.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Pool.Exec(ctx, `UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = $2 WHERE id = $1`,
					sub.ID, first.At.Add(48*time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			before, err := db.SubscriberByID(ctx, sub.ID)
			if err != nil {
				t.Fatal(err)
			}

			if queued, err := db.Signup(ctx, again); err != nil || !queued {
				t.Fatalf("signing up again: queued %v, %v; want a confirmation", queued, err)
			}
			unconfirmed, err := db.SubscriberByID(ctx, sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !recordOf(unconfirmed).same(recordOf(before)) || unconfirmed.Status != status {
				t.Fatalf("before any confirmation the row changed:\nbefore %+v\nafter  %+v", recordOf(before), recordOf(unconfirmed))
			}
			// The reader's data export shows the signup waiting.
			x, err := db.Export(ctx, unconfirmed)
			if err != nil {
				t.Fatal(err)
			}
			if w, _ := x.Consent["signup_awaiting_confirmation"].(map[string]any); w["ip"] != again.IP {
				t.Errorf("the data export shows %v as the signup awaiting confirmation, want the one from %s", w, again.IP)
			}
			// The cleanup of old pending signups counts the new one: the
			// confirmation just sent must still find its reader.
			if n, err := db.DeleteUnconfirmed(ctx, now.Add(-7*24*time.Hour)); err != nil || n != 0 {
				t.Fatalf("DeleteUnconfirmed removed %d (%v) right after a new signup", n, err)
			}

			confirmed, err := db.Confirm(ctx, sub.ID, sub.TokenGen, time.Monday, 8, now.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			want := consentRecord{Name: again.Name, TimeZone: again.TimeZone, IP: again.IP, UserAgent: again.UserAgent,
				FormURL: again.FormURL, Version: again.ConsentVersion, At: again.At, Weekday: &friday, Hour: &seven}
			if got := recordOf(confirmed); !got.same(want) || confirmed.Status != drip.StatusActive || confirmed.ConsentMethod != "form" {
				t.Fatalf("after confirming the consent record is %+v (%s, %s)\nwant the new signup's %+v", got, confirmed.Status, confirmed.ConsentMethod, want)
			}
			// Confirming again is a no-op: nothing left waiting to apply.
			var waiting bool
			if err := db.Pool.QueryRow(ctx, `SELECT signup_pending IS NOT NULL FROM subscribers WHERE id = $1`, sub.ID).Scan(&waiting); err != nil || waiting {
				t.Fatalf("after confirming a signup still waits: %v %v", waiting, err)
			}
		})
	}
}

func TestASignupAgainThatIsNeverConfirmedLeavesTheOldRecordAsItWas(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	first := drip.Signup{Email: "bo@example.org", Name: "Bo", TimeZone: "America/Chicago", IP: "198.51.100.2",
		UserAgent: "Bo's browser", FormURL: "https://lessons.example/", ConsentVersion: "v1", At: now.Add(-10 * 24 * time.Hour)}
	if _, err := db.Signup(ctx, first); err != nil {
		t.Fatal(err)
	}
	sub, _ := db.SubscriberByEmail(ctx, first.Email)
	if _, err := db.Confirm(ctx, sub.ID, sub.TokenGen, time.Tuesday, 9, first.At.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = $2 WHERE id = $1`,
		sub.ID, now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	before, _ := db.SubscriberByID(ctx, sub.ID)
	for i, ip := range []string{"203.0.113.7", "203.0.113.8"} {
		hour := 3
		if _, err := db.Signup(ctx, drip.Signup{Email: first.Email, Name: "Mallory", TimeZone: "UTC", IP: ip,
			UserAgent: "curl", ConsentVersion: "v2", At: now.Add(time.Duration(i) * time.Minute), Hour: &hour}); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := db.SubscriberByID(ctx, sub.ID)
	if !recordOf(after).same(recordOf(before)) || after.Status != drip.StatusUnsubscribed {
		t.Fatalf("unconfirmed signups changed the record:\nbefore %+v\nafter  %+v (%s)", recordOf(before), recordOf(after), after.Status)
	}
}

func TestASignupWaitingForConfirmationIsDroppedWhenTheReaderComesBackWithoutIt(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	first := drip.Signup{Email: "cy@example.org", Name: "Cy", TimeZone: "Europe/Paris", IP: "198.51.100.3", At: now.Add(-10 * 24 * time.Hour)}
	if _, err := db.Signup(ctx, first); err != nil {
		t.Fatal(err)
	}
	sub, _ := db.SubscriberByEmail(ctx, first.Email)
	if _, err := db.Confirm(ctx, sub.ID, sub.TokenGen, time.Tuesday, 9, first.At.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	left, err := db.Change(ctx, store.Ref{ID: sub.ID, Gen: sub.TokenGen},
		drip.Change{Action: drip.ActUnsubscribe, Actor: drip.ActorSubscriber, Now: now.Add(-time.Hour)}, store.AdminAction{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Signup(ctx, drip.Signup{Email: first.Email, Name: "Someone", TimeZone: "UTC", IP: "203.0.113.9", At: now}); err != nil {
		t.Fatal(err)
	}
	waiting := func() bool {
		t.Helper()
		var w bool
		if err := db.Pool.QueryRow(ctx, `SELECT signup_pending IS NOT NULL FROM subscribers WHERE id = $1`, sub.ID).Scan(&w); err != nil {
			t.Fatal(err)
		}
		return w
	}
	if !waiting() {
		t.Fatal("signing up again left nothing waiting for confirmation")
	}
	// The reader comes back by their own link, without the confirmation.
	if _, err := db.Change(ctx, store.Ref{ID: left.ID, Gen: left.TokenGen},
		drip.Change{Action: drip.ActResubscribe, Actor: drip.ActorSubscriber, Now: now.Add(time.Minute)}, store.AdminAction{}); err != nil {
		t.Fatal(err)
	}
	if waiting() {
		t.Fatal("a reader back without the confirmation still has the other signup waiting, for a later confirmation to apply")
	}
}
