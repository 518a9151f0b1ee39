package admin_test

import (
	"bytes"
	"context"
	"log/slog"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/send"
	"github.com/twostep/twostep/internal/store"
)

// uploadAsking posts a CSV file to the import form with the "ask them to
// confirm" box ticked or not, the box first as the page's form sends it.
func (h *harness) uploadAsking(name, content string, confirm bool) string {
	h.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if confirm {
		mw.WriteField("confirm", "1")
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		h.t.Fatal(err)
	}
	fw.Write([]byte(content))
	mw.Close()
	resp := h.do(h.client, "POST", "/admin/subscribers/import", &buf, mw.FormDataContentType())
	got := body(h.t, resp)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("import %s = %d:\n%s", name, resp.StatusCode, got)
	}
	return got
}

// statuses maps each address to its status.
func (h *harness) statuses() map[string]drip.Status {
	h.t.Helper()
	rows, err := h.db.Pool.Query(context.Background(), `SELECT lower(email), status FROM subscribers`)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]drip.Status{}
	for rows.Next() {
		var e string
		var s drip.Status
		if err := rows.Scan(&e, &s); err != nil {
			h.t.Fatal(err)
		}
		got[e] = s
	}
	return got
}

// outbox is the harness's confirmation sender.
func (h *harness) outbox() *send.Outbox {
	return &send.Outbox{DB: h.db, Letters: h.letters, Open: h.open, Log: slog.New(slog.DiscardHandler), Poll: time.Hour, Clock: h.clock}
}

func TestExportImportedIntoAFreshDatabaseExportsTheSameFileByteForByte(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	// Every status, every column filled somewhere, times with microseconds,
	// and free text a spreadsheet would run or a CSV writer must quote.
	h.exec(`
		WITH v (email, name, status, time_zone, send_weekday, send_hour, round, lesson,
			due_at, paused_until, consent_method, consent_at, consent_ip, consent_user_agent, consent_form_url,
			consent_version, confirmed_at, unsubscribed_at) AS (VALUES
		('Ann@Example.com', 'Ann "the first" Lee, Jr.', 'active', 'Europe/Berlin', 2, 7, 2, 5,
			'2026-03-03 06:00:00.123456+00', NULL, 'form', '2025-11-01 10:11:12.654321+00', '203.0.113.7',
			'=cmd|'' /C calc''!A0', 'https://x.test/?a=1,b=2', '2025-10', '2025-11-01 10:20:00.5+00', NULL),
		('bob@example.com', '''Tis Bob', 'paused', 'America/St_Johns', 6, 23, 1, 12,
			NULL, '2026-03-20 08:00:00+00', 'import', '2025-12-01 00:00:00+00', '', '', '', '', '2025-12-01 00:00:00+00', NULL),
		('cy@example.com', 'Zoë Ångström', 'paused', 'Asia/Kolkata', 0, 0, 1, 3,
			NULL, NULL, 'form', '2026-01-02 03:04:05+00', '2001:db8::1', '+plus', '@at', '-minus', '2026-01-02 03:05:00+00', NULL),
		('dee@example.com', '', 'completed', 'UTC', 4, 8, 3, 53,
			NULL, NULL, 'form', '2025-01-01 00:00:00+00', '', '', '', '', '2025-01-01 00:00:01+00', NULL),
		('eve@example.com', 'Eve', 'pending', 'Australia/Sydney', NULL, NULL, 1, 1,
			NULL, NULL, 'form', '2026-03-02 08:59:00.000001+00', '198.51.100.1', 'Mozilla/5.0 (X11; Linux)', 'https://x.test/', 'v3', NULL, NULL),
		('fay@example.com', 'Fay', 'unsubscribed', 'Europe/London', 1, 9, 1, 20,
			NULL, NULL, 'form', '2025-06-01 00:00:00+00', '', '', '', '', '2025-06-01 01:00:00+00', '2026-02-01 12:00:00.25+00'),
		('gus@example.com', 'Gus', 'bounced', 'UTC', 3, 10, 1, 2,
			NULL, NULL, 'import', '2025-06-01 00:00:00+00', '', '', '', '', '2025-06-01 00:00:00+00', NULL)
		), s AS (
			INSERT INTO subscribers (email, name, status, time_zone, send_weekday, send_hour, paused_until,
				consent_method, consent_at, consent_ip, consent_user_agent, consent_form_url, consent_version,
				confirmed_at, unsubscribed_at)
			SELECT email, name, status, time_zone, send_weekday::smallint, send_hour::smallint, paused_until::timestamptz,
				consent_method, consent_at::timestamptz, consent_ip, consent_user_agent, consent_form_url, consent_version,
				confirmed_at::timestamptz, unsubscribed_at::timestamptz
			FROM v RETURNING id, email, status
		)
		INSERT INTO schedule (subscriber_id, round, lesson, due_at, active)
		SELECT s.id, v.round, v.lesson, v.due_at::timestamptz, s.status = 'active' FROM s JOIN v USING (email)`)

	first := body(t, h.get("/admin/subscribers/export.csv"))
	other := newHarness(t)
	other.login()
	report := other.uploadAsking("export.csv", first, false)
	if !strings.Contains(report, `<strong id="added">7</strong>`) || !strings.Contains(report, `<strong id="invalid">0</strong>`) {
		t.Fatalf("import report:\n%s", between(report, `<section class="card" id="result">`, "</section>"))
	}
	second := body(t, other.get("/admin/subscribers/export.csv"))
	if second != first {
		t.Fatalf("the round trip changed the export:\nfirst:\n%s\nsecond:\n%s", first, second)
	}
	if got, want := other.statuses(), h.statuses(); len(got) != len(want) {
		t.Fatalf("statuses after the round trip %v, want %v", got, want)
	} else {
		for e, s := range want {
			if got[e] != s {
				t.Errorf("%s is %s after the round trip, want %s", e, got[e], s)
			}
		}
	}
	if n := other.count(`SELECT count(*) FROM outbox`); n != 0 {
		t.Errorf("the round trip queued %d mails", n)
	}
}

func TestImportNeverActivatesAnAddressThatLeftBouncedOrNeverConfirmed(t *testing.T) {
	t.Parallel()
	for _, confirm := range []bool{false, true} {
		name := "without asking to confirm"
		if confirm {
			name = "asking to confirm"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.login()
			left := h.addSubscriber("left@example.com", "Left", 4, h.clock())
			h.exec(`UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = $2 WHERE id = $1`, left, h.clock())
			h.exec(`UPDATE schedule SET due_at = NULL WHERE subscriber_id = $1`, left)
			h.exec(`INSERT INTO subscribers (email, status, consent_at) VALUES ('waiting@example.com', 'pending', $1)`, h.clock())
			file := "email,status,consent_at,confirmed_at\n" +
				"left@example.com,active,2026-01-05,2026-01-05\n" + // known, unsubscribed
				"WAITING@example.com,active,2026-01-05,2026-01-05\n" + // known, pending
				"pend@example.com,pending,2026-03-01,\n" +
				"pendconf@example.com,pending,2026-01-05,2026-01-05\n" + // its own status says pending
				"unsub@example.com,unsubscribed,2026-01-05,2026-01-05\n" +
				"bounce@example.com,bounced,2026-01-05,2026-01-05\n"
			report := h.uploadAsking("list.csv", file, confirm)
			if !strings.Contains(report, `<strong id="added">4</strong>`) || !strings.Contains(report, `<strong id="invalid">0</strong>`) {
				t.Fatalf("import report:\n%s", between(report, `<section class="card" id="result">`, "</section>"))
			}
			want := map[string]drip.Status{
				"left@example.com": drip.StatusUnsubscribed, "waiting@example.com": drip.StatusPending,
				"pend@example.com": drip.StatusPending, "pendconf@example.com": drip.StatusPending,
				"unsub@example.com": drip.StatusUnsubscribed, "bounce@example.com": drip.StatusBounced,
			}
			got := h.statuses()
			for e, s := range want {
				if got[e] != s {
					t.Errorf("%s is %s after the import, want %s", e, got[e], s)
				}
			}
			h.advance(time.Minute) // every paced confirmation is due
			if _, err := h.outbox().Flush(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			var to []string
			for _, m := range h.smtp.Messages() {
				to = append(to, m.To...)
			}
			wantTo := ""
			if confirm {
				wantTo = "pend@example.com pendconf@example.com"
			}
			if got := strings.Join(to, " "); got != wantTo {
				t.Fatalf("mail went to [%s], want [%s]", got, wantTo)
			}
		})
	}
}

func TestRowsWithoutAConsentRecordAreRefusedUnlessTheAdminAsksThemToConfirm(t *testing.T) {
	t.Parallel()
	file := "email,name,status\nann@example.com,Ann,\nbob@example.com,Bob,active\ncy@example.com,Cy,pending\n"

	h := newHarness(t)
	h.login()
	report := h.uploadAsking("people.csv", file, false)
	for _, want := range []string{`<strong id="added">0</strong>`, `<strong id="invalid">3</strong>`,
		"line 2: no consent record", "line 3: status active needs confirmed_at", "line 4: no consent record"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, between(report, `<section class="card" id="result">`, "</section>"))
		}
	}
	if n := h.count(`SELECT count(*) FROM subscribers`); n != 0 {
		t.Fatalf("%d subscribers imported without consent", n)
	}

	report = h.uploadAsking("people.csv", file, true)
	if !strings.Contains(report, `<strong id="added">3</strong>`) || !strings.Contains(report, `<strong id="confirmations">3</strong>`) {
		t.Fatalf("import report:\n%s", between(report, `<section class="card" id="result">`, "</section>"))
	}
	if n := h.count(`SELECT count(*) FROM subscribers WHERE status = 'pending' AND consent_method = 'import' AND consent_at = $1`, h.clock()); n != 3 {
		t.Fatalf("%d pending with the import's consent record, want 3", n)
	}
	// Paced: one every ImportConfirmInterval, the first at once.
	rows, err := h.db.Pool.Query(context.Background(), `SELECT next_attempt_at FROM outbox WHERE kind = 'confirm' ORDER BY next_attempt_at`)
	if err != nil {
		t.Fatal(err)
	}
	var due []time.Time
	for rows.Next() {
		var d time.Time
		rows.Scan(&d)
		due = append(due, d)
	}
	rows.Close()
	if len(due) != 3 || !due[0].Equal(h.clock()) || due[1].Sub(due[0]) != store.ImportConfirmInterval || due[2].Sub(due[1]) != store.ImportConfirmInterval {
		t.Fatalf("confirmations due at %v, want one every %s from %s", due, store.ImportConfirmInterval, h.clock())
	}
	if res, err := h.outbox().Flush(context.Background(), nil); err != nil || res.Sent != 1 {
		t.Fatalf("flush at the import's time = %+v (%v), want only the first sent", res, err)
	}
	h.advance(time.Second)
	if res, err := h.outbox().Flush(context.Background(), nil); err != nil || res.Sent != 2 {
		t.Fatalf("flush a second later = %+v (%v), want the other two", res, err)
	}
	for _, m := range h.smtp.Messages() {
		if !strings.Contains(m.Text(), "http://twostep.test/confirm/") {
			t.Errorf("the mail to %v is not a confirmation:\n%s", m.To, m.Text())
		}
	}
	if n := h.count(`SELECT count(*) FROM subscribers WHERE status = 'pending'`); n != 3 {
		t.Fatalf("%d still pending after the confirmations went out, want 3 until they confirm", n)
	}
}

func TestImportRefusesGarbageInTheNewColumnsByLineAndKeepsTheRest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	const ok = "2026-01-05"
	// Line 7's quoted cell spans two lines, so later rows start a line on.
	file := "email,status,send_weekday,send_hour,round,consent_method,consent_user_agent,consent_form_url,confirmed_at\n" +
		"a@example.com,complained,,,,,,," + ok + "\n" + // 2
		"b@example.com,,Funday,,,,,," + ok + "\n" + // 3
		"c@example.com,,,24,,,,," + ok + "\n" + // 4
		"d@example.com,,,,0,,,," + ok + "\n" + // 5
		"e@example.com,,,,,email,,," + ok + "\n" + // 6
		"f@example.com,,,,,,\"Agent\r\nX-Evil: 1\",," + ok + "\n" + // 7
		"g@example.com,,,,,,,https://x.test/" + strings.Repeat("a", 500) + "," + ok + "\n" + // 9
		"h@example.com,,,,,,\"a\x00b\",," + ok + "\n" + // 10
		"ok@example.com,active,monday,7,2,form,Mozilla/5.0\tTab,https://x.test/," + ok + "\n" // 10
	report := h.uploadAsking("garbage.csv", file, true)
	for _, want := range []string{
		`<strong id="added">1</strong>`, `<strong id="invalid">8</strong>`,
		"line 2: status &#34;complained&#34; must be one of", "line 3: send_weekday &#34;Funday&#34;",
		"line 4: send_hour &#34;24&#34;", "line 5: round &#34;0&#34;", "line 6: consent_method &#34;email&#34;",
		"line 7: consent_user_agent must be one line", "line 9: consent_form_url must be one line",
		"line 10: consent_user_agent must be one line",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, between(report, `<section class="card" id="result">`, "</section>"))
		}
	}
	s, err := h.db.SubscriberByEmail(context.Background(), "ok@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != drip.StatusActive || *s.SendWeekday != time.Monday || *s.SendHour != 7 || s.Round != 2 ||
		s.ConsentMethod != "form" || s.ConsentUserAgent != "Mozilla/5.0\tTab" || s.NextDueAt == nil {
		t.Fatalf("the valid row imported as %+v", s)
	}
	if n := h.count(`SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("%d mails queued for a file with no pending rows", n)
	}
}
