package web_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/smtptest"
	"github.com/twostep/twostep/internal/token"
)

func signup(email, name, tz string) url.Values {
	return url.Values{"email": {email}, "name": {name}, "tz": {tz}, "website": {""}}
}

func TestSignupConfirmFlowMakesTheSubscriberActiveWithLessonOneDueNow(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	resp := h.post("/subscribe", signup("Ann@Example.com", "Ann Lee", "Asia/Kolkata"))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/subscribed" {
		t.Fatalf("signup answered %d %q, want 303 to /subscribed", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := body(t, h.get("/subscribed")); !strings.Contains(got, "Check your inbox") {
		t.Fatalf("check-your-inbox page missing: %s", got)
	}
	sub, err := h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != drip.StatusPending || sub.TimeZone != "Asia/Kolkata" || sub.Name != "Ann Lee" || sub.ConsentVersion == "" || sub.ConsentIP != "127.0.0.1" {
		t.Fatalf("stored subscriber = %+v", sub)
	}

	if res := h.flush(); res.Sent != 1 {
		t.Fatalf("flush = %+v, want one sent", res)
	}
	msgs := h.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("SMTP server got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.To[0] != "Ann@Example.com" {
		t.Fatalf("recipient = %v", m.To)
	}
	if id := m.Header.Get("Message-Id"); !strings.HasSuffix(id, "@twostep.example>") {
		t.Fatalf("Message-ID %q is not on our domain", id)
	}
	if !strings.HasPrefix(m.Header.Get("List-Unsubscribe"), "<http://twostep.test/unsubscribe/") || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("unsubscribe headers: %q / %q", m.Header.Get("List-Unsubscribe"), m.Header.Get("List-Unsubscribe-Post"))
	}
	parts, err := m.Parts()
	if err != nil || len(parts) != 2 || parts[0].ContentType != "text/plain" || parts[1].ContentType != "text/html" {
		t.Fatalf("want text then HTML parts, got %+v (%v)", parts, err)
	}
	confirmPath := link(t, m, "confirm")
	if !strings.Contains(m.HTML(), "http://twostep.test"+confirmPath) {
		t.Fatal("HTML part lacks the confirm link")
	}

	// The GET shows a button and changes nothing.
	page := body(t, h.get(confirmPath))
	if !strings.Contains(page, `method="post"`) {
		t.Fatalf("confirm page has no form: %s", page)
	}
	if again, _ := h.db.SubscriberByEmail(context.Background(), "ann@example.com"); again.Status != drip.StatusPending {
		t.Fatal("GET /confirm changed the subscriber")
	}

	h.advance(time.Hour)
	resp = h.postRedirectGet(confirmPath, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm POST = %d", resp.StatusCode)
	}
	welcome := body(t, resp)
	manage := regexp.MustCompile(`href="(/preferences/[A-Za-z0-9_-]+)"`).FindStringSubmatch(welcome)
	if manage == nil {
		t.Fatalf("the welcome page has no link to manage the lessons:\n%s", welcome)
	}
	if r := h.get(manage[1]); r.StatusCode != http.StatusOK {
		t.Fatalf("the welcome page's manage link answered %d", r.StatusCode)
	}
	sub, _ = h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	now := h.clock()
	if sub.Status != drip.StatusActive || sub.NextLesson != 1 || sub.NextDueAt == nil || !sub.NextDueAt.Equal(now) || sub.ConfirmedAt == nil || !sub.ConfirmedAt.Equal(now) {
		t.Fatalf("after confirm: %+v", sub)
	}
	// Default slot: the confirmation weekday in the reader's zone, at the course hour.
	// 16:00 UTC on Tuesday 3 March is 21:30 Tuesday in Kolkata.
	if *sub.SendWeekday != time.Tuesday || *sub.SendHour != 8 {
		t.Fatalf("default slot = %v %d, want Tuesday 8", *sub.SendWeekday, *sub.SendHour)
	}
	// Confirming again is harmless.
	if resp := h.postRedirectGet(confirmPath, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("second confirm = %d", resp.StatusCode)
	}
	if n := h.count(`SELECT count(*) FROM events WHERE kind = 'confirmed'`); n != 1 {
		t.Fatalf("confirmed events = %d, want 1", n)
	}
}

func TestSignupAnswersJSONWhenAsked(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	resp := h.post("/subscribe", signup("json@example.com", "", ""), "Accept", "application/json")
	if got := body(t, resp); resp.StatusCode != 200 || !strings.Contains(got, `"status":"check-inbox"`) {
		t.Fatalf("JSON signup = %d %s", resp.StatusCode, got)
	}
	resp = h.post("/subscribe", signup("nope", "", ""), "Accept", "application/json")
	if got := body(t, resp); resp.StatusCode != 422 || !strings.Contains(got, `"field":"email"`) {
		t.Fatalf("JSON invalid signup = %d %s", resp.StatusCode, got)
	}
}

func TestInvalidSignupsGet422WithTheFormAndStoreNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	cases := []struct {
		name, email, yourName, want string
	}{
		{"an empty address", "", "", "enter your email"},
		{"an address without a domain", "ann@", "", "does not look like an email"},
		{"a quoted local part", `"ann lee"@example.com`, "", "just the address"},
		{"a CR LF header injection", "ann@example.com\r\nBcc: victim@example.com", "", "not allowed"},
		{"a NUL byte", "ann\x00@example.com", "", "not allowed"},
		{"an address over 254 characters", strings.Repeat("a", 60) + "@" + strings.Repeat("b", 200) + ".com", "", "too long"},
		{"a name over 100 characters", "ann@example.com", strings.Repeat("n", 101), "under 100"},
		{"a name with CR LF", "ann@example.com", "Ann\r\nBcc: victim@example.com", "not allowed"},
		{"a name with a control character", "ann@example.com", "Ann\x07", "not allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := h.post("/subscribe", signup(c.email, c.yourName, "UTC"))
			got := body(t, resp)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422", resp.StatusCode)
			}
			if !strings.Contains(got, `<form`) || !strings.Contains(got, c.want) {
				t.Fatalf("page lacks the form or %q:\n%s", c.want, got)
			}
		})
	}
	if n := h.count(`SELECT count(*) FROM subscribers`); n != 0 {
		t.Fatalf("%d subscribers stored, want 0", n)
	}
	if n := h.count(`SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("%d mails queued, want 0", n)
	}
}

func TestInvalidSignupReshowsWhatWasTypedEscaped(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	got := body(t, h.post("/subscribe", signup("bad", `"><script>alert(1)</script>`, "")))
	if strings.Contains(got, "<script>alert(1)") {
		t.Fatal("the name was reflected unescaped")
	}
	if !strings.Contains(got, "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("the name was not re-shown escaped:\n%s", got)
	}
}

func TestUnknownTimeZoneIsStoredAsUTC(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for i, tz := range []string{"Mars/Olympus_Mons", "../../etc/passwd", "Local", strings.Repeat("A", 500)} {
		email := "tz" + string(rune('a'+i)) + "@example.com"
		if resp := h.post("/subscribe", signup(email, "", tz)); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("tz %q: status %d", tz, resp.StatusCode)
		}
		sub, err := h.db.SubscriberByEmail(context.Background(), email)
		if err != nil || sub.TimeZone != "UTC" {
			t.Fatalf("tz %q stored as %v (%v), want UTC", tz, sub, err)
		}
	}
}

func TestHoneypotGetsTheSameAnswerAndNothingIsStored(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	form := signup("bot@example.com", "Bot", "UTC")
	form.Set("website", "http://spam.example")
	resp := h.post("/subscribe", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/subscribed" {
		t.Fatalf("honeypot answered %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	h.flush()
	if n := h.count(`SELECT count(*) FROM subscribers`); n != 0 {
		t.Fatalf("honeypot stored %d subscribers", n)
	}
	if len(h.smtp.Messages()) != 0 {
		t.Fatal("honeypot signup sent mail")
	}
}

func TestSignupsOverTheRateLimitGet429WithRetryAfter(t *testing.T) {
	h := newHarness(t, harnessOpts{rateLimit: 3})
	for i := range 3 {
		if resp := h.post("/subscribe", signup("r"+string(rune('a'+i))+"@example.com", "", "")); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("signup %d: %d", i, resp.StatusCode)
		}
	}
	resp := h.post("/subscribe", signup("rz@example.com", "", ""))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("4th signup = %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if n := h.count(`SELECT count(*) FROM subscribers WHERE email = 'rz@example.com'`); n != 0 {
		t.Fatal("a rate-limited signup was stored")
	}
}

func TestBodyOver64KiBGets413(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	form := signup("big@example.com", strings.Repeat("x", 70<<10), "")
	if resp := h.post("/subscribe", form); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	if n := h.count(`SELECT count(*) FROM subscribers`); n != 0 {
		t.Fatal("an oversized signup was stored")
	}
}

func TestBadTokensAreRefusedAndChangeNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.post("/subscribe", signup("ann@example.com", "", "UTC"))
	h.flush()
	m := h.smtp.Messages()[0]
	confirmPath := link(t, m, "confirm")
	unsubPath := link(t, m, "unsubscribe")
	sub, _ := h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	tampered := confirmPath[:len(confirmPath)-3] + "AAA"
	if tampered == confirmPath {
		tampered = confirmPath[:len(confirmPath)-3] + "BBB"
	}
	foreign := h.signer.Sign(token.Claims{Purpose: token.Confirm, Subscriber: sub.ID + 1000, Gen: 1, Expires: h.clock().Add(time.Hour)})
	oldGen := h.signer.Sign(token.Claims{Purpose: token.Confirm, Subscriber: sub.ID, Gen: sub.TokenGen + 1, Expires: h.clock().Add(time.Hour)})
	cases := []struct{ name, path string }{
		{"a tampered confirm token", tampered},
		{"garbage", "/confirm/not-a-token"},
		{"a confirm token for a subscriber that does not exist", "/confirm/" + foreign},
		{"a token of another generation", "/confirm/" + oldGen},
		{"an unsubscribe token used to confirm", "/confirm/" + strings.TrimPrefix(unsubPath, "/unsubscribe/")},
		{"a confirm token used to unsubscribe", "/unsubscribe/" + strings.TrimPrefix(confirmPath, "/confirm/")},
		{"an overlong token", "/confirm/" + strings.Repeat("A", 5000)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, resp := range []*http.Response{h.get(c.path), h.post(c.path, url.Values{"List-Unsubscribe": {"One-Click"}})} {
				if resp.StatusCode < 400 || resp.StatusCode > 499 {
					t.Fatalf("%s %s = %d, want 4xx", resp.Request.Method, c.path, resp.StatusCode)
				}
			}
		})
	}
	// Expired: eight days later the real confirm link no longer works.
	h.advance(8 * 24 * time.Hour)
	if resp := h.post(confirmPath, nil); resp.StatusCode != http.StatusGone {
		t.Fatalf("expired confirm = %d, want 410", resp.StatusCode)
	}
	after, _ := h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	if after.Status != drip.StatusPending || after.ConfirmedAt != nil {
		t.Fatalf("a refused token changed the subscriber: %+v", after)
	}
}

func TestOneClickUnsubscribeFollowsRFC8058(t *testing.T) {
	for _, enc := range []string{"urlencoded", "multipart"} {
		t.Run(enc, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.post("/subscribe", signup("ann@example.com", "", "UTC"))
			h.flush()
			m := h.smtp.Messages()[0]
			h.post(link(t, m, "confirm"), nil)
			target := strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")
			path := strings.TrimPrefix(target, "http://twostep.test")

			// A GET (a scanner following the link) changes nothing.
			if resp := h.get(path); resp.StatusCode != 200 {
				t.Fatalf("GET unsubscribe page = %d", resp.StatusCode)
			}
			if s, _ := h.db.SubscriberByEmail(context.Background(), "ann@example.com"); s.Status != drip.StatusActive {
				t.Fatal("GET unsubscribed the reader")
			}

			var req *http.Request
			if enc == "urlencoded" {
				req, _ = http.NewRequest("POST", h.srv.URL+path, strings.NewReader("List-Unsubscribe=One-Click"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				var buf bytes.Buffer
				w := multipart.NewWriter(&buf)
				w.WriteField("List-Unsubscribe", "One-Click")
				w.Close()
				req, _ = http.NewRequest("POST", h.srv.URL+path, &buf)
				req.Header.Set("Content-Type", w.FormDataContentType())
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("one-click POST = %d, want 200 without redirect", resp.StatusCode)
			}
			s, _ := h.db.SubscriberByEmail(context.Background(), "ann@example.com")
			if s.Status != drip.StatusUnsubscribed || s.UnsubscribedAt == nil || s.NextDueAt != nil {
				t.Fatalf("after one-click: %+v", s)
			}
		})
	}
}

func TestResubscribingAnUnsubscribedAddressSendsAFreshConfirmation(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.post("/subscribe", signup("ann@example.com", "", "UTC"))
	h.flush()
	first := h.smtp.Messages()[0]
	h.post(link(t, first, "confirm"), nil)
	h.post(link(t, first, "unsubscribe"), nil)
	h.advance(25 * time.Hour)
	h.post("/subscribe", signup("ann@example.com", "", "UTC"))
	h.flush()
	msgs := h.smtp.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d mails, want a fresh confirmation", len(msgs))
	}
	if resp := h.postRedirectGet(link(t, msgs[1], "confirm"), nil); resp.StatusCode != 200 {
		t.Fatalf("confirm = %d", resp.StatusCode)
	}
	s, _ := h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	if s.Status != drip.StatusActive || s.UnsubscribedAt != nil {
		t.Fatalf("after re-confirm: %+v", s)
	}
}

func TestPendingSignupsAreDeletedAfterSevenDays(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.post("/subscribe", signup("old@example.com", "", "UTC"))
	h.advance(6 * 24 * time.Hour)
	h.post("/subscribe", signup("new@example.com", "", "UTC"))
	h.advance(36 * time.Hour)
	n, err := h.db.DeleteUnconfirmed(context.Background(), h.clock().Add(-7*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("deleted %d (%v), want 1", n, err)
	}
	if _, err := h.db.SubscriberByEmail(context.Background(), "old@example.com"); err != drip.ErrNotFound {
		t.Fatalf("old pending signup still there: %v", err)
	}
	if _, err := h.db.SubscriberByEmail(context.Background(), "new@example.com"); err != nil {
		t.Fatalf("recent pending signup gone: %v", err)
	}
}

func TestConfirmationWaitsInTheOutboxWhileSMTPIsDown(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.post("/subscribe", signup("ann@example.com", "", "UTC"))
	h.smtp.Close()
	if _, err := h.outbox.Flush(context.Background(), nil); err == nil {
		t.Fatal("flush with the SMTP server down should report it")
	}
	if n := h.count(`SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts = 1 AND last_error <> ''`); n != 1 {
		t.Fatalf("queued mail not kept for retry (%d rows)", n)
	}
	// A fresh server on the same configuration: the retry waits for its backoff.
	h.smtp = smtptest.Start(t)
	h.outbox.Open = mailOpener(h.smtp)
	if res := h.flush(); res.Sent != 0 {
		t.Fatal("retried before the backoff")
	}
	h.advance(time.Minute)
	if res := h.flush(); res.Sent != 1 || len(h.smtp.Messages()) != 1 {
		t.Fatalf("after backoff: %+v, %d messages", res, len(h.smtp.Messages()))
	}
}

func TestSMTPTemporaryFailureIsRetriedWithBackoff(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.smtp.SetHook(func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageRcpt {
			return smtptest.Reply(451, 4, 3, 0, "try later")
		}
		return nil
	})
	h.post("/subscribe", signup("ann@example.com", "", "UTC"))
	if res := h.flush(); res.Retrying != 1 {
		t.Fatalf("flush = %+v, want one retrying", res)
	}
	h.smtp.SetHook(nil)
	h.advance(10 * time.Second)
	if res := h.flush(); res.Sent != 0 {
		t.Fatal("retried before the backoff")
	}
	h.advance(time.Minute)
	if res := h.flush(); res.Sent != 1 {
		t.Fatalf("after backoff: %+v", res)
	}
}

func TestHealthReadyAndMetrics(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ok", "/metrics": "twostep_signups_total"} {
		h.post("/subscribe", signup("m@example.com", "", ""))
		resp := h.get(path)
		if got := body(t, resp); resp.StatusCode != 200 || !strings.Contains(got, want) {
			t.Fatalf("%s = %d %q", path, resp.StatusCode, got)
		}
	}
	h.db.Pool.Close()
	if resp := h.get("/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database closed = %d, want 503", resp.StatusCode)
	}
}

// cookieFrom returns the Cookie header a browser would send back after resp.
func cookieFrom(resp *http.Response) string {
	var parts []string
	for _, c := range resp.Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

func (h *harness) getWith(path string, header ...string) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func TestSignupStoresTheChosenDayAndHourAndConfirmationKeepsThem(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	form := signup("ann@example.com", "Ann", "Europe/Berlin")
	form.Set("weekday", "5") // Friday
	form.Set("hour", "7")
	if resp := h.post("/subscribe", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signup answered %d", resp.StatusCode)
	}
	h.flush()
	h.post(link(t, h.smtp.Messages()[0], "confirm"), nil)
	sub, err := h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != drip.StatusActive || sub.SendWeekday == nil || *sub.SendWeekday != time.Friday || sub.SendHour == nil || *sub.SendHour != 7 {
		t.Fatalf("after confirming: status %s, slot %v at %v; want active, Friday at 7", sub.Status, sub.SendWeekday, sub.SendHour)
	}
	// Lesson 1 comes at confirmation (Tuesday); lesson 2 at the chosen slot:
	// Friday 13 March 2026, 07:00 in Berlin (06:00 UTC), the first Friday
	// six days on.
	if s := h.pass(); s.Sent != 1 {
		t.Fatalf("lesson 1 pass: %v", s)
	}
	sub, _ = h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	if want := time.Date(2026, 3, 13, 6, 0, 0, 0, time.UTC); sub.NextDueAt == nil || !sub.NextDueAt.Equal(want) {
		t.Fatalf("lesson 2 due %v, want %v", sub.NextDueAt, want)
	}
}

func TestSignupWithoutADayOrHourGetsTheDefaultSlotAtConfirmation(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.post("/subscribe", signup("ann@example.com", "Ann", "Europe/Berlin"))
	sub, _ := h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	if sub.SendWeekday != nil || sub.SendHour != nil {
		t.Fatalf("a signup without a choice stored %v at %v", sub.SendWeekday, sub.SendHour)
	}
	h.flush()
	h.post(link(t, h.smtp.Messages()[0], "confirm"), nil)
	sub, _ = h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	if sub.SendWeekday == nil || *sub.SendWeekday != time.Tuesday || sub.SendHour == nil {
		t.Fatalf("default slot %v at %v, want the confirmation's Tuesday", sub.SendWeekday, sub.SendHour)
	}
}

func TestSignupRejectsADayOrHourNotOnTheListAndStoresNothing(t *testing.T) {
	for _, c := range []struct{ field, value string }{
		{"weekday", "7"}, {"weekday", "-1"}, {"weekday", "Friday"}, {"hour", "24"}, {"hour", "7\r\n"}, {"hour", "x"},
	} {
		h := newHarness(t, harnessOpts{})
		form := signup("ann@example.com", "Ann", "UTC")
		form.Set(c.field, c.value)
		resp := h.post("/subscribe", form)
		page := body(t, resp)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "from the list") || !strings.Contains(page, `value="ann@example.com"`) {
			t.Fatalf("%s=%q answered %d:\n%s", c.field, c.value, resp.StatusCode, page)
		}
		if n := h.count(`SELECT count(*) FROM subscribers`); n != 0 {
			t.Fatalf("%s=%q stored %d subscribers", c.field, c.value, n)
		}
	}
}

func TestSignupPageOffersTheDayAndHourAndASubscribeButton(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	page := body(t, h.get("/"))
	for _, want := range []string{`<select id="weekday" name="weekday">`, `<option value="" selected>The day you confirm</option>`,
		`<option value="5">Every Friday</option>`, `<select id="hour" name="hour">`, `>Subscribe</button>`} {
		if !strings.Contains(page, want) {
			t.Fatalf("signup page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "lesson 1</button>") {
		t.Fatal("the button still speaks of lesson 1")
	}
}

func TestCheckInboxPageShowsTheAddressTypedWithoutPuttingItInTheURL(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	resp := h.post("/subscribe", signup("ann@gmial.com", "Ann", "UTC"))
	if loc := resp.Header.Get("Location"); loc != "/subscribed" {
		t.Fatalf("redirect to %q, want /subscribed with no address in it", loc)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "twostep_signup" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.MaxAge <= 0 || cookie.MaxAge > 3600 {
		t.Fatalf("signup cookie = %+v, want short-lived, HttpOnly, SameSite=Strict", cookie)
	}
	page := body(t, h.getWith("/subscribed", "Cookie", cookieFrom(resp)))
	for _, want := range []string{`<strong id="typed-email">ann@gmial.com</strong>`, `Did you mean <strong>ann@gmail.com</strong>?`, `href="/?fix=1"`, `id="wrong-address"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("check-your-inbox page lacks %q:\n%s", want, page)
		}
	}
	// "Wrong address?" brings back the form with what was typed; the
	// did-you-mean brings it back with the suggestion.
	if form := body(t, h.getWith("/", "Cookie", cookieFrom(resp))); !strings.Contains(form, `value="ann@gmial.com"`) {
		t.Fatalf("the form does not show the address typed:\n%s", form)
	}
	if form := body(t, h.getWith("/?fix=1", "Cookie", cookieFrom(resp))); !strings.Contains(form, `value="ann@gmail.com"`) {
		t.Fatalf("the form does not show the suggested address:\n%s", form)
	}
}

func TestCheckInboxPageIgnoresAForgedOrMissingCookie(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, c := range []string{"", "twostep_signup=%%%", "twostep_signup=PHNjcmlwdD4", "twostep_signup=" + strings.Repeat("A", 4000)} {
		page := body(t, h.getWith("/subscribed", "Cookie", c))
		if !strings.Contains(page, "the address you gave") || strings.Contains(page, "typed-email") || strings.Contains(page, "<script>") {
			t.Fatalf("cookie %.40q: page shows an address:\n%s", c, page)
		}
	}
}

func TestSigningUpAgainBeforeConfirmingKeepsTheNewerDayAndHourOnceConfirmed(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	first := signup("ann@example.com", "Ann", "Europe/Berlin")
	first.Set("weekday", "1")
	first.Set("hour", "7")
	h.post("/subscribe", first)
	again := signup("ann@example.com", "Ann", "Europe/Berlin")
	again.Set("weekday", "6")
	again.Set("hour", "18")
	h.post("/subscribe", again)
	// Leaving the choice empty the third time keeps the last one.
	h.post("/subscribe", signup("ann@example.com", "Ann", "Europe/Berlin"))
	sub := h.sub("ann@example.com")
	if sub.SendWeekday == nil || *sub.SendWeekday != time.Monday || sub.SendHour == nil || *sub.SendHour != 7 {
		t.Fatalf("before confirming: %v at %v, want the first signup's Monday at 7", sub.SendWeekday, sub.SendHour)
	}
	h.flush()
	msgs := h.smtp.Messages()
	h.post(link(t, msgs[len(msgs)-1], "confirm"), nil)
	sub = h.sub("ann@example.com")
	if sub.SendWeekday == nil || *sub.SendWeekday != time.Saturday || sub.SendHour == nil || *sub.SendHour != 18 {
		t.Fatalf("after confirming: %v at %v, want Saturday at 18", sub.SendWeekday, sub.SendHour)
	}
}
