package admin_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/send"
	"github.com/twostep/twostep/internal/smtptest"
)

// pass runs one real delivery pass as of the harness clock.
func (h *harness) pass() send.Summary {
	h.t.Helper()
	e := &send.Engine{DB: h.db, Library: h.library, Letters: h.letters, Open: h.open, Log: slog.New(slog.DiscardHandler),
		Conns: 2, Batch: 50, Lease: send.DefaultLease, PolicyPause: send.DefaultPolicyPause, GiveUp: time.Hour}
	s, err := e.Pass(context.Background(), h.clock)
	if err != nil {
		h.t.Fatalf("delivery pass: %v", err)
	}
	return s
}

var subscriberLink = regexp.MustCompile(`href="/admin/subscribers/(\d+)"`)

// listed is the subscriber ids a list page links to, in order.
func listed(page string) []string { return groups(subscriberLink, page) }

func TestSearchFiltersByEmailStatusAndLessonAndPagesWithoutGapsOrRepeats(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	h.exec(`
		WITH v AS (
			SELECT 'reader' || lpad(g::text, 3, '0') || '@example.com' AS email, 'Reader ' || g AS name,
				CASE WHEN g % 3 = 0 THEN 'paused' ELSE 'active' END AS status, 1 + g % 4 AS lesson
			FROM generate_series(1, 120) g
		), s AS (
			INSERT INTO subscribers (email, name, status, consent_at)
			SELECT email, name, status, now() FROM v
			RETURNING id, email, status
		)
		INSERT INTO schedule (subscriber_id, lesson, active)
		SELECT s.id, v.lesson, s.status = 'active' FROM s JOIN v USING (email)`)
	h.addSubscriber("Zed.Special@Example.org", "Zed", 7, h.clock())

	cases := []struct {
		name, query string
		want        int
	}{
		{"everyone", "", 121},
		{"an email prefix in another letter case", "q=ZED.spec", 1},
		{"a prefix matching many", "q=reader1", 21}, // reader100–reader120 and reader1xx… only 100–120 exist, plus none below 100 start with reader1 after padding
		{"a status", "status=paused", 40},
		{"a lesson", "lesson=2", 30},
		{"a status and a lesson", "status=active&lesson=2", 20},
		{"LIKE wildcards taken literally", "q=reader_", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen := h.walk(t, "/admin/subscribers?"+c.query, listed, 10)
			if len(seen) != c.want {
				t.Fatalf("%d subscribers found, want %d", len(seen), c.want)
			}
		})
	}
}

func TestTheSubscriberPageShowsTheConsentRecordAndEveryDeliveryWithItsRevisionAndReply(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	id := h.addSubscriber("ann@example.com", "Ann Lee", 1, h.clock())
	h.exec(`UPDATE subscribers SET consent_ip = '203.0.113.9', consent_version = '2026-11-v1' WHERE id = $1`, id)
	h.exec(`INSERT INTO events (subscriber_id, kind, actor, at) VALUES ($1, 'signup', 'subscriber', $2), ($1, 'confirmed', 'subscriber', $2)`, id, h.clock())
	if s := h.pass(); s.Sent != 1 {
		t.Fatalf("pass = %+v, want one sent", s)
	}
	var reply string
	h.db.Pool.QueryRow(context.Background(), `SELECT smtp_reply FROM deliveries WHERE subscriber_id = $1`, id).Scan(&reply)
	got := h.page("/admin/subscribers/" + itoa(id))
	for _, want := range []string{"ann@example.com", "Ann Lee", "203.0.113.9", "2026-11-v1", ">Signed up<", ">Confirmed the subscription<",
		"Lesson 1", `badge sent`, `history?rev=1">#1</a>`, "<code>" + reply + "</code>", "Europe/Berlin"} {
		if !strings.Contains(got, want) {
			t.Errorf("subscriber page lacks %q", want)
		}
	}
	// Two clicks from the dashboard: search, then the address.
	list := h.page("/admin/subscribers?q=ann@")
	if !strings.Contains(list, `href="/admin/subscribers/`+itoa(id)+`"`) {
		t.Error("searching for the address does not link to the subscriber")
	}
}

func TestAdminActionsChangeTheSubscriberAndAreRecordedOnTheTimelineAndInTheAuditLog(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	id := h.addSubscriber("ann@example.com", "Ann", 1, h.clock())
	h.pass() // lesson 1 sent; lesson 2 due next Monday 08:00 Berlin
	act := func(action string, form url.Values) *http.Response {
		t.Helper()
		return h.post("/admin/subscribers/"+itoa(id)+"/"+action, form)
	}
	sub := func() *drip.Subscriber {
		t.Helper()
		s, err := h.db.SubscriberByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	steps := []struct {
		action string
		form   url.Values
		check  func(*drip.Subscriber) bool
	}{
		{"pause", nil, func(s *drip.Subscriber) bool { return s.Status == drip.StatusPaused }},
		{"resume", nil, func(s *drip.Subscriber) bool {
			// At the weekly slot, never within six days of lesson 1.
			return s.Status == drip.StatusActive && s.NextDueAt != nil && !s.NextDueAt.Before(s.LastSentAt.Add(drip.MinGap)) &&
				s.NextDueAt.In(berlin(t)).Weekday() == time.Monday && s.NextDueAt.In(berlin(t)).Hour() == 8
		}},
		{"move", url.Values{"lesson": {"7"}}, func(s *drip.Subscriber) bool { return s.NextLesson == 7 && s.Round == 1 }},
		// Back to a lesson already sent in this round: a new round, so the
		// ledger can record it again.
		{"move", url.Values{"lesson": {"1"}}, func(s *drip.Subscriber) bool { return s.NextLesson == 1 && s.Round == 2 }},
		{"resend", url.Values{"lesson": {"1"}}, func(s *drip.Subscriber) bool { return s.NextLesson == 1 }},
		{"unsubscribe", nil, func(s *drip.Subscriber) bool { return s.Status == drip.StatusUnsubscribed && s.NextDueAt == nil }},
	}
	for i, st := range steps {
		resp := act(st.action, st.form)
		drain(resp)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("step %d %s = %d, want 303", i, st.action, resp.StatusCode)
		}
		if s := sub(); !st.check(s) {
			t.Fatalf("after step %d %s: %+v", i, st.action, s)
		}
	}
	if n := len(h.smtp.Messages()); n != 2 {
		t.Fatalf("%d messages, want lesson 1 and its resend", n)
	}
	for _, a := range []string{"pause", "resume", "move", "resend", "unsubscribe"} {
		if n := h.count(`SELECT count(*) FROM events WHERE subscriber_id = $1 AND kind = $2 AND actor = $3
			AND detail ? 'before' AND detail ? 'after'`, id, "admin."+a, adminEmail); n == 0 {
			t.Errorf("no admin.%s event with before and after on the timeline", a)
		}
		if n := h.count(`SELECT count(*) FROM admin_audit WHERE subject_type = 'subscriber' AND subject_id = $1
			AND action = $2 AND actor = $3 AND before IS NOT NULL AND after IS NOT NULL`, id, "subscriber."+a, adminEmail); n == 0 {
			t.Errorf("no subscriber.%s entry in the audit log", a)
		}
	}
	got := h.page("/admin/subscribers/" + itoa(id))
	for _, want := range []string{"Paused by an admin", "Resumed by an admin", "Moved to another lesson by an admin",
		"Lesson resent by an admin", "Unsubscribed by an admin"} {
		if !strings.Contains(got, want) {
			t.Errorf("timeline lacks %s", want)
		}
	}
	if timeline := between(got, "<h2>Timeline</h2>", "</table>"); strings.Contains(timeline, "<td>admin.") || strings.Contains(timeline, "<td>next_now") {
		t.Errorf("the timeline shows raw event codes:\n%s", timeline)
	}
	if audit := h.page("/admin/audit"); !strings.Contains(audit, "subscriber.unsubscribe") || !strings.Contains(audit, "status: &#34;unsubscribed&#34;") && !strings.Contains(audit, "unsubscribed") {
		t.Error("the audit page lacks the unsubscribe")
	}

	// An action that does not fit says why and changes nothing.
	resp := act("pause", nil)
	if got := body(t, resp); resp.StatusCode != http.StatusConflict || !strings.Contains(got, "Only an active subscriber") {
		t.Fatalf("pausing an unsubscribed reader = %d", resp.StatusCode)
	}
	resp = act("move", url.Values{"lesson": {"53"}})
	drain(resp)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("moving to lesson 53 = %d, want 422", resp.StatusCode)
	}
}

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestEraseRemovesPersonalDataButKeepsAnonymousDeliveryCounts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	id := h.addSubscriber("ann@example.com", "Ann Lee", 1, h.clock())
	h.pass()
	before := h.count(`SELECT count(*) FROM deliveries WHERE status = 'sent'`)

	resp := h.post("/admin/subscribers/"+itoa(id)+"/erase", url.Values{"confirm": {"nope"}})
	drain(resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || h.count(`SELECT count(*) FROM subscribers`) != 1 {
		t.Fatal("erase without typing erase went through")
	}
	resp = h.post("/admin/subscribers/"+itoa(id)+"/erase", url.Values{"confirm": {"erase"}})
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("erase = %d", resp.StatusCode)
	}
	if n := h.count(`SELECT count(*) FROM subscribers`); n != 0 {
		t.Fatal("the subscriber row is still there")
	}
	if n := h.count(`SELECT count(*) FROM deliveries WHERE status = 'sent' AND subscriber_id IS NULL AND smtp_reply = ''`); n != before {
		t.Fatalf("%d anonymous sent deliveries, want %d", n, before)
	}
	for _, table := range []string{"events", "deliveries", "admin_audit"} {
		if n := h.count(`SELECT count(*) FROM ` + table + ` t WHERE t::text ILIKE '%ann@example.com%' OR t::text ILIKE '%Ann Lee%'`); n != 0 {
			t.Errorf("%s still holds the address or name in %d rows", table, n)
		}
	}
	if n := h.count(`SELECT count(*) FROM admin_audit WHERE action = 'subscriber.erase' AND subject_id = $1`, id); n != 1 {
		t.Fatal("the erasure is not in the audit log")
	}
	resp = h.get("/admin/subscribers/" + itoa(id))
	drain(resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the erased subscriber's page = %d, want 404", resp.StatusCode)
	}
}

func TestTheDashboardCountsChartsAndRetriesAFailedDelivery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	ok := h.addSubscriber("ok@example.com", "", 1, h.clock())
	bad := h.addSubscriber("refused@example.com", "", 1, h.clock())
	h.addSubscriber("later@example.com", "", 5, h.clock().Add(3*24*hour))
	h.smtp.SetHook(func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageRcpt && ev.To == "refused@example.com" {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailbox busy, try later"}
		}
		return nil
	})
	h.pass()
	h.advance(2 * time.Hour) // past GiveUp: the next failure gives the lesson up
	h.pass()
	if err := h.db.Tried(context.Background(), ok, 1, 1, h.clock()); err != nil {
		t.Fatal(err)
	}
	got := h.page("/admin/")
	for _, want := range []string{"<svg", "Active subscribers by their next lesson", "Lessons sent per week", "mailbox busy", "Retry now",
		`<title>Lesson 2 next: 1 active</title>`, `<title>Lesson 1: 1 readers tried it</title>`} {
		if !strings.Contains(got, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if n := h.count(`SELECT count(*) FROM deliveries WHERE subscriber_id = $1 AND status = 'failed'`, bad); n != 1 {
		t.Fatalf("the refused delivery is not failed (%d)", n)
	}
	var delivery int64
	h.db.Pool.QueryRow(context.Background(), `SELECT id FROM deliveries WHERE subscriber_id = $1`, bad).Scan(&delivery)

	h.smtp.SetHook(nil)
	resp := h.post("/admin/deliveries/"+itoa(delivery)+"/retry", nil)
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry = %d", resp.StatusCode)
	}
	if s := h.pass(); s.Sent != 1 {
		t.Fatalf("pass after the retry = %+v, want the lesson sent", s)
	}
	if n := h.count(`SELECT count(*) FROM deliveries WHERE id = $1 AND status = 'sent'`, delivery); n != 1 {
		t.Fatal("the retried delivery was not sent")
	}
	if n := h.count(`SELECT count(*) FROM events WHERE subscriber_id = $1 AND kind = 'admin.retry' AND actor = $2`, bad, adminEmail); n != 1 {
		t.Fatal("the retry is not on the subscriber's timeline")
	}
	if n := h.count(`SELECT count(*) FROM admin_audit WHERE action = 'delivery.retry'`); n != 1 {
		t.Fatal("the retry is not in the audit log")
	}
	// Retrying a sent delivery does not fit.
	resp = h.post("/admin/deliveries/"+itoa(delivery)+"/retry", nil)
	drain(resp)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("retrying a sent delivery = %d, want 409", resp.StatusCode)
	}
}

func TestTheAdminCanResendOnlyLessonsTheReaderHasReceived(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	id := h.addSubscriber("ann@example.com", "Ann", 1, h.clock())
	h.pass() // lesson 1 sent; the reader is on lesson 2
	page := h.page("/admin/subscribers/" + itoa(id))
	form := between(page, `action="/admin/subscribers/`+itoa(id)+`/resend"`, "</form>")
	if !strings.Contains(form, `<option value="1">Lesson 1: `) || strings.Count(form, "<option") != 1 || !strings.Contains(form, "Resend this lesson") {
		t.Fatalf("the resend form offers more or less than lesson 1:\n%s", form)
	}
	for _, n := range []string{"2", "40"} {
		resp := h.post("/admin/subscribers/"+itoa(id)+"/resend", url.Values{"lesson": {n}})
		if got := body(t, resp); resp.StatusCode != http.StatusConflict || !strings.Contains(got, "only lessons they have received can be resent") {
			t.Fatalf("resending lesson %s answered %d:\n%s", n, resp.StatusCode, got)
		}
	}
	if n := len(h.smtp.Messages()); n != 1 {
		t.Fatalf("%d messages, want only lesson 1", n)
	}
	resp := h.post("/admin/subscribers/"+itoa(id)+"/resend", url.Values{"lesson": {"1"}})
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther || len(h.smtp.Messages()) != 2 {
		t.Fatalf("resending lesson 1 answered %d with %d messages", resp.StatusCode, len(h.smtp.Messages()))
	}
}

func TestTheTimelineNamesEventsInPlainWordsNotCodes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	id := h.addSubscriber("ann@example.com", "Ann", 1, h.clock())
	for _, kind := range []string{"next_now", "went_back", "schedule_changed", "email_change_requested", "some_new.kind"} {
		h.exec(`INSERT INTO events (subscriber_id, kind, actor, at) VALUES ($1, $2, 'subscriber', $3)`, id, kind, h.clock())
	}
	timeline := between(h.page("/admin/subscribers/"+itoa(id)), "<h2>Timeline</h2>", "</table>")
	for _, want := range []string{"Asked for the next lesson early", "Went back to an earlier lesson",
		"Changed the day, hour or time zone", "Asked to change their address", "Some new: kind"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("the timeline lacks %q", want)
		}
	}
	for _, code := range []string{"next_now", "went_back", "schedule_changed", "some_new"} {
		if strings.Contains(timeline, code) {
			t.Errorf("the timeline shows the code %s:\n%s", code, timeline)
		}
	}
}
