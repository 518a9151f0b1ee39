package send

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/store"
)

// worker owns one Transport (one SMTP connection) for a pass.
type worker struct {
	e       *Engine
	t       mail.Transport
	cur     *course.Current
	now     func() time.Time
	limiter *rate.Limiter
	counts  *counts
	stop    *stopper
	rec     *recorder[store.Delivered, store.SentResult]
	window  chan struct{} // one value per delivery handed to rec and not yet written
	tried   *atomic.Int64 // messages the pass's workers have tried
	taken   *takenSet
	// zones caches time zones by name: loading one reads the zone
	// database every time.
	zones map[string]*time.Location
}

// deliver sends sub their next lesson and records the outcome. Errors are
// logged and counted, never returned: one reader's problem must not stop
// the others' lessons. Only an unreachable server or a policy refusal
// stops the pass.
func (w *worker) deliver(ctx context.Context, c store.Claim) {
	e, sub := w.e, c.Sub
	// Records are written even when ctx ends mid-send: the SMTP server may
	// already have the message, and the ledger must say so.
	rec := context.WithoutCancel(ctx)
	now := w.now()
	if w.stop.err() != nil || ctx.Err() != nil {
		w.logErr(sub, e.handBack(c))
		return
	}
	if c.Attempt == nil {
		// Past the last lesson (the course got shorter, say): done.
		if err := e.DB.Complete(rec, sub, now); err != nil {
			w.logErr(sub, err)
			return
		}
		w.counts.completed.Add(1)
		return
	}
	att := *c.Attempt
	if att.RevisionID != w.cur.Revisions[sub.NextLesson] {
		// An edit landed since the pass began: send what the ledger records.
		if cur, err := e.Library.Current(rec); err == nil {
			w.cur = cur
		}
	}
	ls := w.cur.Course.Lesson(sub.NextLesson)
	if ls == nil {
		w.fail(rec, sub, att, now, "lesson not found", mail.Outcome{Kind: mail.Retry})
		return
	}
	msg, msgID, err := e.Letters.Lesson(w.cur.Course, ls, sub, now)
	if err != nil {
		// A lesson that cannot be rendered is our bug, not the reader's:
		// retry later, when a fixed revision may be current.
		w.fail(rec, sub, att, now, err.Error(), mail.Outcome{Kind: mail.Retry})
		return
	}
	if w.limiter != nil {
		if err := w.limiter.Wait(ctx); err != nil {
			w.fail(rec, sub, att, now, "not sent: "+err.Error(), mail.Outcome{Kind: mail.Retry})
			return
		}
	}
	if e.clock().After(att.LeaseUntil.Add(-e.maxSend())) {
		// Waited so long that the lease could end mid-send, and another
		// copy begin the same delivery: hand it back, to be claimed afresh.
		w.counts.late.Add(1)
		w.taken.untake(sub.ID)
		w.logErr(sub, e.handBack(c))
		return
	}
	w.tried.Add(1)
	began := time.Now()
	reply, err := w.t.Send(ctx, msg)
	e.Metrics.observeSend(time.Since(began))
	now = w.now()
	if err != nil {
		out := mail.Classify(err)
		if out.Kind == mail.Unreachable {
			w.stop.set(err)
		}
		w.fail(rec, sub, att, now, err.Error(), out)
		return
	}
	var next *time.Time
	if ls.Number < w.cur.Course.LessonCount {
		n := drip.NextDue(w.slotOf(sub, now), att.DueAt, now)
		next = &n
	}
	d := store.Delivered{Sub: sub, Attempt: att, MessageID: msgID, Reply: reply, At: now, NextDue: next}
	w.rec.sent(w.window, d, func(res store.SentResult) { w.recorded(d, res) })
}

// recorded counts a delivery once the recorder has written it, or logs why
// it could not: then the message went out but the row stays 'sending' and
// is retried after its lease, the one case where a reader may get a
// lesson twice.
func (w *worker) recorded(d store.Delivered, res store.SentResult) {
	if res.Err != nil {
		w.logErr(d.Sub, res.Err)
		return
	}
	w.ended(drip.DeliverySent)
	if res.Completed {
		w.counts.completed.Add(1)
	}
}

// fail records an attempt the server did not accept, as its outcome says.
func (w *worker) fail(ctx context.Context, sub *drip.Subscriber, att store.Attempt, now time.Time, reply string, out mail.Outcome) {
	e := w.e
	f := store.Failure{Status: drip.DeliveryRetrying, Reply: drip.Truncate(reply, 1000)}
	// The policy: what each outcome class means for the ledger.
	switch out.Kind {
	case mail.Bounce:
		f.Status = drip.DeliveryBounced
	case mail.Reject:
		// Permanent for this message, but not the reader's fault: give up
		// the lesson and leave it for the admin.
		f.Status = drip.DeliveryFailed
	case mail.Policy:
		until := now.Add(e.PolicyPause)
		f.RetryAt = until
		if err := e.DB.PauseSender(ctx, until); err != nil {
			w.logErr(sub, err)
		}
		e.Log.Error("SMTP server refused our mail by policy: all sending paused",
			"until", until, "outcome", out.String(), "reply", f.Reply)
		w.stop.set(fmt.Errorf("%w: %s", ErrPaused, f.Reply))
	default: // Retry, Unreachable
		f.RetryAt = now.Add(backoff(att.Attempts, time.Minute, 2*time.Hour))
		if now.Sub(att.FirstTry) >= e.GiveUp {
			f.Status, f.RetryAt = drip.DeliveryFailed, time.Time{}
		}
	}
	if err := e.DB.Failed(ctx, sub, att, f, now); err != nil {
		w.logErr(sub, err)
		return
	}
	w.ended(f.Status)
	switch f.Status {
	case drip.DeliveryBounced:
		e.Log.Warn("address bounced; no more mail to it", "subscriber", sub.ID, "lesson", sub.NextLesson, "reply", f.Reply)
	case drip.DeliveryFailed:
		e.Log.Error("lesson given up", "subscriber", sub.ID, "lesson", sub.NextLesson, "attempts", att.Attempts, "reply", f.Reply)
	default:
		e.Log.Warn("lesson not sent; will retry", "subscriber", sub.ID, "lesson", sub.NextLesson,
			"attempt", att.Attempts, "retry_at", f.RetryAt, "reply", f.Reply)
	}
}

// ended counts an attempt that ended as st, in the pass's summary and
// the metrics.
func (w *worker) ended(st drip.DeliveryStatus) {
	w.counts.ended[st].Add(1)
	w.e.Metrics.end(st)
}

func (w *worker) logErr(sub *drip.Subscriber, err error) {
	if err != nil {
		w.e.Log.Error("delivery bookkeeping failed", "subscriber", sub.ID, "lesson", sub.NextLesson, "err", err)
	}
}

// backoff is the wait after the nth failed attempt: base, doubling, at
// most limit.
func backoff(attempts int, base, limit time.Duration) time.Duration {
	return min(base<<min(max(attempts-1, 0), 16), limit)
}

// slotOf is the subscriber's chosen delivery slot, with the zone from the
// worker's cache.
func (w *worker) slotOf(sub *drip.Subscriber, now time.Time) drip.Slot {
	loc := w.zones[sub.TimeZone]
	if loc == nil {
		loc, _ = drip.LoadLocation(sub.TimeZone)
		if w.zones == nil {
			w.zones = map[string]*time.Location{}
		}
		w.zones[sub.TimeZone] = loc
	}
	return sub.SlotIn(loc, w.cur.Course.SendHour, now)
}
