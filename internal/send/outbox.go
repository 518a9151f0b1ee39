package send

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/store"
)

// Queue is what the outbox worker needs of the database: claim queued
// mail, record how each send went, and drop signups never confirmed.
type Queue interface {
	ClaimOutbox(ctx context.Context, now, leaseNow time.Time, limit int, lease time.Duration) ([]store.OutboxItem, error)
	OutboxSent(ctx context.Context, mails []store.OutboxAccepted) error
	OutboxRetry(ctx context.Context, id int64, reason string, next, now time.Time) error
	OutboxRelease(ctx context.Context, ids []int64, now time.Time) error
	DeleteUnconfirmed(ctx context.Context, before time.Time) (int64, error)
}

// Outbox sends queued transactional mail (the confirmations) within
// seconds of the signup, independently of the lesson schedule. It sends
// the way a delivery pass does: claims in batches, a pool of workers that
// each own one persistent SMTP connection, and the accepted mails recorded
// in groups (the pass's recorder), so a signup burst is drained about as
// fast as the server takes mail.
type Outbox struct {
	DB      Queue
	Letters *letter.Letters
	Open    mail.Opener
	Log     *slog.Logger
	// Conns is how many SMTP connections the outbox sends over at once,
	// each owned by one worker (SMTP_MAX_CONNS); 0 means one.
	Conns int
	// Poll is how often the worker looks for mail queued by other copies.
	Poll time.Duration
	// Clock is the wall clock (nil: time.Now): leases are judged on it,
	// and Run sends as of it.
	Clock clock.Clock
}

// outboxLease is how long a claimed mail stays with one sender before
// another copy may take it. A mail is sent only while at least half its
// lease is left; what waited longer is handed back and claimed afresh.
const outboxLease = 2 * time.Minute

// outboxGiveUp is how long a mail is retried before it is marked failed.
// A confirmation link lives seven days, so trying longer is pointless.
const outboxGiveUp = 3 * 24 * time.Hour

// outboxBatch is how many mails one claim takes. The next claim is made
// when half of it is left, so the workers never wait for the database,
// and a shutdown hands back at most one batch.
const outboxBatch = 50

// outboxIdle is how long a worker keeps an unused connection open. Servers
// drop idle sessions (Postfix after 300 s, many providers sooner), and a
// send on a dropped one fails and waits for its retry.
const outboxIdle = 30 * time.Second

// FlushResult counts what a flush did.
type FlushResult struct {
	Sent, Retrying, Failed int
}

// Flush sends everything queued and due. It stops early, losing nothing,
// when the SMTP server cannot be reached, and when ctx ends: the mails in
// hand are finished (their SMTP transactions and records run detached from
// ctx, so they are neither cut off nor sent twice) and the rest of the
// claim is handed back, due at once, so a shutdown never waits for a
// backlog. asOf (nil: the Clock) decides what is due and the times
// recorded, as a delivery pass's does; leases are on the Clock.
func (o *Outbox) Flush(ctx context.Context, asOf clock.Clock) (FlushResult, error) {
	if asOf == nil {
		asOf = o.Clock
	}
	p := o.start(ctx)
	defer p.close()
	return p.drain(ctx, asOf)
}

// Run flushes the outbox whenever nudge fires or Poll passes, and deletes
// signups left unconfirmed for seven days, until ctx ends. Its connections
// stay open between flushes, for outboxIdle. A flush under way when ctx
// ends finishes the mails in hand and stops. While the SMTP server cannot
// be reached, only Poll brings the next flush: each signup's nudge would
// otherwise claim a batch, fail to connect and hand the batch back.
func (o *Outbox) Run(ctx context.Context, nudge <-chan struct{}) {
	p := o.start(ctx)
	defer p.close()
	poll := time.NewTicker(o.Poll)
	defer poll.Stop()
	cleanup := time.NewTicker(time.Hour)
	defer cleanup.Stop()
	o.cleanup()
	for {
		// A shutdown lets the mails in hand finish and leaves the rest queued.
		wake := nudge
		if _, err := p.drain(ctx, o.Clock); err != nil {
			o.Log.Error("outbox flush stopped", "err", err)
			if mail.Classify(err).Kind == mail.Unreachable {
				wake = nil
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-poll.C:
		case <-cleanup.C:
			o.cleanup()
		}
	}
}

// outboxPool is the outbox's workers, each with its own connection, fed
// from one queue of claimed mails, and the recorder they share.
type outboxPool struct {
	o    *Outbox
	jobs chan outboxJob
	low  *lowWater
	rec  *recorder[store.OutboxAccepted, error]
	wg   sync.WaitGroup
}

// outboxJob is one claimed mail, in the flush that claimed it.
type outboxJob struct {
	it    store.OutboxItem
	until time.Time // when its lease ends
	f     *flush
}

// flush is one drain of the queue: what it did and why it stopped.
type flush struct {
	asOf                   clock.Clock // what is due, and the times recorded
	stop                   stopper
	left                   sync.WaitGroup // claimed mails not yet sent and recorded, retried or handed back
	sent, retrying, failed atomic.Int64
	handedBack             atomic.Int64
}

func (o *Outbox) start(ctx context.Context) *outboxPool {
	workers := max(o.Conns, 1)
	p := &outboxPool{o: o, jobs: make(chan outboxJob, outboxBatch),
		low: &lowWater{wake: make(chan struct{}, 1)}}
	p.low.level.Store(outboxBatch / 2)
	p.rec = startRecorder(ctx, o.Log, workers, "sent mail", p.recordSent, func(err error) error { return err })
	for range workers {
		p.wg.Go(func() { p.work(ctx) })
	}
	return p
}

// close stops the workers, closing their connections, once the queue is
// empty, and then the recorder.
func (p *outboxPool) close() {
	close(p.jobs)
	p.wg.Wait()
	p.rec.stop()
}

// recordSent writes a group of accepted mails in one statement.
func (p *outboxPool) recordSent(ctx context.Context, mails []store.OutboxAccepted) []error {
	errs := make([]error, len(mails))
	if err := p.o.DB.OutboxSent(ctx, mails); err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// drain claims and sends until nothing is due, ctx ends or the server
// cannot be reached, and returns once every mail it claimed is sent and
// recorded, retried or handed back.
func (p *outboxPool) drain(ctx context.Context, asOf clock.Clock) (FlushResult, error) {
	f := &flush{asOf: asOf, stop: stopper{done: make(chan struct{})}}
	err := p.feed(ctx, f)
	f.left.Wait()
	if err == nil {
		err = f.stop.err()
	}
	res := FlushResult{Sent: int(f.sent.Load()), Retrying: int(f.retrying.Load()), Failed: int(f.failed.Load())}
	// One line a flush, like a pass's: one a mail would be a thousand a
	// second during a signup burst.
	if res != (FlushResult{}) {
		p.o.Log.Info("outbox flush", "sent", res.Sent, "retrying", res.Retrying, "failed", res.Failed)
	}
	if n := f.handedBack.Load(); n > 0 && ctx.Err() != nil {
		p.o.Log.Info("outbox: stopped; the rest stays queued", "handed_back", n)
	}
	return res, err
}

func (p *outboxPool) feed(ctx context.Context, f *flush) error {
	o := p.o
	// The claim is not cancelled half way: its rows would stay leased.
	work := context.WithoutCancel(ctx)
	for {
		for len(p.jobs) > outboxBatch/2 && f.stop.err() == nil && ctx.Err() == nil {
			select {
			case <-p.low.wake:
			case <-f.stop.done:
			case <-ctx.Done():
			}
		}
		if f.stop.err() != nil || ctx.Err() != nil {
			return nil
		}
		// Leases run on the wall clock, as the pass's do: `send --now` a
		// week ahead must neither take a running serve's claims nor leave
		// claims that last a week.
		now, wall := f.asOf.Now(), o.Clock.Now()
		items, err := o.DB.ClaimOutbox(work, now, wall, outboxBatch, outboxLease)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		for i, it := range items {
			if f.stop.err() != nil || ctx.Err() != nil {
				f.handedBack.Add(int64(len(items) - i))
				o.handBack(work, now, items[i:]...)
				return nil
			}
			f.left.Add(1)
			p.jobs <- outboxJob{it: it, until: wall.Add(outboxLease), f: f}
		}
	}
}

// work sends the queued mails over one connection until the pool closes.
// A connection left unused for outboxIdle is closed, and a new one opened
// for the next mail.
func (p *outboxPool) work(ctx context.Context) {
	var t mail.Transport
	defer func() {
		if t != nil {
			t.Close()
		}
	}()
	window := make(chan struct{}, RecordWindow)
	idle := time.NewTimer(outboxIdle)
	defer idle.Stop()
	for {
		select {
		case j, ok := <-p.jobs:
			if !ok {
				return
			}
			p.low.took(len(p.jobs))
			if t == nil {
				t = p.o.Open()
			}
			p.send(ctx, t, window, j)
			idle.Reset(outboxIdle)
		case <-idle.C:
			if t != nil {
				t.Close()
				t = nil
			}
		}
	}
}

// send sends one claimed mail and records how it went. Only an
// unreachable server, or a database that cannot record, stops the flush.
func (p *outboxPool) send(ctx context.Context, t mail.Transport, window chan struct{}, j outboxJob) {
	o, it, f := p.o, j.it, j.f
	// The mail in hand is finished even when ctx ends mid-send.
	work := context.WithoutCancel(ctx)
	if f.stop.err() != nil || ctx.Err() != nil || o.Clock.Now().After(j.until.Add(-outboxLease/2)) {
		// Stopping, or waited so long that the lease could end mid-send
		// and another copy claim the mail: hand it back, due at once.
		f.handedBack.Add(1)
		o.handBack(work, f.asOf.Now(), it)
		f.left.Done()
		return
	}
	now := f.asOf.Now()
	m, id, err := o.compose(&it, now)
	if errors.Is(err, errNothingToSend) {
		p.recorded(window, f, it, store.OutboxAccepted{ID: it.ID, At: now}, nil)
		return
	}
	if err != nil {
		// Our bug, not the server's: keep this item for later (a fixed
		// template may be deployed) and carry on with the others.
		o.Log.Error("mail could not be composed; will retry", "kind", it.Kind, "outbox_id", it.ID, "err", err)
		f.retrying.Add(1)
		p.retry(work, f, it, err.Error(), outboxBackoff(it.Attempts, now), now)
		return
	}
	reply, err := t.Send(work, m)
	now = f.asOf.Now()
	if err == nil {
		p.recorded(window, f, it, store.OutboxAccepted{ID: it.ID, MessageID: id, At: now}, func() {
			f.sent.Add(1)
			o.Log.Debug("mail sent", "kind", it.Kind, "outbox_id", it.ID, "subscriber", it.Subscriber.ID, "reply", reply)
		})
		return
	}
	out := mail.Classify(err)
	if out.Kind == mail.Bounce {
		// The address does not exist; retrying will not change that.
		f.failed.Add(1)
		o.Log.Warn("mail refused", "kind", it.Kind, "outbox_id", it.ID, "subscriber", it.Subscriber.ID, "err", err)
		p.retry(work, f, it, err.Error(), time.Time{}, now)
		return
	}
	next := outboxBackoff(it.Attempts, now)
	if now.Sub(it.CreatedAt) > outboxGiveUp {
		next = time.Time{}
		f.failed.Add(1)
	} else {
		f.retrying.Add(1)
	}
	o.Log.Warn("mail not sent; will retry", "kind", it.Kind, "outbox_id", it.ID, "attempt", it.Attempts, "next", next, "err", err)
	if out.Kind == mail.Unreachable {
		f.stop.set(fmt.Errorf("outbox: %w", err))
	}
	p.retry(work, f, it, err.Error(), next, now)
}

// recorded hands an accepted (or no longer needed) mail to the recorder;
// ok runs once it is written. A mail accepted but never recorded is sent
// again after its lease: the flush stops, for the database to recover.
func (p *outboxPool) recorded(window chan struct{}, f *flush, it store.OutboxItem, a store.OutboxAccepted, ok func()) {
	p.rec.sent(window, a, func(err error) {
		defer f.left.Done()
		if err != nil {
			p.o.Log.Error("mail sent but not recorded; it may be sent again after its lease", "kind", it.Kind, "outbox_id", it.ID, "err", err)
			f.stop.set(err)
			return
		}
		if ok != nil {
			ok()
		}
	})
}

// retry records a mail not sent, due again at next (zero: failed for
// good); a failure to record it stops the flush and leaves the mail to
// come back when its lease ends.
func (p *outboxPool) retry(ctx context.Context, f *flush, it store.OutboxItem, reason string, next, now time.Time) {
	defer f.left.Done()
	if err := p.o.DB.OutboxRetry(ctx, it.ID, reason, next, now); err != nil {
		f.stop.set(err)
	}
}

// handBack returns claimed mails untried, due at once (now, the flush's
// time); a failure only delays them until their lease ends.
func (o *Outbox) handBack(ctx context.Context, now time.Time, items ...store.OutboxItem) {
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	if err := o.DB.OutboxRelease(ctx, ids, now); err != nil {
		o.Log.Error("outbox: hand back", "count", len(ids), "err", err)
		return
	}
	o.Log.Debug("outbox: handed back untried; the rest stays queued", "handed_back", len(ids))
}

// Confirmations retry sooner than lessons (30 s doubling to an hour): a
// reader is waiting for one at the signup page.
func outboxBackoff(attempts int, now time.Time) time.Time {
	return now.Add(backoff(attempts, 30*time.Second, time.Hour))
}

func (o *Outbox) cleanup() {
	n, err := o.DB.DeleteUnconfirmed(context.Background(), o.Clock.Now().Add(-7*24*time.Hour))
	if err != nil {
		o.Log.Error("delete unconfirmed signups", "err", err)
	} else if n > 0 {
		o.Log.Info("deleted unconfirmed signups", "count", n)
	}
}

// errNothingToSend means a queued mail no longer applies.
var errNothingToSend = errors.New("nothing to send")

// compose builds the queued mail of its kind.
func (o *Outbox) compose(it *store.OutboxItem, now time.Time) (*gomail.Msg, string, error) {
	sub := &it.Subscriber
	switch it.Kind {
	case drip.MailConfirm:
		if sub.Status != drip.StatusPending && sub.Status != drip.StatusUnsubscribed {
			return nil, "", errNothingToSend // already confirmed, or bounced
		}
		return o.Letters.Confirmation(sub, it.CreatedAt, now)
	case drip.MailEmailChange:
		return o.Letters.EmailChange(sub, it.Recipient, it.CreatedAt, now)
	case drip.MailEmailChanged:
		return o.Letters.EmailChanged(sub, it.Recipient, now)
	case drip.MailLink:
		switch sub.Status {
		case drip.StatusActive, drip.StatusPaused, drip.StatusCompleted:
			return o.Letters.LinkMail(sub, now)
		}
		return nil, "", errNothingToSend // left, bounced or erased meanwhile
	case drip.MailGraduation:
		if sub.Status != drip.StatusCompleted {
			return nil, "", errNothingToSend // restarted or left meanwhile
		}
		return o.Letters.Graduation(sub, now)
	}
	return nil, "", fmt.Errorf("outbox %d: unknown kind %q", it.ID, it.Kind)
}
