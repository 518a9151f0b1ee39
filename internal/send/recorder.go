package send

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/twostep/twostep/internal/store"
)

// maxGroup bounds how many deliveries one ledger write records.
const maxGroup = 256

// recordLinger is how long the recorder waits for more deliveries before
// it writes a group smaller than its target. Measured by BenchmarkPass at
// 8 connections: groups of ~6 without waiting, ~22 with 5 ms, and
// PostgreSQL's CPU per message fell from ~190 µs to ~130 µs.
const recordLinger = 5 * time.Millisecond

// RecordWindow is how many accepted messages a worker may have waiting to
// be recorded while it sends the next one; it bounds what a crash can
// repeat. Measured by BenchmarkPass against an instant server: 1 costs
// about a tenth of the throughput; 8 instead of 4 gained too little to
// measure through the noise, for twice the messages in doubt.
const RecordWindow = 4

// recorder writes the ledger rows of accepted messages in groups. A worker
// hands over each accepted delivery and goes on to its next message
// without waiting for the write, but never with more than RecordWindow of
// its deliveries unrecorded; the deliveries handed over while one group is
// being written go together in the next. So a crash leaves at most
// RecordWindow+1 messages per connection in doubt (accepted by the server,
// still 'sending' in the ledger), while the database does one statement
// and one commit for several messages instead of one each.
type recorder struct {
	db     Ledger
	log    *slog.Logger
	target int // group size worth waiting recordLinger for
	in     chan recordReq
	done   chan struct{}
}

type recordReq struct {
	d store.Delivered
	w *worker
}

// startRecorder starts writing the deliveries handed to it; stop ends it.
// Writes are not cancelled with ctx: the SMTP server has those messages,
// and the ledger must say so. workers is how many workers hand deliveries over.
func startRecorder(ctx context.Context, db Ledger, log *slog.Logger, workers int) *recorder {
	// Three quarters of what the workers may have unrecorded at once: more
	// would always wait the whole linger.
	target := min(maxGroup, max(1, workers*RecordWindow*3/4))
	r := &recorder{db: db, log: log, target: target, in: make(chan recordReq, maxGroup), done: make(chan struct{})}
	go r.run(context.WithoutCancel(ctx))
	return r
}

// sent hands d over to be recorded, waiting while w has RecordWindow
// deliveries unrecorded.
func (r *recorder) sent(w *worker, d store.Delivered) {
	w.window <- struct{}{}
	r.in <- recordReq{d, w}
}

// stop ends the recorder once every handed-over delivery is written.
func (r *recorder) stop() {
	close(r.in)
	<-r.done
}

// recordRetries are the waits before writing again what could not be
// written: a database that is restarting should not cost duplicates.
var recordRetries = []time.Duration{100 * time.Millisecond, time.Second, 5 * time.Second}

func (r *recorder) run(ctx context.Context) {
	defer close(r.done)
	group := make([]recordReq, 0, maxGroup)
	for req := range r.in {
		// Gather for a moment: one statement for many messages costs the
		// database far less than several for a few each.
		group = append(group[:0], req)
		linger := time.NewTimer(recordLinger)
	more:
		for len(group) < r.target {
			select {
			case req, ok := <-r.in:
				if !ok {
					break more
				}
				group = append(group, req)
			case <-linger.C:
				break more
			}
		}
		linger.Stop()
		r.write(ctx, group)
		for _, g := range group {
			<-g.w.window
		}
	}
}

// write records a group. When the group's statement fails, each of its
// deliveries is written on its own — one bad row must not cost the others
// — and those that still fail are written again a few times (recording
// twice changes nothing). Each outcome goes to its worker.
func (r *recorder) write(ctx context.Context, group []recordReq) {
	todo := group
	for try := 0; ; try++ {
		var again []recordReq
		var firstErr error
		report := func(g recordReq, res store.SentResult) {
			if res.Err != nil && try < len(recordRetries) {
				again = append(again, g)
				firstErr = cmp.Or(firstErr, res.Err)
				return
			}
			g.w.recorded(g.d, res)
		}
		if try == 0 {
			ds := make([]store.Delivered, len(todo))
			for i, g := range todo {
				ds[i] = g.d
			}
			for i, res := range r.db.Sent(ctx, ds) {
				report(todo[i], res)
			}
		} else {
			for _, g := range todo {
				report(g, r.db.Sent(ctx, []store.Delivered{g.d})[0])
			}
		}
		if len(again) == 0 {
			return
		}
		r.log.Warn("recording sent lessons failed; trying again one by one", "deliveries", len(again), "err", firstErr)
		time.Sleep(recordRetries[try])
		todo = again
	}
}
