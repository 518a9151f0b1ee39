package send_test

import (
	"context"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/send"
)

// A copy that died mid-pass leaves its claims leased. Whether another copy
// may take them is judged on the engine's injected wall clock, never on
// the time a pass runs as of: a pass a week ahead (`send --now`) does not
// take a live lease, and once the wall clock passes the lease any pass
// does.
func TestAPassJudgesLeasesOnTheInjectedWallClockNotOnItsAsOfTime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	due := f.clock()
	f.addActive("ann@example.com", "UTC", time.Monday, 9, due)
	wall := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	claims, err := f.db.ClaimAndBegin(ctx, due, 10, wall, wall.Add(time.Hour))
	if err != nil || len(claims) != 1 || claims[0].Attempt == nil {
		t.Fatalf("the dead copy's claim: %v, %v", claims, err)
	}

	f.engine.Clock = clock.Fixed(wall.Add(59 * time.Minute))
	sum, err := f.engine.Pass(ctx, clock.Fixed(due.Add(7*24*time.Hour)))
	if err != nil || sum.Sent != 0 || len(f.smtp.Messages()) != 0 {
		t.Fatalf("inside the lease, as of a week ahead: %v, %v, %d mails; want nothing taken", sum, err, len(f.smtp.Messages()))
	}

	f.engine.Clock = clock.Fixed(wall.Add(61 * time.Minute))
	sum, err = f.engine.Pass(ctx, clock.Fixed(due))
	if err != nil || sum.Sent != 1 || len(f.smtp.Messages()) != 1 {
		t.Fatalf("after the lease: %v, %v, %d mails; want the lesson sent once", sum, err, len(f.smtp.Messages()))
	}
	if n := f.count(`SELECT count(*) FROM deliveries WHERE status = 'sent' AND attempts = 2`); n != 1 {
		t.Fatalf("%d deliveries sent on their second attempt, want 1", n)
	}
}

// The outbox's leases are on its injected clock too, and a flush's asOf
// decides only what is due.
func TestAnOutboxFlushJudgesLeasesOnTheInjectedWallClockNotOnItsAsOfTime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	queued := f.clock()
	f.queueConfirmations(1, queued)
	wall := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	items, err := f.db.ClaimOutbox(ctx, queued, wall, 10, 2*time.Minute)
	if err != nil || len(items) != 1 {
		t.Fatalf("the dead copy's claim: %v, %v", items, err)
	}

	ob := f.outbox(1, f.engine.Open)
	ob.Clock = clock.Fixed(wall.Add(time.Minute))
	if res, err := ob.Flush(ctx, clock.Fixed(queued.Add(7*24*time.Hour))); err != nil || res != (send.FlushResult{}) {
		t.Fatalf("inside the lease, as of a week ahead: %+v, %v; want nothing taken", res, err)
	}
	ob.Clock = clock.Fixed(wall.Add(3 * time.Minute))
	if res, err := ob.Flush(ctx, clock.Fixed(queued)); err != nil || res != (send.FlushResult{Sent: 1}) {
		t.Fatalf("after the lease: %+v, %v; want the confirmation sent", res, err)
	}
	if n := len(f.smtp.Messages()); n != 1 {
		t.Fatalf("%d mails, want 1", n)
	}
}
