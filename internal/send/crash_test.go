package send_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/send"
	"github.com/twostep/twostep/internal/smtptest"
	"github.com/twostep/twostep/internal/store"
)

// crashPassChild runs one pass in a child process that the parent kills
// mid-batch: TWOSTEP_CRASH_PASS is the database URL, TWOSTEP_CRASH_SMTP the
// sink's address.
func crashPassChild() {
	ctx := context.Background()
	db, err := store.Open(ctx, os.Getenv("TWOSTEP_CRASH_PASS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	host, port, _ := net.SplitHostPort(os.Getenv("TWOSTEP_CRASH_SMTP"))
	p, _ := strconv.Atoi(port)
	e := newEngine(panicTB{}, db, nil)
	e.Open = mail.NewOpener(&config.SMTP{Host: host, Port: p, TLS: "none"}, "", testMailOptions)
	_, err = e.Pass(ctx, time.Now)
	fmt.Fprintln(os.Stderr, "child pass ended:", err)
	os.Exit(0)
}

// panicTB lets the fixture builders run outside a test.
type panicTB struct{ testing.TB }

func (panicTB) Helper()                      {}
func (panicTB) Fatal(args ...any)            { panic(fmt.Sprint(args...)) }
func (panicTB) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
func (panicTB) Cleanup(func())               {}

func TestKillingAPassMidBatchLosesNothingAndDuplicatesAtMostTheInFlight(t *testing.T) {
	f := newFixture(t)
	const n = 600
	addMany(t, f.db, n, time.Now().Add(-time.Minute))
	f.smtp.SetHook(func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageData {
			time.Sleep(3 * time.Millisecond)
		}
		return nil
	})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"TWOSTEP_CRASH_PASS="+f.db.Pool.Config().ConnString(),
		"TWOSTEP_CRASH_SMTP="+f.smtp.Addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !f.smtp.WaitFor(n/4, 30*time.Second) {
		cmd.Process.Kill()
		t.Fatalf("child sent only %d", f.smtp.Accepted())
	}
	cmd.Process.Kill()
	cmd.Wait()
	killedAt := f.smtp.Accepted()
	if killedAt >= n {
		t.Fatalf("the child finished before it was killed (%d sent)", killedAt)
	}
	inDoubt := f.count(`SELECT count(*) FROM schedule WHERE lease_until IS NOT NULL`) // claimed, not recorded

	// Another pass once the dead pass's leases have ended.
	f.set(time.Now().Add(f.engine.Lease + time.Minute))
	f.engine.Clock = f.clock // leases judged at that time too
	f.smtp.SetHook(nil)
	sum := f.pass()

	got := recipients(f.smtp.Messages())
	if len(got) != n {
		t.Fatalf("%d distinct readers got lesson 1, want %d", len(got), n)
	}
	dups := 0
	for _, c := range got {
		dups += c - 1
	}
	// In flight: one message in SMTP per connection, and up to
	// RecordWindow more per connection accepted but not yet recorded.
	if limit := f.engine.Conns * (send.RecordWindow + 1); dups > inDoubt || dups > limit {
		t.Fatalf("%d duplicates, but only %d deliveries were in flight (at most %d with %d connections)", dups, inDoubt, limit, f.engine.Conns)
	}
	if s := f.count(`SELECT count(*) FROM deliveries WHERE status = 'sent'`); s != n {
		t.Fatalf("ledger: %d sent, want %d (second pass %v)", s, n, sum)
	}
	t.Logf("killed after %d accepted with %d in flight; %d duplicates; second pass %v", killedAt, inDoubt, dups, sum)
}
