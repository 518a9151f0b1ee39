package send

import (
	"cmp"
	"context"
	"log/slog"
	"time"
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

// recorder writes the records of accepted messages in groups: the
// ledger rows of a pass's lessons, and the outbox rows of confirmations.
// A worker hands over each accepted message and goes on to its next one
// without waiting for the write, but never with more than RecordWindow of
// its messages unrecorded; the messages handed over while one group is
// being written go together in the next. So a crash leaves at most
// RecordWindow+1 messages per connection in doubt (accepted by the server,
// not yet recorded), while the database does one statement and one commit
// for several messages instead of one each.
//
// D is what one record says; R is how writing it went, which errOf reads.
type recorder[D, R any] struct {
	write  func(ctx context.Context, ds []D) []R // one result per record, in order
	errOf  func(R) error
	what   string // what is recorded, for the log
	log    *slog.Logger
	target int // group size worth waiting recordLinger for
	in     chan recordReq[D, R]
	done   chan struct{}
}

type recordReq[D, R any] struct {
	d      D
	window chan struct{} // the handing worker's window
	then   func(R)       // told the outcome once it is final
}

// startRecorder starts writing the records handed to it; stop ends it.
// Writes are not cancelled with ctx: the SMTP server has those messages,
// and the database must say so. workers is how many workers hand records
// over. write must record each of ds, or report why not in its result;
// recording twice must change nothing.
func startRecorder[D, R any](ctx context.Context, log *slog.Logger, workers int, what string,
	write func(context.Context, []D) []R, errOf func(R) error) *recorder[D, R] {
	// Three quarters of what the workers may have unrecorded at once: more
	// would always wait the whole linger.
	target := min(maxGroup, max(1, workers*RecordWindow*3/4))
	r := &recorder[D, R]{write: write, errOf: errOf, what: what, log: log, target: target,
		in: make(chan recordReq[D, R], maxGroup), done: make(chan struct{})}
	go r.run(context.WithoutCancel(ctx))
	return r
}

// sent hands d over to be recorded, waiting while window (the worker's,
// RecordWindow deep) is full; then is told how the write went.
func (r *recorder[D, R]) sent(window chan struct{}, d D, then func(R)) {
	window <- struct{}{}
	r.in <- recordReq[D, R]{d, window, then}
}

// stop ends the recorder once every handed-over record is written.
func (r *recorder[D, R]) stop() {
	close(r.in)
	<-r.done
}

// recordRetries are the waits before writing again what could not be
// written: a database that is restarting should not cost duplicates.
var recordRetries = []time.Duration{100 * time.Millisecond, time.Second, 5 * time.Second}

func (r *recorder[D, R]) run(ctx context.Context) {
	defer close(r.done)
	group := make([]recordReq[D, R], 0, maxGroup)
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
		r.writeGroup(ctx, group)
		for _, g := range group {
			<-g.window
		}
	}
}

// writeGroup records a group. When the group's statement fails, each of
// its records is written on its own — one bad row must not cost the
// others — and those that still fail are written again a few times
// (recording twice changes nothing). Each outcome goes to its worker.
func (r *recorder[D, R]) writeGroup(ctx context.Context, group []recordReq[D, R]) {
	todo := group
	for try := 0; ; try++ {
		var again []recordReq[D, R]
		var firstErr error
		report := func(g recordReq[D, R], res R) {
			if err := r.errOf(res); err != nil && try < len(recordRetries) {
				again = append(again, g)
				firstErr = cmp.Or(firstErr, err)
				return
			}
			g.then(res)
		}
		if try == 0 {
			ds := make([]D, len(todo))
			for i, g := range todo {
				ds[i] = g.d
			}
			for i, res := range r.write(ctx, ds) {
				report(todo[i], res)
			}
		} else {
			for _, g := range todo {
				report(g, r.write(ctx, []D{g.d})[0])
			}
		}
		if len(again) == 0 {
			return
		}
		r.log.Warn("recording "+r.what+" failed; trying again one by one", "count", len(again), "err", firstErr)
		time.Sleep(recordRetries[try])
		todo = again
	}
}
