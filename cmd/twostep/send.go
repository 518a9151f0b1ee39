package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/send"
)

// engine is the delivery engine as configured.
func (a *app) engine(m *send.Metrics) *send.Engine {
	return &send.Engine{
		DB: a.db, Library: a.library, Letters: a.letters, Log: a.log, Metrics: m,
		Open:  mail.NewOpener(a.cfg.SMTP, a.cfg.OutboxDir, mailOptions(a.cfg)),
		Conns: a.cfg.SMTPMaxConns, Rate: a.cfg.SMTPRate,
		Batch: send.DefaultBatch, Lease: send.DefaultLease, MaxSend: mail.DefaultOptions.DialTimeout + mail.DefaultOptions.ReplyTimeout,
		PolicyPause: send.DefaultPolicyPause, GiveUp: send.DefaultGiveUp, Clock: a.clock,
	}
}

func (a *app) outbox() *send.Outbox {
	return &send.Outbox{
		DB: a.db, Letters: a.letters, Log: a.log, Poll: 5 * time.Second, Clock: a.clock,
		Open: mail.NewOpener(a.cfg.SMTP, a.cfg.OutboxDir, mailOptions(a.cfg)), Conns: a.cfg.SMTPMaxConns,
	}
}

// sendCmd is `twostep send [--now RFC3339]`: flush the outbox, run one
// delivery pass as of --now, print the summary, and fail when any
// delivery failed or the SMTP server could not be reached.
func sendCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nowFlag := fs.String("now", "", "run the pass as of this time (RFC 3339, e.g. 2026-03-02T09:00:00Z)")
	if err := fs.Parse(args); err != nil {
		return usageError{"send: " + err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{"send: unexpected argument " + fs.Arg(0)}
	}
	// asOf is the one thing --now sets: what the pass and the flushes
	// count as due, and the times they record. Leases stay on the wall
	// clock, so a run a week ahead neither takes a running serve's claims
	// nor leaves claims that last a week.
	var asOf clock.Clock
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			return usageError{fmt.Sprintf("send: --now %q is not an RFC 3339 time like 2026-03-02T09:00:00Z", *nowFlag)}
		}
		asOf = clock.Fixed(t)
	}
	a, err := openApp(ctx, cfg, newLogger(stderr))
	if err != nil {
		return err
	}
	defer a.close()

	// The outbox holds every mail that is not a lesson: confirmations,
	// "here is your link" mails, address-change notes and the closing
	// email. It is flushed before the pass, for what was already queued,
	// and again after it, because a pass that sends someone's last lesson
	// queues their closing email there: it goes out in this same run.
	ob := a.outbox()
	before, ferr := ob.Flush(ctx, asOf)
	sum, err := a.engine(nil).Pass(ctx, asOf)
	var after send.FlushResult
	if err == nil && ferr == nil {
		after, ferr = ob.Flush(ctx, asOf)
	}
	fmt.Fprintln(stdout, sum)
	if before != (send.FlushResult{}) {
		fmt.Fprintf(stdout, "other mail (confirmations, links, notices): %s\n", flushLine(before))
	}
	if after != (send.FlushResult{}) {
		fmt.Fprintf(stdout, "closing emails: %s\n", flushLine(after))
	}
	switch {
	case err != nil:
		return err
	case ferr != nil:
		return ferr
	case sum.Failed > 0 || before.Failed > 0 || after.Failed > 0:
		return exitError{1}
	}
	return nil
}

func flushLine(r send.FlushResult) string {
	return fmt.Sprintf("sent %d, retrying %d, failed %d", r.Sent, r.Retrying, r.Failed)
}
