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

	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/store"
)

// Engine runs delivery passes: it claims due subscribers, renders their
// next lesson, sends it over a pool of persistent SMTP connections and
// records the outcome in the ledger.
type Engine struct {
	DB      *store.DB
	Library *Library
	Letters *Letters
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
	// MaxSend is the longest one SMTP transaction may take (mail.Options's
	// ReplyTimeout). A claim is only sent while at least MaxSend of its
	// lease is left, so no lease ends while its message is in flight; what
	// waited longer is handed back for the next pass. Zero means Lease/2.
	MaxSend time.Duration
	// PolicyPause is how long all sending stops after a 5.7.x or 421.
	PolicyPause time.Duration
	// GiveUp is how long a lesson is retried before it is marked failed.
	GiveUp time.Duration
}

// Defaults for the Engine's tuning fields.
const (
	DefaultBatch       = 200
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
	sent, retrying, bounced, failed, completed atomic.Int64
	late                                       atomic.Int64 // handed back: the lease ran short while queued
}

// Pass delivers every lesson due as of now(): at most one per subscriber,
// claiming in batches until nothing is due. It returns early, losing
// nothing, when the SMTP server cannot be reached (mail.ErrDial) or refuses
// us by policy (ErrPaused); claims not yet tried are handed back.
func (e *Engine) Pass(ctx context.Context, now func() time.Time) (Summary, error) {
	start := time.Now()
	var c counts
	err := e.pass(ctx, now, &c)
	sum := Summary{
		Sent: int(c.sent.Load()), Retrying: int(c.retrying.Load()), Bounced: int(c.bounced.Load()),
		Failed: int(c.failed.Load()), Completed: int(c.completed.Load()), Took: time.Since(start),
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
	var stop stopper
	var wg sync.WaitGroup
	var started atomic.Int64
	rec := startRecorder(ctx, e.DB, e.Log, max(e.Conns, 1))
	defer rec.stop()
	for range max(e.Conns, 1) {
		w := &worker{e: e, t: e.Open(), cur: cur, now: now, limiter: limiter, counts: c, stop: &stop,
			rec: rec, window: make(chan struct{}, RecordWindow)}
		wg.Go(func() {
			defer w.t.Close()
			for c := range jobs {
				started.Add(1)
				w.deliver(ctx, c)
			}
		})
	}
	err = e.feed(ctx, now, jobs, &stop, &started)
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
// stops the pass. started counts the claims the workers have taken.
func (e *Engine) feed(ctx context.Context, now func() time.Time, jobs chan store.Claim, stop *stopper, started *atomic.Int64) error {
	// A pass takes each reader once: one whose retry comes due while the
	// pass runs is handed back for the next pass, and a claim that brings
	// back only such readers ends the pass.
	taken := map[int64]struct{}{}
	began := time.Now()
	for stop.err() == nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := e.batchSize(started.Load(), time.Since(began))
		// Claim the next batch once the workers are half way through what
		// is queued, and no sooner: a claim's lease runs while it waits.
		for len(jobs) > n/2 && stop.err() == nil && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		// The claim is not cancelled half way: its rows would stay leased.
		claims, err := e.DB.ClaimAndBegin(context.WithoutCancel(ctx), now(), n, e.Lease)
		if err != nil {
			return err
		}
		fresh := claims[:0]
		for _, c := range claims {
			if _, ok := taken[c.Sub.ID]; ok {
				if err := e.handBack(c); err != nil {
					return err
				}
				continue
			}
			taken[c.Sub.ID] = struct{}{}
			fresh = append(fresh, c)
		}
		claims = fresh
		if len(claims) == 0 {
			return nil
		}
		for i, c := range claims {
			if stop.err() != nil || ctx.Err() != nil {
				for _, rest := range claims[i:] {
					if err := e.handBack(rest); err != nil {
						return err
					}
				}
				return ctx.Err()
			}
			jobs <- c
		}
	}
	return nil
}

// batchSize is how many readers the next claim takes: Batch, or fewer
// when the workers could not send that many twice over — what is queued
// and what is claimed next — before the claims' leases run short. sent is
// how many claims the workers have taken in took.
func (e *Engine) batchSize(sent int64, took time.Duration) int {
	n := max(e.Batch, 1)
	budget := (e.Lease - e.maxSend()).Seconds() / 2
	var perSecond float64
	switch {
	case sent >= int64(n) && took > 0:
		perSecond = float64(sent) / took.Seconds()
	case e.Rate > 0:
		perSecond = e.Rate
	default:
		return n
	}
	return min(n, max(int(perSecond*budget), max(e.Conns, 1)))
}

// maxSend is MaxSend, or half the lease when it is not set.
func (e *Engine) maxSend() time.Duration {
	if e.MaxSend > 0 {
		return e.MaxSend
	}
	return e.Lease / 2
}

// handBack returns a claim that was not tried, with its ledger row, so the
// next pass takes it at once.
func (e *Engine) handBack(c store.Claim) error {
	if c.Attempt == nil {
		return nil
	}
	return e.DB.Unbegin(context.Background(), *c.Attempt)
}

// stopper records the first reason to stop a pass.
type stopper struct {
	mu    sync.Mutex
	cause error
}

func (s *stopper) set(err error) {
	s.mu.Lock()
	if s.cause == nil {
		s.cause = err
	}
	s.mu.Unlock()
}

func (s *stopper) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cause
}
