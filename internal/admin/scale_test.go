package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

func TestEverySubscriberSearchUsesAnIndexAtAMillionRows(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a million rows: skipped with -short")
	}
	h := newHarness(t)
	ctx := context.Background()
	start := time.Now()
	h.exec(`
		WITH v AS (
			SELECT 'reader' || g || '@example' || (g % 100) || '.com' AS email, 'Reader ' || g AS name,
				(ARRAY['active','active','active','active','active','active','paused','completed','unsubscribed','bounced'])[1 + g % 10] AS status,
				1 + g % 52 AS lesson, now() + (g % 10080) * interval '1 minute' AS due_at
			FROM generate_series(1, 1000000) g
		), s AS (
			INSERT INTO subscribers (email, name, status, time_zone, consent_at)
			SELECT email, name, status, 'UTC', now() FROM v
			RETURNING id, email, status
		)
		INSERT INTO schedule (subscriber_id, lesson, due_at, active)
		SELECT s.id, v.lesson, v.due_at, s.status = 'active' FROM s JOIN v USING (email)`)
	h.exec(`ANALYZE subscribers, schedule`)
	t.Logf("inserted 1,000,000 subscribers in %s", time.Since(start).Round(time.Millisecond))

	cases := []struct {
		name string
		q    store.SubscriberQuery
	}{
		{"the newest subscribers", store.SubscriberQuery{}},
		{"a page deep into the list", store.SubscriberQuery{After: "500000"}},
		{"an email prefix", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Email: "reader4242"}}},
		{"an email prefix, a later page", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Email: "reader4"}, After: "reader45"}},
		{"a rare status", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Status: drip.StatusBounced}}},
		{"a common status", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Status: drip.StatusActive}, After: "900000"}},
		{"a lesson", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Lesson: 17}}},
		{"a lesson, a page deep into it", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Lesson: 17}, After: "500000"}},
		{"a status and a lesson", store.SubscriberQuery{SubscriberFilter: store.SubscriberFilter{Status: drip.StatusPaused, Lesson: 17}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, err := h.db.ExplainSearch(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(plan, "Seq Scan") {
				t.Fatalf("the search reads the whole table:\n%s", plan)
			}
			start := time.Now()
			page, err := h.db.SearchSubscribers(ctx, store.SubscriberQuery{SubscriberFilter: c.q.SubscriberFilter, After: c.q.After, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Subscribers) == 0 {
				t.Fatal("no results")
			}
			t.Logf("%d results in %s", len(page.Subscribers), time.Since(start).Round(time.Microsecond))
		})
	}
	start = time.Now()
	if _, err := h.db.LoadDashboard(ctx, time.Now(), 12); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard counts over 1,000,000 subscribers in %s", time.Since(start).Round(time.Millisecond))
}
