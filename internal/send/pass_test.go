package send_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/send"
	"github.com/twostep/twostep/internal/smtptest"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/web"
)

func TestPassSendsTheDueLessonAndSchedulesTheNextAtTheLocalSlot(t *testing.T) {
	f := newFixture(t)
	// Monday 2 March 2026 09:00 UTC; the reader wants Mondays 08:00 in Berlin.
	id := f.addActive("ann@example.com", "Europe/Berlin", time.Monday, 8, f.clock())
	sum := f.pass()
	if sum.Sent != 1 || sum.Retrying+sum.Bounced+sum.Failed != 0 {
		t.Fatalf("summary = %v", sum)
	}
	msgs := f.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if lessonHeader(m) != "1" || !strings.HasPrefix(m.Header.Get("Subject"), "Lesson 1 of 52: ") {
		t.Fatalf("lesson header %q subject %q", lessonHeader(m), m.Header.Get("Subject"))
	}
	if !strings.HasPrefix(m.Header.Get("List-Unsubscribe"), "<http://twostep.test/unsubscribe/") ||
		m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || m.Header.Get("Date") == "" ||
		!strings.HasSuffix(m.Header.Get("Message-Id"), "@twostep.example>") {
		t.Fatalf("headers: %v", m.Header)
	}
	if parts, _ := m.Parts(); len(parts) != 2 || parts[0].ContentType != "text/plain" || parts[1].ContentType != "text/html" {
		t.Fatalf("parts = %+v", parts)
	}
	s := f.subscriber(id)
	want := time.Date(2026, 3, 9, 7, 0, 0, 0, time.UTC) // Monday 08:00 CET
	if s.NextLesson != 2 || s.NextDueAt == nil || !s.NextDueAt.Equal(want) || s.LastSentAt == nil {
		t.Fatalf("after pass: next lesson %d due %v, want 2 at %v", s.NextLesson, s.NextDueAt, want)
	}
	var status, msgID, reply string
	var rev *int64
	err := f.db.Pool.QueryRow(context.Background(),
		`SELECT status, message_id, smtp_reply, revision_id FROM deliveries WHERE subscriber_id = $1 AND lesson = 1`, id).
		Scan(&status, &msgID, &reply, &rev)
	if err != nil || status != "sent" || "<"+msgID+">" != m.Header.Get("Message-Id") || reply == "" || rev == nil {
		t.Fatalf("ledger: %s %s %q %v (%v)", status, msgID, reply, rev, err)
	}
}

func TestPassRunTwiceAtTheSameTimeSendsNothingNew(t *testing.T) {
	f := newFixture(t)
	addMany(t, f.db, 20, f.clock())
	if s := f.pass(); s.Sent != 20 {
		t.Fatalf("first pass %v", s)
	}
	if s := f.pass(); s.Sent != 0 {
		t.Fatalf("second pass sent %d", s.Sent)
	}
	if n := len(f.smtp.Messages()); n != 20 {
		t.Fatalf("%d messages, want 20", n)
	}
}

func TestOneSubscriberGetsAll52LessonsWeeklyThenCompletes(t *testing.T) {
	f := newFixture(t)
	ny, _ := time.LoadLocation("America/New_York")
	id := f.addActive("ann@example.com", "America/New_York", time.Sunday, 7, f.clock())
	for week := 1; week <= 52; week++ {
		if s := f.pass(); s.Sent != 1 {
			t.Fatalf("week %d: %v", week, s)
		}
		// A pass an hour later sends nothing: one lesson a week.
		f.advance(time.Hour)
		if s := f.pass(); s.Sent != 0 {
			t.Fatalf("week %d: a second lesson within the week", week)
		}
		s := f.subscriber(id)
		if week == 52 {
			if s.Status != drip.StatusCompleted || s.NextDueAt != nil {
				t.Fatalf("after lesson 52: %s due %v", s.Status, s.NextDueAt)
			}
			break
		}
		local := s.NextDueAt.In(ny)
		if local.Weekday() != time.Sunday || local.Hour() != 7 || local.Minute() != 0 {
			t.Fatalf("lesson %d due %v, want Sunday 07:00 New York", s.NextLesson, local)
		}
		f.set(*s.NextDueAt)
	}
	msgs := f.smtp.Messages()
	seen := map[string]bool{}
	for i, m := range msgs {
		if lessonHeader(m) != strconv.Itoa(i+1) {
			t.Fatalf("message %d is lesson %s", i+1, lessonHeader(m))
		}
		seen[m.Header.Get("Subject")] = true
	}
	if len(msgs) != 52 || len(seen) != 52 {
		t.Fatalf("%d messages with %d distinct subjects, want 52", len(msgs), len(seen))
	}
	f.advance(30 * 24 * time.Hour)
	if s := f.pass(); s.Sent != 0 {
		t.Fatal("a completed subscriber got mail")
	}
}

func TestAfterAnOutageTheNextLessonGoesOnceAndTheRhythmResumes(t *testing.T) {
	f := newFixture(t)
	id := f.addActive("ann@example.com", "Europe/Berlin", time.Monday, 8, f.clock())
	f.pass()
	s := f.subscriber(id)
	// Three weeks of downtime.
	f.set(s.NextDueAt.Add(21*24*time.Hour + 3*time.Hour))
	if sum := f.pass(); sum.Sent != 1 {
		t.Fatalf("catch-up pass %v, want exactly one lesson", sum)
	}
	s = f.subscriber(id)
	if s.NextLesson != 3 || s.NextDueAt.Sub(f.clock()) < drip.MinGap {
		t.Fatalf("after catch-up: lesson %d due %v (now %v)", s.NextLesson, s.NextDueAt, f.clock())
	}
}

func TestPausedUnsubscribedAndBouncedSubscribersGetNothing(t *testing.T) {
	f := newFixture(t)
	for _, st := range []string{"paused", "unsubscribed", "bounced", "pending", "completed"} {
		id := f.addActive(st+"@example.com", "UTC", time.Monday, 8, f.clock())
		f.db.Pool.Exec(context.Background(), `UPDATE subscribers SET status = $2 WHERE id = $1`, id, st)
	}
	if s := f.pass(); s.Sent != 0 || len(f.smtp.Messages()) != 0 {
		t.Fatalf("sent %d", s.Sent)
	}
}

func TestSMTPFaults(t *testing.T) {
	cases := []struct {
		name        string
		hook        smtptest.Hook
		wantStatus  string // ledger status after the pass
		wantSub     drip.Status
		wantPaused  bool
		wantRetryOK bool // a later pass delivers the same lesson
	}{
		{"421 pauses the sender and retries", rcptReply(421, 4, 7, 0), "retrying", drip.StatusActive, true, true},
		{"451 is retried with backoff", rcptReply(451, 4, 3, 0), "retrying", drip.StatusActive, false, true},
		{"550 5.1.1 bounces the subscriber", rcptReply(550, 5, 1, 1), "bounced", drip.StatusBounced, false, false},
		{"554 5.7.1 pauses the sender", dataReply(554, 5, 7, 1), "retrying", drip.StatusActive, true, true},
		{"552 5.3.4 gives the lesson up for the admin", dataReply(552, 5, 3, 4), "failed", drip.StatusActive, false, false},
		{"a dropped connection mid-DATA is retried, never bounced", dropAtData, "retrying", drip.StatusActive, false, true},
		{"a stall before the final reply is retried, never bounced", stallAtData(4 * time.Second), "retrying", drip.StatusActive, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.engine.Conns = 1
			id := f.addActive("ann@example.com", "UTC", time.Monday, 8, f.clock())
			f.smtp.SetHook(c.hook)
			sum, err := f.engine.Pass(context.Background(), f.clock)
			if c.wantPaused != errors.Is(err, send.ErrPaused) {
				t.Fatalf("pass err = %v, want paused %v", err, c.wantPaused)
			}
			if !c.wantPaused && err != nil {
				t.Fatalf("pass: %v", err)
			}
			var status, reply string
			f.db.Pool.QueryRow(context.Background(), `SELECT status, smtp_reply FROM deliveries WHERE subscriber_id = $1`, id).Scan(&status, &reply)
			s := f.subscriber(id)
			if status != c.wantStatus || s.Status != c.wantSub || s.NextLesson != 1 || reply == "" {
				t.Fatalf("ledger %q (%q), subscriber %s on lesson %d; summary %v", status, reply, s.Status, s.NextLesson, sum)
			}
			f.smtp.SetHook(nil)
			before := f.smtp.Accepted()
			// The same moment: nothing more (paused, or waiting for backoff).
			if _, err := f.engine.Pass(context.Background(), f.clock); err != nil && !errors.Is(err, send.ErrPaused) {
				t.Fatal(err)
			}
			if got := f.smtp.Accepted() - before; got != 0 && c.wantStatus != "retrying" {
				t.Fatalf("a second pass sent %d", got)
			}
			f.advance(send.DefaultPolicyPause + time.Minute)
			sum = f.pass()
			if c.wantRetryOK {
				s = f.subscriber(id)
				if sum.Sent != 1 || s.NextLesson != 2 {
					t.Fatalf("retry pass %v; subscriber on lesson %d", sum, s.NextLesson)
				}
			} else if sum.Sent != 0 {
				t.Fatalf("a %s delivery was sent again", c.wantStatus)
			}
		})
	}
}

func rcptReply(code, class, subject, detail int) smtptest.Hook {
	return func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageRcpt {
			return smtptest.Reply(code, class, subject, detail, "test reply")
		}
		return nil
	}
}

func dataReply(code, class, subject, detail int) smtptest.Hook {
	return func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageData {
			return smtptest.Reply(code, class, subject, detail, "test reply")
		}
		return nil
	}
}

func dropAtData(ev smtptest.Event) error {
	if ev.Stage == smtptest.StageData {
		ev.Conn.Conn().Close()
		return smtptest.ErrDropped
	}
	return nil
}

// stallAtData holds the final reply past the client's ReplyTimeout, then
// refuses, so the message is not accepted.
func stallAtData(d time.Duration) smtptest.Hook {
	return func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageData {
			time.Sleep(d)
			return smtptest.Reply(451, 4, 0, 0, "too late")
		}
		return nil
	}
}

func TestAnSMTPServerThatIsDownEndsThePassQuicklyAndLosesNothing(t *testing.T) {
	f := newFixture(t)
	addMany(t, f.db, 30, f.clock())
	f.smtp.Close()
	start := time.Now()
	sum, err := f.engine.Pass(context.Background(), f.clock)
	if !errors.Is(err, mail.ErrDial) {
		t.Fatalf("err = %v, want mail.ErrDial", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("pass took %v with the server down", took)
	}
	if sum.Sent != 0 || f.count(`SELECT count(*) FROM schedule WHERE lesson = 1 AND active`) != 30 {
		t.Fatalf("summary %v; subscribers moved on without their lesson", sum)
	}
	// A new server: everything goes out once its retry time comes.
	sink := smtptest.Start(t)
	f.engine.Open = mail.NewOpener(sink.Config(), "", testMailOptions)
	f.advance(time.Hour)
	if s := f.pass(); s.Sent != 30 || sink.Accepted() != 30 {
		t.Fatalf("after recovery: %v, %d accepted", s, sink.Accepted())
	}
}

func TestOneClickUnsubscribeFromALessonStopsFurtherLessons(t *testing.T) {
	f := newFixture(t)
	id := f.addActive("ann@example.com", "UTC", time.Monday, 9, f.clock())
	f.pass()
	srv, err := web.New(f.db, f.signer, web.Options{Site: web.Site{Title: "T", Lessons: 52}, Templates: twostep.Templates, Clock: f.clock,
		Lessons: &letter.Pages{Library: f.engine.Library, Letters: f.engine.Letters}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	target := strings.Trim(f.smtp.Messages()[0].Header.Get("List-Unsubscribe"), "<>")
	resp, err := http.Post(strings.Replace(target, "http://twostep.test", ts.URL, 1),
		"application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("one-click: %v %v", resp, err)
	}
	f.advance(8 * 24 * time.Hour)
	if s := f.pass(); s.Sent != 0 {
		t.Fatal("a lesson went to an unsubscribed reader")
	}
	if f.subscriber(id).Status != drip.StatusUnsubscribed {
		t.Fatal("not unsubscribed")
	}
}

func TestSeveralConcurrentPassesDeliverEachLessonExactlyOnce(t *testing.T) {
	f := newFixture(t)
	const n = 3000
	addMany(t, f.db, n, f.clock())
	engines := []*send.Engine{f.engine, newEngine(t, f.db, f.smtp), newEngine(t, f.db, f.smtp), newEngine(t, f.db, f.smtp)}
	errs := make(chan error, len(engines))
	sums := make(chan send.Summary, len(engines))
	for _, e := range engines {
		go func() {
			s, err := e.Pass(context.Background(), f.clock)
			sums <- s
			errs <- err
		}()
	}
	total := 0
	for range engines {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		total += (<-sums).Sent
	}
	msgs := f.smtp.Messages()
	if total != n || len(msgs) != n {
		t.Fatalf("passes counted %d sent, server received %d, want %d", total, len(msgs), n)
	}
	for k, c := range recipients(msgs) {
		if c != 1 {
			t.Fatalf("%s received %d times", k, c)
		}
	}
	if got := f.count(`SELECT count(*) FROM deliveries WHERE status = 'sent'`); got != n {
		t.Fatalf("ledger has %d sent rows", got)
	}
}

func TestClaimQueryUsesTheDueIndexAtAMillionSubscribers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := f.clock()
	seedSubscribers(t, f.db, 1_000_000, now)
	plan, err := f.db.ExplainClaim(ctx, now, 500)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "schedule_due_idx") {
		t.Fatalf("claim plan does not use the due index:\n%s", plan)
	}
	for _, bad := range []string{"Seq Scan on subscribers", "Seq Scan on schedule", "Seq Scan on deliveries"} {
		if strings.Contains(plan, bad) {
			t.Fatalf("claim plan has a %s:\n%s", bad, plan)
		}
	}
	claims, err := f.db.ClaimAndBegin(ctx, now, 500, now, now.Add(time.Minute))
	if err != nil || len(claims) != 500 {
		t.Fatalf("claimed %d (%v)", len(claims), err)
	}
	for _, c := range claims {
		if c.Attempt == nil || c.Sub.NextLesson != 2 {
			t.Fatalf("claim %+v: want lesson 2 begun", c)
		}
	}
}

func TestAfterTheLastLessonAClosingEmailGoesOutOnce(t *testing.T) {
	f := newFixture(t)
	id := f.addActive("ann@example.com", "UTC", time.Monday, 8, f.clock())
	f.db.Pool.Exec(context.Background(), `UPDATE schedule SET lesson = 52 WHERE subscriber_id = $1`, id)
	if s := f.pass(); s.Sent != 1 || s.Completed != 1 {
		t.Fatalf("pass %v", s)
	}
	if st := f.subscriber(id).Status; st != drip.StatusCompleted {
		t.Fatalf("status %s after lesson 52", st)
	}
	ob := &send.Outbox{DB: f.db, Letters: f.engine.Letters, Open: f.engine.Open, Log: f.engine.Log}
	for range 2 {
		if _, err := ob.Flush(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	msgs := f.smtp.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want lesson 52 and the closing email", len(msgs))
	}
	g := msgs[1]
	if lessonHeader(g) != "" || !strings.Contains(g.Header.Get("Subject"), "You finished") ||
		!strings.Contains(g.Text(), "/preferences/") || !strings.Contains(g.Text(), "/unsubscribe/") {
		t.Fatalf("closing email: %v\n%s", g.Header, g.Text())
	}
}

func TestTemporaryFailuresAreRetriedWithGrowingBackoffForThreeDaysThenFailed(t *testing.T) {
	f := newFixture(t)
	f.engine.Conns = 1
	id := f.addActive("ann@example.com", "UTC", time.Monday, 8, f.clock())
	f.smtp.SetHook(rcptReply(451, 4, 3, 0))
	start := f.clock()
	var gaps []time.Duration
	for attempt := 1; ; attempt++ {
		before := f.clock()
		f.pass()
		var status string
		f.db.Pool.QueryRow(context.Background(), `SELECT status FROM deliveries WHERE subscriber_id = $1`, id).Scan(&status)
		s := f.subscriber(id)
		if status == "failed" {
			if f.clock().Sub(start) < send.DefaultGiveUp {
				t.Fatalf("given up after %v, before three days", f.clock().Sub(start))
			}
			if s.Status != drip.StatusActive || s.NextLesson != 1 || s.NextDueAt != nil {
				t.Fatalf("after giving up: %s lesson %d due %v; want the reader kept on lesson 1 for the admin", s.Status, s.NextLesson, s.NextDueAt)
			}
			break
		}
		if status != "retrying" || s.NextDueAt == nil {
			t.Fatalf("attempt %d: ledger %q, due %v", attempt, status, s.NextDueAt)
		}
		gaps = append(gaps, s.NextDueAt.Sub(before))
		f.set(*s.NextDueAt)
		if attempt > 200 {
			t.Fatal("never gave up")
		}
	}
	for i := 1; i < len(gaps); i++ {
		if gaps[i] < gaps[i-1] {
			t.Fatalf("backoff shrank: %v", gaps)
		}
	}
	if gaps[0] > 2*time.Minute || gaps[len(gaps)-1] < time.Hour {
		t.Fatalf("backoff %v: want minutes at first, hours at the end", gaps)
	}
	if f.smtp.Accepted() != 0 {
		t.Fatal("a refused lesson was counted as sent")
	}
}

func TestPassUpdatesThePrometheusMetrics(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	f.engine.Metrics = send.NewMetrics(reg)
	addMany(t, f.db, 3, f.clock())
	f.pass()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[mf.GetName()] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				got[mf.GetName()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	want := map[string]float64{"twostep_lessons_sent_total": 3, "twostep_due_backlog": 3, "twostep_send_seconds": 3, "twostep_pass_seconds": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestAMessageTheServerAcceptedCountsAsSentEvenWhenTheRSETAfterItFails(t *testing.T) {
	f := newFixture(t)
	f.engine.Conns = 1
	f.addActive("ann@example.com", "UTC", time.Monday, 8, f.clock())
	f.addActive("bob@example.com", "UTC", time.Monday, 8, f.clock())
	var accepted, stalled atomic.Bool
	f.smtp.SetHook(func(ev smtptest.Event) error {
		switch {
		case ev.Stage == smtptest.StageData:
			accepted.Store(true)
		case ev.Stage == smtptest.StageReset && accepted.Load() && !stalled.Swap(true):
			// Hold the connection past the client's deadline, so its RSET
			// after the accepted message times out.
			time.Sleep(testMailOptions.ReplyTimeout + time.Second)
		}
		return nil
	})
	sum := f.pass()
	if !stalled.Load() {
		t.Fatal("the RSET was never stalled")
	}
	if sum.Sent != 2 || sum.Retrying != 0 || f.smtp.Accepted() != 2 {
		t.Fatalf("summary %v with %d accepted: want both sent once", sum, f.smtp.Accepted())
	}
	if n := f.count(`SELECT count(*) FROM deliveries WHERE status = 'sent'`); n != 2 {
		t.Fatalf("ledger has %d sent", n)
	}
}

func TestSMTPRateLimitsMessagesPerSecondAcrossThePool(t *testing.T) {
	f := newFixture(t)
	f.engine.Conns = 4
	f.engine.Rate = 20
	addMany(t, f.db, 21, f.clock())
	start := time.Now()
	if s := f.pass(); s.Sent != 21 {
		t.Fatalf("pass %v", s)
	}
	// A lower bound only: 21 messages at 20/s cannot take under a second
	// (the first goes at once), however fast the machine.
	if took := time.Since(start); took < time.Second {
		t.Fatalf("21 messages at 20/s took %v", took)
	}
}

// Changes made while a lesson is on its way — an admin moving the reader,
// the reader unsubscribing — win over the pass that records it.
func TestAChangeMadeDuringTheSendWinsOverTheRecord(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	moved := f.addActive("moved@example.com", "UTC", time.Monday, 8, f.clock())
	left := f.addActive("left@example.com", "UTC", time.Monday, 8, f.clock())
	plain := f.addActive("plain@example.com", "UTC", time.Monday, 8, f.clock())
	// left is on the last lesson, so its record would complete the course.
	if _, err := f.db.Pool.Exec(ctx, `UPDATE schedule SET lesson = 52 WHERE subscriber_id = $1`, left); err != nil {
		t.Fatal(err)
	}
	f.smtp.SetHook(func(ev smtptest.Event) error {
		if ev.Stage != smtptest.StageRcpt {
			return nil
		}
		var err error
		switch ev.To {
		case "moved@example.com":
			_, err = f.db.Pool.Exec(ctx, `UPDATE schedule SET lesson = 5 WHERE subscriber_id = $1`, moved)
		case "left@example.com":
			_, err = f.db.Pool.Exec(ctx, `WITH p AS (UPDATE schedule SET due_at = NULL WHERE subscriber_id = $1) UPDATE subscribers SET status = 'unsubscribed' WHERE id = $1`, left)
		}
		return err
	})
	if s := f.pass(); s.Sent != 3 {
		t.Fatalf("pass %v, want 3 sent", s)
	}
	if n := f.count(`SELECT count(*) FROM deliveries WHERE status = 'sent'`); n != 3 {
		t.Fatalf("%d deliveries recorded sent, want 3: the server has them all", n)
	}
	if s := f.subscriber(moved); s.NextLesson != 5 {
		t.Fatalf("moved reader is on lesson %d, want 5 where the admin put them", s.NextLesson)
	}
	if s := f.subscriber(left); s.Status != drip.StatusUnsubscribed {
		t.Fatalf("reader who left during the last lesson is %s", s.Status)
	}
	if n := f.count(`SELECT count(*) FROM outbox WHERE kind = 'graduation'`); n != 0 {
		t.Fatalf("%d closing emails queued for a reader who unsubscribed", n)
	}
	if s := f.subscriber(plain); s.NextLesson != 2 || s.NextDueAt == nil {
		t.Fatalf("plain reader: lesson %d due %v, want lesson 2 scheduled", s.NextLesson, s.NextDueAt)
	}
}

// A reader whose retry comes due while a long pass is still running is not
// tried twice in that pass: the pass takes each reader once.
func TestAPassTriesEachReaderAtMostOnceEvenWhenTheRetryComesDueDuringIt(t *testing.T) {
	f := newFixture(t)
	f.engine.Conns, f.engine.Batch = 1, 1
	// Ids on both sides of 32,768, where the pass's set of taken readers
	// starts a new page.
	if _, err := f.db.Pool.Exec(context.Background(), `ALTER TABLE subscribers ALTER COLUMN id RESTART WITH 32760`); err != nil {
		t.Fatal(err)
	}
	id := f.addActive("ann@example.com", "UTC", time.Monday, 8, f.clock())
	// Readers due after Ann keep the pass claiming after her failure.
	addMany(t, f.db, 20, f.clock().Add(time.Second))
	var tries atomic.Int64
	refuse := rcptReply(451, 4, 3, 0)
	f.smtp.SetHook(func(ev smtptest.Event) error {
		if ev.Stage != smtptest.StageRcpt || ev.To != "ann@example.com" {
			return nil
		}
		tries.Add(1)
		return refuse(ev)
	})
	// Every reading of this clock is a minute later than the one before, so
	// the one-minute retry is due by the pass's next claim.
	var ticks atomic.Int64
	start := f.clock()
	clock := func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * time.Minute) }
	sum, err := f.engine.Pass(context.Background(), clock)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Retrying != 1 || sum.Sent != 20 {
		t.Fatalf("pass %v, want 20 sent and one retry", sum)
	}
	if n := tries.Load(); n != 1 {
		t.Fatalf("the server saw %d attempts for Ann, want 1", n)
	}
	if n := f.count(`SELECT attempts FROM deliveries WHERE subscriber_id = $1 AND status = 'retrying'`, id); n != 1 {
		t.Fatalf("ledger counts %d attempts, want 1", n)
	}
	f.smtp.SetHook(nil)
	if sum := f.pass(); sum.Sent != 0 {
		t.Fatalf("a pass before the retry time sent %v", sum)
	}
	f.advance(time.Hour)
	if sum := f.pass(); sum.Sent != 1 {
		t.Fatalf("the next pass after the retry time: %v, want the lesson sent", sum)
	}
}

// Shutting down stops sending at once: what is queued for the workers is
// handed back, not sent after the signal.
func TestCancellingAPassStopsSendingAndHandsBackWhatWasQueued(t *testing.T) {
	f := newFixture(t)
	f.engine.Conns, f.engine.Batch = 1, 50
	addMany(t, f.db, 50, f.clock())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen atomic.Int64
	f.smtp.SetHook(func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageData && seen.Add(1) == 3 {
			cancel()
		}
		return nil
	})
	sum, err := f.engine.Pass(ctx, f.clock)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("pass ended with %v, want context.Canceled", err)
	}
	got := int(f.smtp.Accepted())
	if got > 4 {
		t.Fatalf("%d messages sent after the pass was cancelled at the third", got)
	}
	if sum.Sent != got {
		t.Fatalf("pass %v, but the server accepted %d: every accepted message must be recorded", sum, got)
	}
	if n := f.count(`SELECT count(*) FROM schedule WHERE lease_until IS NOT NULL`); n != 0 {
		t.Fatalf("%d readers left leased after the pass stopped", n)
	}
	f.smtp.SetHook(nil)
	if s := f.pass(); s.Sent != 50-got {
		t.Fatalf("the next pass %v, want the %d handed back", s, 50-got)
	}
	for who, n := range recipients(f.smtp.Messages()) {
		if n != 1 {
			t.Fatalf("%s got lesson 1 %d times", who, n)
		}
	}
}

// A copy whose sender is slower than its leases allow hands back the
// claims that waited too long instead of sending them while another copy,
// seeing their leases ended, sends them too: no reader gets a lesson twice.
func TestClaimsWhoseLeaseRunsShortAreNotSentTwiceByAnotherCopy(t *testing.T) {
	f := newFixture(t)
	const n = 60
	// The first 30 come due first, so the slow copy claims them and the
	// other copy, starting later, looks at them first.
	if _, err := f.db.Pool.Exec(context.Background(), `
		WITH s AS (
			INSERT INTO subscribers (email, status, time_zone, send_weekday, send_hour, consent_at, confirmed_at)
			SELECT 'reader' || g || '@example.com', 'active', 'UTC', 1, 8, now(), now()
			FROM generate_series(1, $1) g
			RETURNING id)
		INSERT INTO schedule (subscriber_id, lesson, due_at, active)
		SELECT id, 1, now() - CASE WHEN id <= 30 THEN interval '2 minutes' ELSE interval '1 minute' END, true FROM s`, n); err != nil {
		t.Fatal(err)
	}
	// The slow copy's server takes 100 ms a message: its batch of 30 takes
	// longer than its 2 s lease. The other copy's server is instant. The
	// margins are wide (a send may take ten times the sleep before the
	// lease runs out) so a loaded machine does not stretch one send past
	// MaxSend, which in production the reply timeout guarantees.
	f.smtp.SetHook(func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageData {
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	})
	fast := smtptest.Start(t)
	slow, other := f.engine, newEngine(t, f.db, fast)
	for _, e := range []*send.Engine{slow, other} {
		e.Conns, e.Batch = 1, 30
		e.Lease, e.MaxSend = 2*time.Second, time.Second
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := slow.Pass(context.Background(), time.Now); err != nil {
			t.Error(err)
		}
	})
	wg.Go(func() {
		time.Sleep(2200 * time.Millisecond) // the slow copy's first leases have ended
		if _, err := other.Pass(context.Background(), time.Now); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	time.Sleep(slow.Lease)
	if _, err := other.Pass(context.Background(), time.Now); err != nil { // whatever was handed back
		t.Fatal(err)
	}
	got := recipients(append(f.smtp.Messages(), fast.Messages()...))
	if len(got) != n {
		t.Fatalf("%d of %d readers got lesson 1", len(got), n)
	}
	for who, c := range got {
		if c != 1 {
			t.Fatalf("%s got lesson 1 %d times", who, c)
		}
	}
}

// A record that cannot be written does not cost the others written with it.
func TestOneFailingRecordDoesNotLoseTheOthersInItsGroup(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ids []int64
	for _, e := range []string{"a@example.com", "last@example.com", "c@example.com"} {
		ids = append(ids, f.addActive(e, "UTC", time.Monday, 8, f.clock()))
	}
	if _, err := f.db.Pool.Exec(ctx, `UPDATE schedule SET lesson = 52 WHERE subscriber_id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	claims, err := f.db.ClaimAndBegin(ctx, f.clock(), 10, f.clock(), f.clock().Add(time.Hour))
	if err != nil || len(claims) != 3 {
		t.Fatalf("claimed %d: %v", len(claims), err)
	}
	// The last lesson's record fails: a trigger refuses that reader's update.
	for _, sql := range []string{
		`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
		`CREATE TRIGGER refuse BEFORE UPDATE ON subscribers FOR EACH ROW WHEN (OLD.email = 'last@example.com') EXECUTE FUNCTION refuse()`,
	} {
		if _, err := f.db.Pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	ds := make([]store.Delivered, len(claims))
	for i, c := range claims {
		ds[i] = store.Delivered{Sub: c.Sub, Attempt: *c.Attempt, MessageID: fmt.Sprint(i, "@example.com"), Reply: "250 ok", At: f.clock()}
		if c.Sub.NextLesson < 52 {
			next := f.clock().Add(7 * 24 * time.Hour)
			ds[i].NextDue = &next
		}
	}
	results := f.db.Sent(ctx, ds)
	for i, c := range claims {
		if failed := results[i].Err != nil; failed != (c.Sub.Email == "last@example.com") {
			t.Fatalf("%s: record error %v", c.Sub.Email, results[i].Err)
		}
	}
	if n := f.count(`SELECT count(*) FROM deliveries WHERE status = 'sent'`); n != 2 {
		t.Fatalf("%d deliveries recorded sent, want the 2 that did not fail", n)
	}
	if _, err := f.db.Pool.Exec(ctx, `DROP TRIGGER refuse ON subscribers`); err != nil {
		t.Fatal(err)
	}
	// Recording again is safe: the failed one lands, the others stay as they are.
	results = f.db.Sent(ctx, ds)
	completed := 0
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("again, %s: %v", claims[i].Sub.Email, r.Err)
		}
		if r.Completed {
			completed++
		}
	}
	if completed != 1 || f.count(`SELECT count(*) FROM deliveries WHERE status = 'sent'`) != 3 ||
		f.count(`SELECT count(*) FROM outbox WHERE kind = 'graduation'`) != 1 ||
		f.count(`SELECT count(*) FROM schedule WHERE lesson = 2`) != 2 {
		t.Fatalf("after recording again: %d completed; want one graduation, three sent, two readers on lesson 2", completed)
	}
}

// The recorder writes again what the database refused for a moment, so a
// restart of PostgreSQL during a pass costs no duplicates.
func TestARecordThatFailsOnceIsWrittenOnTheNextTry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	addMany(t, f.db, 20, f.clock())
	for _, sql := range []string{
		`CREATE SEQUENCE refusals`,
		`CREATE FUNCTION refuse_once() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF nextval('refusals') = 1 THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`,
		`CREATE TRIGGER refuse_once BEFORE UPDATE OF lesson ON schedule FOR EACH ROW EXECUTE FUNCTION refuse_once()`,
	} {
		if _, err := f.db.Pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if s := f.pass(); s.Sent != 20 {
		t.Fatalf("pass %v, want all 20 recorded sent", s)
	}
	if n := f.count(`SELECT count(*) FROM deliveries WHERE status = 'sent'`); n != 20 {
		t.Fatalf("%d of 20 recorded sent", n)
	}
	if n := f.count(`SELECT last_value FROM refusals`); n < 2 {
		t.Fatalf("the trigger ran %d times: the failure was never injected", n)
	}
}

// One reader whose record the database keeps refusing costs only that
// reader's record, not the others written in the same group.
func TestARecordRefusedForOneReaderIsWrittenForTheOthersInItsGroup(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	addMany(t, f.db, 12, f.clock())
	for _, sql := range []string{
		`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF (SELECT email FROM subscribers WHERE id = OLD.subscriber_id) = 'reader5@example.com' THEN RAISE EXCEPTION 'injected failure'; END IF;
			RETURN NEW; END $$`,
		`CREATE TRIGGER refuse BEFORE UPDATE OF lesson ON schedule FOR EACH ROW EXECUTE FUNCTION refuse()`,
	} {
		if _, err := f.db.Pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if s := f.pass(); s.Sent != 11 {
		t.Fatalf("pass %v, want the 11 other readers recorded sent", s)
	}
	if n := f.count(`SELECT count(*) FROM deliveries WHERE status = 'sent'`); n != 11 {
		t.Fatalf("%d recorded sent, want 11", n)
	}
	if n := f.count(`SELECT count(*) FROM schedule p JOIN subscribers s ON s.id = p.subscriber_id
		WHERE p.lease_until IS NOT NULL AND p.lesson = 1 AND s.email = 'reader5@example.com'
		  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscriber_id = s.id)`); n != 1 {
		t.Fatal("the refused record should leave the reader leased on lesson 1, with no ledger row, to be retried after the lease")
	}
}

// A slow sender shrinks its batches and hands back what waited too long,
// but one pass still sends every due reader, each once.
func TestASlowSenderStillSendsEveryDueReaderInOnePass(t *testing.T) {
	f := newFixture(t)
	const n = 150
	addMany(t, f.db, n, time.Now().Add(-time.Minute))
	f.smtp.SetHook(func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageData {
			time.Sleep(30 * time.Millisecond)
		}
		return nil
	})
	f.engine.Conns, f.engine.Batch = 1, 30
	f.engine.Lease, f.engine.MaxSend = 2*time.Second, time.Second
	sum, err := f.engine.Pass(context.Background(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != n {
		t.Fatalf("pass %v, want all %d sent in one pass", sum, n)
	}
	for who, c := range recipients(f.smtp.Messages()) {
		if c != 1 {
			t.Fatalf("%s got lesson 1 %d times", who, c)
		}
	}
}

// A hand-back touches only the attempt that was handed back: after its
// lease ended, another pass may have begun the same delivery again.
func TestAHandBackDoesNotUndoAnotherPassesClaim(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addActive("ann@example.com", "UTC", time.Monday, 8, f.clock())
	now := f.clock()
	first, err := f.db.ClaimAndBegin(ctx, now, 10, now, now.Add(time.Second))
	if err != nil || len(first) != 1 || first[0].Attempt == nil {
		t.Fatalf("first claim %v: %v", first, err)
	}
	later := now.Add(time.Minute) // the first lease has ended
	second, err := f.db.ClaimAndBegin(ctx, now, 10, later, later.Add(time.Hour))
	if err != nil || len(second) != 1 || second[0].Attempt == nil || second[0].Attempt.Attempts != 2 {
		t.Fatalf("second claim %v: %v", second, err)
	}
	if err := f.db.Unbegin(ctx, first[0]); err != nil {
		t.Fatal(err)
	}
	if n := f.count(`SELECT count(*) FROM schedule WHERE lease_until IS NOT NULL AND attempts = 2`); n != 1 {
		t.Fatal("the first pass's hand-back undid the second pass's claim")
	}
	third, err := f.db.ClaimAndBegin(ctx, now, 10, later, later.Add(time.Hour))
	if err != nil || len(third) != 0 {
		t.Fatalf("a third pass claimed %d while the second is sending (%v)", len(third), err)
	}
}

// A claim takes no more than the workers can send before its leases run
// short: before the pass has measured its pace, one message a second a
// connection (a pass over one connection to a relay taking 0.7 s a
// message would otherwise hand back the end of a first claim of 500);
// after, the pace it measured.
func TestAClaimTakesWhatTheWorkersCanSendWithinItsLease(t *testing.T) {
	longest := mail.DefaultOptions.DialTimeout + mail.DefaultOptions.ReplyTimeout
	e := &send.Engine{Batch: send.DefaultBatch, Lease: send.DefaultLease, MaxSend: longest}
	budget := (send.DefaultLease - longest).Seconds() / 2 // half of what a claim may wait
	for _, tc := range []struct {
		conns int
		tried int64
		took  time.Duration
		want  int
	}{
		{conns: 1, want: int(budget)},                                              // unmeasured: one a second
		{conns: 8, want: send.DefaultBatch},                                        // 8 a second fill a batch in the budget
		{conns: 1, tried: 10, took: 7 * time.Second, want: int(10.0 / 7 * budget)}, // measured: 0.7 s a message
		{conns: 8, tried: 100, took: time.Second, want: send.DefaultBatch},
		{conns: 2, tried: 4, took: time.Hour, want: 2}, // never fewer than one a worker
	} {
		e.Conns = tc.conns
		if got := e.BatchSize(tc.tried, tc.took); got != tc.want {
			t.Errorf("%d connections, %d tried in %s: a claim of %d, want %d", tc.conns, tc.tried, tc.took, got, tc.want)
		}
	}
}
