package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/smtptest"
)

func TestSendRunsOnePassAsOfNowAndSaysWhatItDid(t *testing.T) {
	t.Parallel()
	// migrate imports the lessons; then one reader due on 2 March.
	vars, sink, conn := sendSetup(t)
	addReader(t, vars["DATABASE_URL"], "ann@example.com", "", 1, "2026-03-02T08:00:00Z", "2026-03-01T08:00:00Z")

	code, stdout, stderr := runCmd(t, vars, "send", "--now", "2026-03-01T09:00:00Z")
	if code != 0 || !strings.HasPrefix(stdout, "sent 0, retrying 0, bounced 0, failed 0 in ") {
		t.Fatalf("before the due time: exit %d, %q %s", code, stdout, stderr)
	}
	code, stdout, stderr = runCmd(t, vars, "send", "--now", "2026-03-02T08:00:30Z")
	if code != 0 || !strings.HasPrefix(stdout, "sent 1, retrying 0, bounced 0, failed 0 in ") || sink.Accepted() != 1 {
		t.Fatalf("at the due time: exit %d, %q, %d accepted %s", code, stdout, sink.Accepted(), stderr)
	}
	code, stdout, _ = runCmd(t, vars, "send", "--now", "2026-03-02T08:00:30Z")
	if code != 0 || !strings.HasPrefix(stdout, "sent 0,") {
		t.Fatalf("the same pass again: exit %d, %q", code, stdout)
	}

	// Lesson 2 is due on 9 March; with the server gone the pass fails and
	// says why, and nothing is lost.
	sink.Close()
	code, stdout, stderr = runCmd(t, vars, "send", "--now", "2026-03-09T08:00:30Z")
	if code == 0 || !strings.Contains(stderr, "cannot reach the SMTP server") {
		t.Fatalf("with the server down: exit %d, %q, %s", code, stdout, stderr)
	}
	var next int
	conn.QueryRow(context.Background(), `SELECT lesson FROM schedule`).Scan(&next)
	if next != 2 {
		t.Fatalf("next lesson %d after a failed pass, want still 2", next)
	}
}

// sendSetup migrates a fresh database (which imports the lessons) and
// returns the environment for running send against it and a real SMTP
// server, and a connection to the database.
func sendSetup(t *testing.T) (map[string]string, *smtptest.Server, *pgx.Conn) {
	t.Helper()
	url := dbtest.URL(t)
	sink := smtptest.Start(t)
	vars := map[string]string{"DATABASE_URL": url, "SMTP_URL": "smtp://" + sink.Addr + "?tls=none"}
	if code, _, stderr := runCmd(t, vars, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return vars, sink, conn
}

func TestSendRefusesABadNow(t *testing.T) {
	t.Parallel()
	for _, bad := range [][]string{{"--now", "yesterday"}, {"--now"}, {"extra"}} {
		if code, _, _ := runCmd(t, map[string]string{}, append([]string{"send"}, bad...)...); code != 2 {
			t.Errorf("send %v: exit %d, want 2", bad, code)
		}
	}
}

func TestSendMailsTheClosingEmailInTheRunThatSendsTheLastLessonAndCountsItByName(t *testing.T) {
	t.Parallel()
	vars, sink, conn := sendSetup(t)
	// A reader whose last lesson (52) is due.
	addReader(t, vars["DATABASE_URL"], "ann@example.com", "", 52, "2026-03-02T08:00:00Z", "2025-03-01T08:00:00Z")
	code, stdout, stderr := runCmd(t, vars, "send", "--now", "2026-03-02T08:00:30Z")
	if code != 0 || !strings.HasPrefix(stdout, "sent 1,") {
		t.Fatalf("send: exit %d, %q %s", code, stdout, stderr)
	}
	if sink.Accepted() != 2 {
		t.Fatalf("%d messages accepted in the run, want the last lesson and the closing email:\n%s", sink.Accepted(), stdout)
	}
	if !strings.Contains(stdout, "closing emails: sent 1, retrying 0, failed 0") || strings.Contains(stdout, "confirmations") {
		t.Fatalf("summary %q does not count the closing email under its own name", stdout)
	}
	var status string
	conn.QueryRow(context.Background(), `SELECT status FROM subscribers`).Scan(&status)
	if status != "completed" {
		t.Fatalf("status %q after the last lesson, want completed", status)
	}
	// A second run sends nothing more.
	if code, stdout, _ = runCmd(t, vars, "send", "--now", "2026-03-02T08:01:00Z"); code != 0 || sink.Accepted() != 2 || strings.Contains(stdout, "closing") {
		t.Fatalf("second run: exit %d, %q, %d accepted", code, stdout, sink.Accepted())
	}
}
