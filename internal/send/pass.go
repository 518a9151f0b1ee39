package send

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/store"
)

// Ledger is what the delivery engine needs of the database, and all it
// may do there: claim due readers with their ledger rows, hand claims
// back, record each outcome, keep the sender's pause, and fold the
// dashboard's subscriber counts.
type Ledger interface {
	ClaimAndBegin(ctx context.Context, now time.Time, limit int, leaseNow, leaseUntil time.Time) ([]store.Claim, error)
	Unbegin(ctx context.Context, cs ...store.Claim) error
	Sent(ctx context.Context, ds []store.Delivered) []store.SentResult
	Failed(ctx context.Context, sub *drip.Subscriber, a store.Attempt, f store.Failure, now time.Time) error
	Complete(ctx context.Context, sub *drip.Subscriber, now time.Time) error
	PauseSender(ctx context.Context, until time.Time) error
	SenderPausedUntil(ctx context.Context) (time.Time, error)
	ResumeExpired(ctx context.Context, now time.Time, defaultHour int) (int, error)
	DueCount(ctx context.Context, now time.Time) (int, error)
	FoldSubscriberCounts(ctx context.Context) error
}

// Engine runs delivery passes: it claims due subscribers, renders their
// next lesson, sends it over a pool of persistent SMTP connections and
// records the outcome in the ledger.
type Engine struct {
	DB      Ledger
	Library *course.Library
	Letters *letter.Letters
	Open    mail.Opener
	Log     *slog.Logger
	Metrics *Metrics // optional

	Conns int     // SMTP connections, each owned by one worker
	Rate  float64 // messages per second across the pool; 0 = unlimited

	// Batch is how many subscribers one claim takes.
	Batch int
	// Lease is how long a claim and its 'sending' ledger row belong to
	// this pass; after it another copy may begin the delivery again.
	Lease time.Duration
	// MaxSend is the longest one SMTP transaction may take, dialling
	// included (mail.Options's DialTimeout and ReplyTimeout). A claim is
	// sent only while at least MaxSend of its lease is left, so no lease
	// ends while its message is in flight; what waited longer is handed
	// back. Zero means Lease/2; it must be less than Lease.
	MaxSend time.Duration
	// Clock is the wall clock leases are measured on (nil: time.Now). A
	// pass may run as of another time (Pass's asOf, `twostep send
	// --now`), but leases must mean the same to every copy.
	Clock clock.Clock
	// PolicyPause is how long all sending stops after a 5.7.x or 421.
	PolicyPause time.Duration
	// GiveUp is how long a lesson is retried before it is marked failed.
	GiveUp time.Duration
}

// Defaults for the Engine's tuning fields. A claim costs PostgreSQL about
// 0.9 ms however many readers it takes, and 11 µs more for each: claims of
// 500 instead of 200 took 5 µs off each message in
// BenchmarkPassWithoutSMTP; 1,000 took no more.
const (
	DefaultBatch       = 500
	DefaultLease       = 15 * time.Minute
	DefaultPolicyPause = 15 * time.Minute
	DefaultGiveUp      = 3 * 24 * time.Hour
)

// Summary counts what a pass did.
type Summary struct {
	Sent, Retrying, Bounced, Failed, Completed int
	Took                                       time.Duration
	// PausedUntil is set when the sender is paused by a policy refusal.
	PausedUntil time.Time
}

func (s Summary) String() string {
	out := fmt.Sprintf("sent %d, retrying %d, bounced %d, failed %d in %s",
		s.Sent, s.Retrying, s.Bounced, s.Failed, s.Took.Round(100*time.Millisecond))
	if !s.PausedUntil.IsZero() {
		out += fmt.Sprintf("; sender paused until %s", s.PausedUntil.UTC().Format(time.RFC3339))
	}
	return out
}

// ErrPaused means the pass did not send because the sender is paused.
var ErrPaused = errors.New("sending is paused after a policy refusal")

// counts is a Summary being filled by several workers.
type counts struct {
	// ended counts attempts by the ledger status they ended in; the map
	// is made once and only read after, so workers share it.
	ended     map[drip.DeliveryStatus]*atomic.Int64
	completed atomic.Int64
	late      atomic.Int64 // handed back: the lease ran short while queued
}

func newCounts() *counts {
	c := &counts{ended: map[drip.DeliveryStatus]*atomic.Int64{}}
	for _, st := range drip.DeliveryStatuses {
		c.ended[st] = new(atomic.Int64)
	}
	return c
}

func (c *counts) n(st drip.DeliveryStatus) int { return int(c.ended[st].Load()) }

// Pass delivers every lesson due as of asOf (nil: the engine's Clock, as
// it runs): at most one per subscriber, claiming in batches until nothing
// is due. asOf decides what is due and the times recorded; leases are on
// the engine's Clock. It returns early, losing nothing, when the SMTP
// server cannot be reached (mail.ErrDial) or refuses us by policy
// (ErrPaused); claims not yet tried are handed back.
func (e *Engine) Pass(ctx context.Context, asOf clock.Clock) (Summary, error) {
	if asOf == nil {
		asOf = e.Clock
	}
	now := asOf.Now
	start := time.Now()
	c := newCounts()
	err := e.pass(ctx, now, c)
	sum := Summary{
		Sent: c.n(drip.DeliverySent), Retrying: c.n(drip.DeliveryRetrying), Bounced: c.n(drip.DeliveryBounced),
		Failed: c.n(drip.DeliveryFailed), Completed: int(c.completed.Load()), Took: time.Since(start),
	}
	if errors.Is(err, ErrPaused) {
		sum.PausedUntil, _ = e.DB.SenderPausedUntil(context.WithoutCancel(ctx))
	}
	if n := c.late.Load(); n > 0 {
		e.Log.Warn("claims waited too long to send within their lease and were handed back to the next pass; "+
			"the sender is slower than the batch size assumed", "handed_back", n)
	}
	e.Metrics.observePass(sum)
	attrs := []any{"sent", sum.Sent, "retrying", sum.Retrying, "bounced", sum.Bounced, "failed", sum.Failed,
		"completed", sum.Completed, "took", sum.Took.Round(time.Millisecond)}
	switch {
	case errors.Is(err, context.Canceled):
		e.Log.Info("delivery pass interrupted; what was not sent is due again", attrs...)
	case err != nil:
		e.Log.Error("delivery pass stopped", append(attrs, "err", err)...)
	case sum != (Summary{Took: sum.Took}):
		e.Log.Info("delivery pass", attrs...)
	default:
		e.Log.Debug("delivery pass", attrs...)
	}
	return sum, err
}

func (e *Engine) pass(ctx context.Context, now func() time.Time, c *counts) error {
	if e.Lease <= e.maxSend() {
		return fmt.Errorf("the lease (%s) must be longer than the longest send (%s)", e.Lease, e.maxSend())
	}
	if until, err := e.DB.SenderPausedUntil(ctx); err != nil {
		return err
	} else if now().Before(until) {
		return ErrPaused
	}
	// Timed pauses that have ended make their readers due again.
	// A failure here must not hold back everyone else's lessons.
	if _, err := e.DB.ResumeExpired(ctx, now(), e.Letters.Course.SendHour); err != nil {
		e.Log.Error("resume ended pauses", "err", err)
	}
	// The dashboard's subscriber counts are exact without it; folding
	// keeps reading them O(statuses × lessons).
	if err := e.DB.FoldSubscriberCounts(ctx); err != nil {
		e.Log.Error("fold subscriber counts", "err", err)
	}
	if n, err := e.DB.DueCount(ctx, now()); err == nil {
		e.Metrics.setBacklog(n)
	}
	cur, err := e.Library.Current(ctx)
	if err != nil {
		return err
	}

	var limiter *rate.Limiter
	if e.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(e.Rate), 1)
	}
	// jobs holds up to one batch: the next claim is made while the workers
	// send the last one, so they never wait for the database between
	// batches. A pass stopped early hands back what is left in it.
	jobs := make(chan store.Claim, max(e.Batch, 1))
	// A worker that takes a job and leaves the queue at or below low wakes
	// the feed (through low), which then claims the next batch, without
	// polling and without a wake-up per message.
	low := &lowWater{wake: make(chan struct{}, 1)}
	stop := stopper{done: make(chan struct{})}
	var wg sync.WaitGroup
	var tried atomic.Int64
	taken := &takenSet{}
	rec := startRecorder(ctx, e.Log, max(e.Conns, 1), "sent lessons", e.DB.Sent,
		func(r store.SentResult) error { return r.Err })
	defer rec.stop()
	for range max(e.Conns, 1) {
		w := &worker{e: e, t: e.Open(), cur: cur, now: now, limiter: limiter, counts: c, stop: &stop,
			rec: rec, window: make(chan struct{}, RecordWindow), tried: &tried, taken: taken}
		wg.Go(func() {
			defer w.t.Close()
			for c := range jobs {
				low.took(len(jobs))
				w.deliver(ctx, c)
			}
		})
	}
	err = e.feed(ctx, now, jobs, low, &stop, &tried, taken)
	close(jobs)
	wg.Wait()
	if err != nil {
		return err
	}
	if err := stop.err(); err != nil {
		return err
	}
	// Cancelled after the last claim: the workers handed back the rest.
	return ctx.Err()
}

// feed claims due subscribers, with their ledger rows begun, and hands
// them to the workers until nothing is due, the context ends, or a worker
// stops the pass. tried counts the messages the workers have tried.
func (e *Engine) feed(ctx context.Context, now func() time.Time, jobs chan store.Claim, low *lowWater, stop *stopper, tried *atomic.Int64, taken *takenSet) error {
	began := e.clock()
	for {
		n := e.batchSize(tried.Load(), e.clock().Sub(began))
		// Claim the next batch once the workers are half way through what
		// is queued, and no sooner: a claim's lease runs while it waits.
		low.level.Store(int64(n / 2))
		for len(jobs) > n/2 && stop.err() == nil && ctx.Err() == nil {
			select {
			case <-low.wake:
			case <-stop.done:
			case <-ctx.Done():
			}
		}
		if stop.err() != nil || ctx.Err() != nil {
			return ctx.Err()
		}
		// The claim is not cancelled half way: its rows would stay leased.
		at := e.clock()
		claims, err := e.DB.ClaimAndBegin(context.WithoutCancel(ctx), now(), n, at, at.Add(e.Lease))
		if err != nil {
			return err
		}
		// A pass takes each reader once: one whose retry comes due while
		// the pass runs waits for the next pass, and a claim that brings
		// back only such readers ends the pass.
		fresh, again := taken.split(claims)
		if err := e.handBack(again...); err != nil {
			return err
		}
		if len(fresh) == 0 {
			return nil
		}
		for i, c := range fresh {
			if stop.err() != nil || ctx.Err() != nil {
				if err := e.handBack(fresh[i:]...); err != nil {
					return err
				}
				return ctx.Err()
			}
			jobs <- c
		}
	}
}

// takenSet is the readers a pass has taken, shared by the feed and the
// workers: a bit per subscriber id, in pages of takenPage ids, so that a
// pass holds about 128 KB for it per million ids up to the highest it
// takes, however spread (a map of ids held some 40 MB for a million
// readers, most of the pass's memory at that size).
type takenSet struct {
	mu    sync.Mutex
	pages map[int64]*[takenPage / 64]uint64
}

const takenPage = 1 << 15

// bit is where id's bit is: its page, word and mask.
func (t *takenSet) bit(id int64, add bool) (*uint64, uint64) {
	page := t.pages[id/takenPage]
	if page == nil {
		if !add {
			return nil, 0
		}
		if t.pages == nil {
			t.pages = map[int64]*[takenPage / 64]uint64{}
		}
		page = new([takenPage / 64]uint64)
		t.pages[id/takenPage] = page
	}
	i := uint64(id % takenPage) // subscriber ids are positive
	return &page[i/64], 1 << (i % 64)
}

// split marks the claims' readers taken and returns the claims of readers
// not taken before, and the others.
func (t *takenSet) split(claims []store.Claim) (fresh, again []store.Claim) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range claims {
		w, mask := t.bit(c.Sub.ID, true)
		if *w&mask != 0 {
			again = append(again, c)
			continue
		}
		*w |= mask
		fresh = append(fresh, c)
	}
	return fresh, again
}

// untake lets the pass take a reader again: their claim was handed back
// untried, and they are still owed this pass.
func (t *takenSet) untake(id int64) {
	t.mu.Lock()
	if w, mask := t.bit(id, false); w != nil {
		*w &^= mask
	}
	t.mu.Unlock()
}

// batchSize is how many readers the next claim takes: Batch, or fewer
// when the workers could not send that many twice over — what is queued
// and what is claimed next — before the claims' leases run short. tried
// is how many messages the workers tried in took. Until the pass has
// measured its pace, it is SMTP_RATE, or assumedPace a connection.
func (e *Engine) batchSize(tried int64, took time.Duration) int {
	n := max(e.Batch, 1)
	workers := max(e.Conns, 1)
	budget := (e.Lease - e.maxSend()).Seconds() / 2
	perSecond := assumedPace * float64(workers)
	switch {
	case tried >= int64(2*workers) && took > 0:
		perSecond = float64(tried) / took.Seconds()
	case e.Rate > 0:
		perSecond = e.Rate
	}
	return min(n, max(int(perSecond*budget), workers))
}

// assumedPace is how many messages a second one connection is taken to
// send before a pass has measured it: a relay slower than that may still
// see the first claim's last messages handed back. With the default lease
// and the longest send, a pass over one connection starts with claims of
// 142.
const assumedPace = 1.0

// maxSend is MaxSend, or half the lease when it is not set.
func (e *Engine) maxSend() time.Duration {
	if e.MaxSend > 0 {
		return e.MaxSend
	}
	return e.Lease / 2
}

func (e *Engine) clock() time.Time { return e.Clock.Now() }

// handBack returns claims that were not tried, ending their leases, so
// the next pass takes them at once.
func (e *Engine) handBack(claims ...store.Claim) error {
	return e.DB.Unbegin(context.Background(), claims...)
}

// lowWater wakes the feed when the job queue has drained to level.
type lowWater struct {
	level atomic.Int64
	wake  chan struct{} // holds at most one pending wake-up
}

// took is called by a worker that took a job, leaving queued in the queue.
func (l *lowWater) took(queued int) {
	if int64(queued) <= l.level.Load() {
		select {
		case l.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// stopper records the first reason to stop a pass.
type stopper struct {
	mu    sync.Mutex
	cause error
	done  chan struct{} // closed when a cause is set
}

func (s *stopper) set(err error) {
	s.mu.Lock()
	if s.cause == nil && err != nil {
		s.cause = err
		close(s.done)
	}
	s.mu.Unlock()
}

func (s *stopper) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cause
}
