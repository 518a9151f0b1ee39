package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/smtptest"
)

// backlog is how many confirmations wait in the outbox when serve is told
// to stop: far more than a slow server takes in the grace period.
const backlog = 20_000

func TestServeExitsWithin5SecondsOfSIGTERMWithABigBacklogAndLeavesTheRestQueued(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t)
	sql(t, dbURL, `INSERT INTO subscribers (email, consent_at, confirmation_sent_at)
		SELECT 'reader' || g || '@example.com', now(), now() FROM generate_series(1, $1::int) g`, backlog)
	sql(t, dbURL, `INSERT INTO outbox (subscriber_id, kind, next_attempt_at, created_at)
		SELECT id, 'confirm', now(), now() FROM subscribers`)

	// A relay that takes 20 ms a message would need almost seven minutes
	// for the backlog.
	sink := smtptest.Start(t)
	sink.SetHook(func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageData {
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	})
	p, _ := startServe(t, t.TempDir(), map[string]string{
		"DATABASE_URL": dbURL, "SMTP_URL": "smtp://" + sink.Addr + "?tls=none", "SEND_SCHEDULE": "@every 1h",
	})
	if !sink.WaitFor(20, 30*time.Second) {
		t.Fatal("serve sent fewer than 20 confirmations within 30s")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("after SIGTERM serve exited with status %d, want 0", code)
	}

	accepted := int64(len(sink.Messages()))
	if accepted >= backlog {
		t.Fatalf("the whole backlog (%d) went out before the signal; the test proves nothing", accepted)
	}
	seen := map[string]bool{}
	for _, m := range sink.Messages() {
		if seen[m.To[0]] {
			t.Errorf("%s got its confirmation twice", m.To[0])
		}
		seen[m.To[0]] = true
	}
	var sent, queued, claimed, notDue, tried, other int64
	err := connect(t, dbURL).QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE status = 'sent'),
		       count(*) FILTER (WHERE status = 'pending'),
		       count(*) FILTER (WHERE status = 'pending' AND claimed_until IS NOT NULL),
		       count(*) FILTER (WHERE status = 'pending' AND next_attempt_at > now()),
		       count(*) FILTER (WHERE status = 'pending' AND attempts > 0),
		       count(*) FILTER (WHERE status NOT IN ('sent', 'pending'))
		FROM outbox`).Scan(&sent, &queued, &claimed, &notDue, &tried, &other)
	if err != nil {
		t.Fatal(err)
	}
	if sent != accepted {
		t.Errorf("%d confirmations recorded as sent, but the server accepted %d", sent, accepted)
	}
	if queued != backlog-accepted || other != 0 {
		t.Errorf("%d still queued and %d in another state, want the %d not sent queued and nothing else", queued, other, backlog-accepted)
	}
	if claimed != 0 || notDue != 0 || tried != 0 {
		t.Errorf("of the queued mail %d is still claimed, %d not due at once and %d counted as tried; want every claim handed back untried", claimed, notDue, tried)
	}
	if n := sql(t, dbURL, `SELECT count(*) FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id
		WHERE o.status = 'sent' AND s.status <> 'pending'`); n != 0 {
		t.Errorf("%d readers changed status", n)
	}
}
