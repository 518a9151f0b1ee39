package send

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/store"
)

// Queue is what the outbox worker needs of the database: claim queued
// mail, record how each send went, and drop signups never confirmed.
type Queue interface {
	ClaimOutbox(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.OutboxItem, error)
	OutboxSent(ctx context.Context, id int64, messageID string, now time.Time) error
	OutboxRetry(ctx context.Context, id int64, reason string, next, now time.Time) error
	OutboxRelease(ctx context.Context, ids []int64, now time.Time) error
	DeleteUnconfirmed(ctx context.Context, before time.Time) (int64, error)
}

// Outbox sends queued transactional mail (the confirmations) within
// seconds of the signup, independently of the lesson schedule.
type Outbox struct {
	DB      Queue
	Letters *letter.Letters
	Open    mail.Opener
	Log     *slog.Logger
	// Poll is how often the worker looks for mail queued by other copies.
	Poll time.Duration
	// Now is the clock the mail is sent and recorded by (nil: time.Now).
	Now func() time.Time
}

func (o *Outbox) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// outboxLease is how long a claimed mail stays with one sender before
// another copy may take it.
const outboxLease = 2 * time.Minute

// outboxGiveUp is how long a mail is retried before it is marked failed.
// A confirmation link lives seven days, so trying longer is pointless.
const outboxGiveUp = 3 * 24 * time.Hour

// FlushResult counts what a flush did.
type FlushResult struct {
	Sent, Retrying, Failed int
}

// Flush sends everything queued and due. It stops early, losing nothing,
// when the SMTP server cannot be reached, and when ctx ends: the message in
// hand is finished (its SMTP transaction and its record run detached from
// ctx, so it is neither cut off nor sent twice) and the rest of the claim
// is handed back, due at once, so a shutdown never waits for a backlog.
func (o *Outbox) Flush(ctx context.Context) (FlushResult, error) {
	var res FlushResult
	work := context.WithoutCancel(ctx)
	t := o.Open()
	defer t.Close()
	for ctx.Err() == nil {
		items, err := o.DB.ClaimOutbox(work, o.now(), 50, outboxLease)
		if err != nil {
			return res, err
		}
		if len(items) == 0 {
			return res, nil
		}
		for i, it := range items {
			if ctx.Err() != nil {
				o.handBack(work, items[i:])
				return res, nil
			}
			if err := o.sendOne(work, t, it, &res); err != nil {
				// Release the rest of the claim at once rather than after the lease.
				for _, rest := range items[i+1:] {
					_ = o.DB.OutboxRetry(work, rest.ID, "not tried: "+err.Error(), o.now(), o.now())
				}
				return res, err
			}
		}
	}
	return res, nil
}

// handBack returns claimed mails untried; a failure only delays them until
// their lease ends.
func (o *Outbox) handBack(ctx context.Context, items []store.OutboxItem) {
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	if err := o.DB.OutboxRelease(ctx, ids, o.now()); err != nil {
		o.Log.Error("outbox: hand back on shutdown", "count", len(ids), "err", err)
		return
	}
	o.Log.Info("outbox: stopped; the rest stays queued", "handed_back", len(ids))
}

func (o *Outbox) sendOne(ctx context.Context, t mail.Transport, it store.OutboxItem, res *FlushResult) error {
	now := o.now()
	m, id, err := o.compose(&it, now)
	if errors.Is(err, errNothingToSend) {
		return o.DB.OutboxSent(ctx, it.ID, "", now)
	}
	if err != nil {
		// Our bug, not the server's: keep this item for later (a fixed
		// template may be deployed) and carry on with the others.
		o.Log.Error("mail could not be composed; will retry", "kind", it.Kind, "outbox_id", it.ID, "err", err)
		res.Retrying++
		return o.DB.OutboxRetry(ctx, it.ID, err.Error(), outboxBackoff(it.Attempts, now), now)
	}
	reply, err := t.Send(ctx, m)
	if err == nil {
		res.Sent++
		o.Log.Info("mail sent", "kind", it.Kind, "outbox_id", it.ID, "subscriber", it.Subscriber.ID, "reply", reply)
		return o.DB.OutboxSent(ctx, it.ID, id, now)
	}
	out := mail.Classify(err)
	if out.Kind == mail.Bounce {
		// The address does not exist; retrying will not change that.
		res.Failed++
		o.Log.Warn("mail refused", "kind", it.Kind, "outbox_id", it.ID, "subscriber", it.Subscriber.ID, "err", err)
		return o.DB.OutboxRetry(ctx, it.ID, err.Error(), time.Time{}, now)
	}
	next := outboxBackoff(it.Attempts, now)
	if now.Sub(it.CreatedAt) > outboxGiveUp {
		next = time.Time{}
		res.Failed++
	} else {
		res.Retrying++
	}
	o.Log.Warn("mail not sent; will retry", "kind", it.Kind, "outbox_id", it.ID, "attempt", it.Attempts, "next", next, "err", err)
	if rerr := o.DB.OutboxRetry(ctx, it.ID, err.Error(), next, now); rerr != nil {
		return rerr
	}
	if out.Kind == mail.Unreachable {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Confirmations retry sooner than lessons (30 s doubling to an hour): a
// reader is waiting for one at the signup page.
func outboxBackoff(attempts int, now time.Time) time.Time {
	return now.Add(backoff(attempts, 30*time.Second, time.Hour))
}

// Run flushes the outbox whenever nudge fires or Poll passes, and deletes
// signups left unconfirmed for seven days, until ctx ends. A flush under
// way when ctx ends finishes the message in hand and stops.
func (o *Outbox) Run(ctx context.Context, nudge <-chan struct{}) {
	poll := time.NewTicker(o.Poll)
	defer poll.Stop()
	cleanup := time.NewTicker(time.Hour)
	defer cleanup.Stop()
	o.cleanup()
	for {
		// A shutdown lets the message in hand finish and leaves the rest queued.
		if _, err := o.Flush(ctx); err != nil {
			o.Log.Error("outbox flush stopped", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-nudge:
		case <-poll.C:
		case <-cleanup.C:
			o.cleanup()
		}
	}
}

func (o *Outbox) cleanup() {
	n, err := o.DB.DeleteUnconfirmed(context.Background(), o.now().Add(-7*24*time.Hour))
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
