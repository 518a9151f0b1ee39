package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/smtptest"
)

// reader signs up, confirms and receives lesson 1; it returns the paths of
// the preferences page and of lesson 1's "I tried it" link.
func (h *harness) reader(email, tz string) (prefsPath string, lesson1 smtptest.Message) {
	h.t.Helper()
	h.post("/subscribe", signup(email, "Ann Lee", tz))
	h.flush()
	msgs := h.smtp.Messages()
	h.post(link(h.t, msgs[len(msgs)-1], "confirm"), nil)
	if s := h.pass(); s.Sent != 1 {
		h.t.Fatalf("lesson 1 pass: %v", s)
	}
	msgs = h.smtp.Messages()
	lesson1 = msgs[len(msgs)-1]
	return link(h.t, lesson1, "preferences"), lesson1
}

func (h *harness) pass() sendSummary {
	h.t.Helper()
	s, err := h.engine.Pass(context.Background(), h.clock)
	if err != nil {
		h.t.Fatalf("pass: %v", err)
	}
	return sendSummary{Sent: s.Sent}
}

type sendSummary struct{ Sent int }

func (h *harness) sub(email string) *drip.Subscriber {
	h.t.Helper()
	s, err := h.db.SubscriberByEmail(context.Background(), email)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func expectRedirect(t *testing.T, resp *http.Response, done string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "?done="+done) {
		t.Fatalf("answer %d %q, want 303 ?done=%s: %s", resp.StatusCode, resp.Header.Get("Location"), done, body(t, resp))
	}
}

func TestEveryLessonLinksToPreferencesTriedAndViewInBrowser(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, m := h.reader("ann@example.com", "Europe/Berlin")
	for _, want := range []string{prefs + "/lessons/1", "/tried/"} {
		if !strings.Contains(m.Text(), want) || !strings.Contains(m.HTML(), want) {
			t.Fatalf("lesson 1 lacks %q in both parts", want)
		}
	}
	if got := body(t, h.get(prefs)); !strings.Contains(got, "lesson 2 of 52") {
		t.Fatalf("preferences page: %s", got)
	}
}

func TestChangingDayHourAndZoneMovesTheNextLessonAcrossADSTChange(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "Europe/Berlin") // lesson 1: Tuesday 3 March 2026, 15:00 UTC
	resp := h.post(prefs+"/schedule", url.Values{"weekday": {"0"}, "hour": {"7"}, "tz": {"America/New_York"}})
	expectRedirect(t, resp, "schedule")
	s := h.sub("ann@example.com")
	ny, _ := time.LoadLocation("America/New_York")
	// Sunday 8 March (07:00 EST) is under six days after lesson 1; the next
	// Sunday, 15 March, is after New York's change to summer time.
	want := time.Date(2026, 3, 15, 7, 0, 0, 0, ny)
	if s.TimeZone != "America/New_York" || *s.SendWeekday != time.Sunday || *s.SendHour != 7 || !s.NextDueAt.Equal(want) {
		t.Fatalf("after change: %s %v %d due %v, want %v", s.TimeZone, *s.SendWeekday, *s.SendHour, s.NextDueAt, want)
	}
	if _, off := want.Zone(); off != -4*3600 {
		t.Fatalf("15 March should be EDT, offset %d", off)
	}
	h.advance(want.Sub(h.clock()) - time.Minute)
	if s := h.pass(); s.Sent != 0 {
		t.Fatal("lesson 2 came before its slot")
	}
	h.advance(time.Minute)
	if s := h.pass(); s.Sent != 1 {
		t.Fatal("lesson 2 did not come at its slot")
	}
	next := h.sub("ann@example.com").NextDueAt.In(ny)
	if next.Weekday() != time.Sunday || next.Hour() != 7 {
		t.Fatalf("lesson 3 due %v, want Sunday 07:00 New York", next)
	}
}

func TestBadScheduleValuesAreRefusedAndChangeNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "Europe/Berlin")
	before := h.sub("ann@example.com")
	for _, form := range []url.Values{
		{"weekday": {"7"}, "hour": {"7"}, "tz": {"UTC"}},
		{"weekday": {"1"}, "hour": {"24"}, "tz": {"UTC"}},
		{"weekday": {"1"}, "hour": {"-1"}, "tz": {"UTC"}},
		{"weekday": {"x"}, "hour": {"7"}, "tz": {"UTC"}},
		{"weekday": {"1"}, "hour": {"7"}, "tz": {"Mars/Base"}},
		{"weekday": {"1"}, "hour": {"7"}, "tz": {"../../etc/passwd"}},
	} {
		if resp := h.post(prefs+"/schedule", form); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("%v answered %d, want 422", form, resp.StatusCode)
		}
	}
	after := h.sub("ann@example.com")
	if after.TimeZone != before.TimeZone || !after.NextDueAt.Equal(*before.NextDueAt) || *after.SendHour != *before.SendHour {
		t.Fatal("a refused change changed the schedule")
	}
}

func TestPauseForTwoWeeksSendsNothingThenResumesOnTheWeeklyRule(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	expectRedirect(t, h.post(prefs+"/pause", url.Values{"weeks": {"2"}}), "paused")
	s := h.sub("ann@example.com")
	if s.Status != drip.StatusPaused || s.NextDueAt != nil || s.PausedUntil == nil {
		t.Fatalf("after pause: %+v", s)
	}
	for range 13 {
		h.advance(24 * time.Hour)
		if p := h.pass(); p.Sent != 0 {
			t.Fatal("a paused reader got a lesson")
		}
	}
	h.advance(25 * time.Hour) // the pause has ended
	h.pass()
	s = h.sub("ann@example.com")
	if s.Status != drip.StatusActive || s.NextDueAt == nil {
		t.Fatalf("not resumed: %+v", s)
	}
	if got := s.NextDueAt.UTC(); got.Weekday() != time.Tuesday || got.Hour() != 8 || got.Before(h.clock()) {
		t.Fatalf("resumed lesson due %v, want the next Tuesday 08:00 UTC from now %v", got, h.clock())
	}
}

func TestPauseUntilResumedAndResume(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	expectRedirect(t, h.post(prefs+"/pause", url.Values{"weeks": {"0"}}), "paused")
	h.advance(60 * 24 * time.Hour)
	if h.pass().Sent != 0 || h.sub("ann@example.com").Status != drip.StatusPaused {
		t.Fatal("an open-ended pause ended by itself")
	}
	expectRedirect(t, h.post(prefs+"/resume", nil), "resumed")
	s := h.sub("ann@example.com")
	if s.Status != drip.StatusActive || s.NextDueAt == nil || s.NextDueAt.Before(h.clock()) {
		t.Fatalf("after resume: %+v", s)
	}
	if resp := h.post(prefs+"/pause", url.Values{"weeks": {"3"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a 3-week pause answered %d", resp.StatusCode)
	}
}

func TestNextLessonNowWorksOnceADayAndTheRhythmCountsFromIt(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	h.advance(time.Hour)
	expectRedirect(t, h.post(prefs+"/next", nil), "next")
	if h.pass().Sent != 1 || h.sub("ann@example.com").NextLesson != 3 {
		t.Fatal("lesson 2 did not come at once")
	}
	sentAt := h.clock()
	h.advance(2 * time.Hour)
	if resp := h.post(prefs+"/next", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second early lesson within a day answered %d, want 429", resp.StatusCode)
	}
	s := h.sub("ann@example.com")
	if s.NextDueAt.Sub(sentAt) < drip.MinGap {
		t.Fatalf("lesson 3 due %v, under six days after lesson 2 at %v", s.NextDueAt, sentAt)
	}
	h.advance(23 * time.Hour)
	expectRedirect(t, h.post(prefs+"/next", nil), "next")
}

func TestRestartAndGoBackToAReceivedLesson(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	for range 2 { // lessons 2 and 3
		h.set(*h.sub("ann@example.com").NextDueAt)
		h.pass()
	}
	// A lesson not received yet does not fit where the reader stands: 409.
	if resp := h.post(prefs+"/back", url.Values{"lesson": {"7"}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("going forward to lesson 7 answered %d", resp.StatusCode)
	}
	expectRedirect(t, h.post(prefs+"/back", url.Values{"lesson": {"2"}}), "back")
	s := h.sub("ann@example.com")
	if s.NextLesson != 2 || s.Round != 2 {
		t.Fatalf("after going back: lesson %d round %d", s.NextLesson, s.Round)
	}
	h.set(*s.NextDueAt)
	if h.pass().Sent != 1 || lessonHeader(h.smtp.Messages()) != "2" {
		t.Fatal("lesson 2 was not sent again")
	}
}

func lessonHeader(msgs []smtptest.Message) string {
	return msgs[len(msgs)-1].Header.Get("X-Twostep-Lesson")
}

func TestNameChangeAndBadNames(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	expectRedirect(t, h.post(prefs+"/name", url.Values{"name": {"Annie"}}), "name")
	if h.sub("ann@example.com").Name != "Annie" {
		t.Fatal("name not changed")
	}
	for _, bad := range []string{"A\r\nBcc: x@example.com", strings.Repeat("n", 101)} {
		if resp := h.post(prefs+"/name", url.Values{"name": {bad}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("name %q answered %d", bad, resp.StatusCode)
		}
	}
	if h.sub("ann@example.com").Name != "Annie" {
		t.Fatal("a refused name was stored")
	}
}

func TestMyLessonsListsOnlyReceivedLessonsNewestFirst(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	h.set(*h.sub("ann@example.com").NextDueAt)
	h.pass()
	list := body(t, h.get(prefs+"/lessons"))
	i2, i1 := strings.Index(list, "/lessons/2"), strings.Index(list, "/lessons/1")
	if i2 < 0 || i1 < 0 || i2 > i1 {
		t.Fatalf("want lesson 2 listed before lesson 1:\n%s", list)
	}
	if resp := h.get(prefs + "/lessons/1"); resp.StatusCode != 200 || !strings.Contains(body(t, resp), "Try this week") {
		t.Fatal("lesson 1 page missing")
	}
	for _, n := range []string{"3", "52", "0", "abc", "99999999999999999999"} {
		if resp := h.get(prefs + "/lessons/" + n); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("lesson %s answered %d, want 404", n, resp.StatusCode)
		}
	}
}

func TestITriedItIsRecordedOnlyByItsButton(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	_, m := h.reader("ann@example.com", "UTC")
	tried := link(t, m, "tried")
	if !strings.HasSuffix(tried, "/1") {
		t.Fatalf("tried link %q is not for lesson 1", tried)
	}
	if resp := h.get(tried); resp.StatusCode != 200 {
		t.Fatalf("tried page %d", resp.StatusCode)
	}
	if n := h.count(`SELECT count(*) FROM tried`); n != 0 {
		t.Fatal("a GET recorded a try")
	}
	page := body(t, h.postRedirectGet(tried, nil))
	if !strings.Contains(page, "Thank you") || !strings.Contains(page, "?") {
		t.Fatalf("thank-you page lacks the reflection question:\n%s", page)
	}
	h.post(tried, nil) // twice is once
	if n := h.count(`SELECT count(*) FROM tried WHERE lesson = 1`); n != 1 {
		t.Fatalf("lesson 1 tried %d times; twice is once", n)
	}
	// Not received yet: refused.
	if resp := h.post(strings.TrimSuffix(tried, "/1")+"/2", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("trying lesson 2 answered %d", resp.StatusCode)
	}
}

func TestDownloadMyData(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	resp := h.get(prefs + "/data")
	var x struct {
		Profile    map[string]any   `json:"profile"`
		Consent    map[string]any   `json:"consent"`
		Deliveries []map[string]any `json:"deliveries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&x); err != nil {
		t.Fatal(err)
	}
	if x.Profile["email"] != "ann@example.com" || x.Consent["ip"] != "127.0.0.1" || len(x.Deliveries) != 1 || x.Deliveries[0]["lesson"] != float64(1) {
		t.Fatalf("export: %+v", x)
	}
}

func TestUnsubscribeAndResubscribeFromThePage(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	expectRedirect(t, h.post(prefs+"/unsubscribe", nil), "unsubscribed")
	if h.sub("ann@example.com").Status != drip.StatusUnsubscribed {
		t.Fatal("not unsubscribed")
	}
	h.advance(8 * 24 * time.Hour)
	if h.pass().Sent != 0 {
		t.Fatal("an unsubscribed reader got a lesson")
	}
	expectRedirect(t, h.post(prefs+"/resubscribe", nil), "resubscribed")
	if s := h.sub("ann@example.com"); s.Status != drip.StatusActive || s.NextLesson != 2 {
		t.Fatalf("after resubscribe: %+v", s)
	}
}

func TestErasureLeavesNoPersonalDataAndKillsTheLinks(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, m := h.reader("erase.me@example.com", "UTC")
	h.post(link(t, m, "tried"), nil)
	deliveries := h.count(`SELECT count(*) FROM deliveries`)
	if resp := h.post(prefs+"/erase", nil); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("erase without the tick answered %d", resp.StatusCode)
	}
	if page := body(t, h.postRedirectGet(prefs+"/erase", url.Values{"sure": {"yes"}})); !strings.Contains(page, "Everything is erased") || strings.Contains(page, "erase.me") {
		t.Fatalf("after erasing:\n%s", page)
	}
	// Search every text-like column of every table for the address and name.
	ctx := context.Background()
	rows, err := h.db.Pool.Query(ctx, `
		SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'inet')`)
	if err != nil {
		t.Fatal(err)
	}
	var cols [][2]string
	for rows.Next() {
		var tb, c string
		rows.Scan(&tb, &c)
		cols = append(cols, [2]string{tb, c})
	}
	rows.Close()
	for _, c := range cols {
		for _, needle := range []string{"erase.me", "Ann Lee"} {
			var n int
			q := `SELECT count(*) FROM "` + c[0] + `" WHERE "` + c[1] + `"::text ILIKE '%' || $1 || '%'`
			if err := h.db.Pool.QueryRow(ctx, q, needle).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				t.Errorf("%s.%s still holds %q", c[0], c[1], needle)
			}
		}
	}
	if got := h.count(`SELECT count(*) FROM deliveries`); got != deliveries {
		t.Fatalf("delivery counts changed: %d → %d", deliveries, got)
	}
	if got := h.count(`SELECT count(*) FROM tried`); got != 1 {
		t.Fatal("the anonymous try was not kept")
	}
	for _, p := range []string{prefs, prefs + "/lessons/1"} {
		if resp := h.get(p); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s after erasure answered %d", p, resp.StatusCode)
		}
	}
	if resp := h.post(link(t, m, "unsubscribe"), url.Values{"List-Unsubscribe": {"One-Click"}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unsubscribe link after erasure answered %d", resp.StatusCode)
	}
}

func TestForgedForeignAndErasedTokensAreRefusedOnEveryPreferencesRoute(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	other, _ := h.reader("bob@example.com", "UTC")
	before := h.sub("ann@example.com")
	tok := strings.TrimPrefix(prefs, "/preferences/")
	forged := "/preferences/" + tok[:len(tok)-4] + "AAAA"
	if forged == prefs {
		forged = "/preferences/" + tok[:len(tok)-4] + "BBBB"
	}
	// A confirm-purpose token for Ann is not a preferences token.
	wrong := "/preferences/" + strings.TrimPrefix(link(t, h.smtp.Messages()[0], "confirm"), "/confirm/")
	h.post(other+"/erase", url.Values{"sure": {"yes"}})
	for _, base := range []string{forged, wrong, other} {
		for _, action := range []string{"/schedule", "/pause", "/resume", "/next", "/back", "/name", "/email", "/unsubscribe", "/resubscribe", "/erase"} {
			resp := h.post(base+action, url.Values{"weekday": {"0"}, "hour": {"7"}, "tz": {"UTC"}, "weeks": {"1"}, "lesson": {"1"},
				"name": {"Mallory"}, "email": {"mallory@example.com"}, "sure": {"yes"}})
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("POST %s%s answered %d, want 404", base[:20], action, resp.StatusCode)
			}
		}
		for _, p := range []string{"", "/data", "/lessons", "/lessons/1"} {
			if resp := h.get(base + p); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("GET %s answered %d", p, resp.StatusCode)
			}
		}
	}
	after := h.sub("ann@example.com")
	if after.Name != before.Name || after.Status != before.Status || !after.NextDueAt.Equal(*before.NextDueAt) {
		t.Fatal("a refused token changed the subscriber")
	}
}

func TestAddressChangeWaitsForTheNewAddressAndTellsTheOldOne(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	for _, bad := range []string{"nope", "x@y.z\r\nBcc: v@example.com"} {
		if resp := h.post(prefs+"/email", url.Values{"email": {bad}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("new address %q answered %d", bad, resp.StatusCode)
		}
	}
	expectRedirect(t, h.post(prefs+"/email", url.Values{"email": {"typo@example.com"}}), "email")
	h.advance(time.Minute)
	if resp := h.post(prefs+"/email", url.Values{"email": {"victim@example.com"}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a second request within the hour answered %d, want 429", resp.StatusCode)
	}
	h.advance(time.Hour)
	expectRedirect(t, h.post(prefs+"/email", url.Values{"email": {"ann.new@example.com"}}), "email")
	h.flush()
	var first, second smtptest.Message
	for _, m := range h.smtp.Messages() {
		switch m.To[0] {
		case "typo@example.com":
			first = m
		case "victim@example.com":
			t.Fatal("a refused request was mailed")
		case "ann.new@example.com":
			second = m
		}
	}
	if first.Raw != nil {
		t.Fatal("the superseded request was still mailed")
	}
	if second.Raw == nil {
		t.Fatal("no confirmation went to the new address")
	}
	if h.sub("ann@example.com").Email != "ann@example.com" {
		t.Fatal("the address changed before confirmation")
	}
	confirmPath := link(t, second, "email")
	if resp := h.get(confirmPath); resp.StatusCode != 200 || !strings.Contains(body(t, resp), "ann.new@example.com") {
		t.Fatal("confirmation page missing")
	}
	resp := h.post(confirmPath, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "?done=email_changed") {
		t.Fatalf("confirm answered %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	s := h.sub("ann.new@example.com")
	if s.PendingEmail != nil {
		t.Fatal("pending address left behind")
	}
	// Old links stop working; the redirect carries a fresh one.
	if resp := h.get(prefs); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("old preferences link answered %d", resp.StatusCode)
	}
	if resp := h.get(resp.Header.Get("Location")); resp.StatusCode != 200 {
		t.Fatalf("new preferences link answered %d", resp.StatusCode)
	}
	h.flush()
	msgs := h.smtp.Messages()
	last := msgs[len(msgs)-1]
	if last.To[0] != "ann@example.com" || !strings.Contains(last.Text(), "ann.new@example.com") {
		t.Fatalf("the old address was not told: to %v\n%s", last.To, last.Text())
	}
	// The next lesson goes to the new address.
	h.set(*s.NextDueAt)
	h.pass()
	msgs = h.smtp.Messages()
	if got := msgs[len(msgs)-1]; got.To[0] != "ann.new@example.com" || got.Header.Get("X-Twostep-Lesson") != "2" {
		t.Fatalf("lesson 2 went to %v", got.To)
	}
}

func TestAddressChangeToAnotherSubscribersAddressLooksTheSameAndSendsNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	h.reader("bob@example.com", "UTC")
	before := len(h.smtp.Messages())
	expectRedirect(t, h.post(prefs+"/email", url.Values{"email": {"BOB@example.com"}}), "email")
	h.flush()
	if h.sub("ann@example.com").PendingEmail != nil || len(h.smtp.Messages()) != before {
		t.Fatal("a taken address became pending or was mailed")
	}
}

func TestEveryReaderChangeIsRecordedOnTheirHistory(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	h.post(prefs+"/schedule", url.Values{"weekday": {"0"}, "hour": {"7"}, "tz": {"Asia/Tokyo"}})
	h.post(prefs+"/pause", url.Values{"weeks": {"1"}})
	h.post(prefs+"/resume", nil)
	h.post(prefs+"/name", url.Values{"name": {"Annie"}})
	h.post(prefs+"/next", nil)
	h.post(prefs+"/unsubscribe", nil)
	h.post(prefs+"/resubscribe", nil)
	rows, err := h.db.Pool.Query(context.Background(), `
		SELECT kind FROM events WHERE subscriber_id = $1 AND actor = 'subscriber' ORDER BY id`, h.sub("ann@example.com").ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for rows.Next() {
		var k string
		rows.Scan(&k)
		kinds = append(kinds, k)
	}
	got := strings.Join(kinds, " ")
	want := "signup confirmed schedule_changed paused resumed name_changed next_now unsubscribed resubscribed"
	if got != want {
		t.Fatalf("history %q, want %q", got, want)
	}
}
