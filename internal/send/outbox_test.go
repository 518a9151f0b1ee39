package send_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/send"
	"github.com/twostep/twostep/internal/smtptest"
	gomail "github.com/wneessen/go-mail"
)

// queueConfirmations inserts n readers who signed up and are waiting for
// their confirmation, with it queued and due at at.
func (f *fixture) queueConfirmations(n int, at time.Time) {
	f.t.Helper()
	ctx := context.Background()
	if _, err := f.db.Pool.Exec(ctx, `INSERT INTO subscribers (email, consent_at, confirmation_sent_at)
		SELECT 'reader' || g || '@example.com', $2, $2 FROM generate_series(1, $1::int) g`, n, at); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.db.Pool.Exec(ctx, `INSERT INTO outbox (subscriber_id, kind, next_attempt_at, created_at)
		SELECT id, 'confirm', $1, $1 FROM subscribers`, at); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) outbox(conns int, open mail.Opener) *send.Outbox {
	return &send.Outbox{DB: f.db, Letters: f.engine.Letters, Open: open, Log: f.engine.Log, Conns: conns, Poll: time.Hour, Clock: f.clock}
}

func TestTheOutboxSendsABacklogOverOnePersistentConnectionPerWorkerAndRecordsEachMailSentOnce(t *testing.T) {
	f := newFixture(t)
	const n = 300
	f.queueConfirmations(n, f.clock())
	// A server that takes a moment per message keeps every worker busy.
	f.smtp.SetHook(func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageData {
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	})
	res, err := f.outbox(4, f.engine.Open).Flush(context.Background(), nil)
	if err != nil || res != (send.FlushResult{Sent: n}) {
		t.Fatalf("flush: %+v, %v; want %d sent", res, err, n)
	}
	for to, times := range recipients(f.smtp.Messages()) {
		if times != 1 {
			t.Errorf("%s got %d confirmations", to, times)
		}
	}
	if got := len(f.smtp.Messages()); got != n {
		t.Errorf("the server got %d messages, want %d", got, n)
	}
	if s := f.smtp.Sessions(); s != 4 {
		t.Errorf("%d SMTP sessions for %d mails over 4 workers, want one persistent connection each", s, n)
	}
	if sent := f.count(`SELECT count(*) FROM outbox WHERE status = 'sent' AND message_id <> '' AND claimed_until IS NULL`); sent != n {
		t.Errorf("%d of %d recorded sent with their message id", sent, n)
	}
}

func TestTwoCopiesFlushingTogetherSendEachConfirmationOnce(t *testing.T) {
	f := newFixture(t)
	const n = 400
	f.queueConfirmations(n, f.clock())
	var wg sync.WaitGroup
	results := make([]send.FlushResult, 2)
	for i := range results {
		ob := f.outbox(4, f.engine.Open)
		wg.Go(func() {
			res, err := ob.Flush(context.Background(), nil)
			if err != nil {
				t.Errorf("copy %d: %v", i, err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	if got := results[0].Sent + results[1].Sent; got != n {
		t.Errorf("the copies sent %d and %d, want %d together", results[0].Sent, results[1].Sent, n)
	}
	for to, times := range recipients(f.smtp.Messages()) {
		if times != 1 {
			t.Errorf("%s got %d confirmations", to, times)
		}
	}
	if got := len(f.smtp.Messages()); got != n {
		t.Errorf("the server got %d messages, want %d", got, n)
	}
}

func TestAnUnreachableServerStopsTheFlushAndHandsBackTheMailsNotTriedDueAtOnce(t *testing.T) {
	f := newFixture(t)
	const n, conns = 120, 4
	f.queueConfirmations(n, f.clock())
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	dead := mail.NewOpener(&config.SMTP{Host: "127.0.0.1", Port: addr.Port, TLS: "none"}, "", testMailOptions)

	res, err := f.outbox(conns, dead).Flush(context.Background(), nil)
	if !errors.Is(err, mail.ErrDial) {
		t.Fatalf("flush: %+v, %v; want the dial error", res, err)
	}
	if res.Sent != 0 || res.Retrying < 1 || res.Retrying > conns {
		t.Errorf("flush %+v: want only the mails in hand, at most one per connection, retrying", res)
	}
	if tried := f.count(`SELECT count(*) FROM outbox WHERE attempts > 0 AND next_attempt_at > $1 AND last_error <> ''`, f.clock()); tried != res.Retrying {
		t.Errorf("%d mails wait for their retry, want the %d tried", tried, res.Retrying)
	}
	if untried := f.count(`SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts = 0 AND next_attempt_at <= $1
		AND claimed_until IS NULL`, f.clock()); untried != n-res.Retrying {
		t.Errorf("%d mails handed back untried and due at once, want %d", untried, n-res.Retrying)
	}
}

// While the server cannot be reached, signups arriving do not each bring
// on a flush (a claim of a batch, a failed connection, the batch handed
// back): the outbox tries again at its poll, and once the server is back
// the mails not yet tried go out at once.
func TestWhileTheServerIsUnreachableSignupsDoNotEachBringOnAFlush(t *testing.T) {
	f := newFixture(t)
	const n = 20
	f.queueConfirmations(n, f.clock())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dead := mail.NewOpener(&config.SMTP{Host: "127.0.0.1", Port: port, TLS: "none"}, "", testMailOptions)
	live := openerFor(f.smtp)
	var up atomic.Bool
	var tries atomic.Int64
	o := f.outbox(1, func() mail.Transport { return &switchedTransport{dead: dead(), live: live(), up: &up, tries: &tries} })
	o.Poll = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	nudge := make(chan struct{}, 1)
	go func() { o.Run(ctx, nudge); close(done) }()
	defer func() { cancel(); <-done }()
	for range 100 { // a signup every 10 ms for a second
		select {
		case nudge <- struct{}{}:
		default:
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := tries.Load(); n < 1 || n > 8 {
		t.Fatalf("%d sends tried in a second of signups to an unreachable server, want one at the start and one a poll (about 4)", n)
	}
	// The mails tried during the outage wait for their retry; the others
	// go at the next poll.
	tried := tries.Load()
	up.Store(true)
	if !f.smtp.WaitFor(n-tried, 10*time.Second) {
		t.Fatalf("%d of the %d confirmations not tried during the outage sent after the server came back", f.smtp.Accepted(), n-tried)
	}
}

// switchedTransport sends through dead until up, then through live, and
// counts the sends tried.
type switchedTransport struct {
	dead, live mail.Transport
	up         *atomic.Bool
	tries      *atomic.Int64
}

func (s *switchedTransport) Send(ctx context.Context, m *gomail.Msg) (string, error) {
	s.tries.Add(1)
	if s.up.Load() {
		return s.live.Send(ctx, m)
	}
	return s.dead.Send(ctx, m)
}

func (s *switchedTransport) Close() error { return errors.Join(s.dead.Close(), s.live.Close()) }
