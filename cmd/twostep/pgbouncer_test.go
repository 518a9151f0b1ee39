package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/smtptest"
)

// The query modes README offers for PgBouncer in transaction pooling.
var pgBouncerModes = []string{"simple_protocol", "exec"}

func TestThroughPgBouncerTwoCopiesMigrateAReaderSignsUpConfirmsGetsLessonOneAndMigrateRunsAgain(t *testing.T) {
	t.Parallel()
	for _, mode := range pgBouncerModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			direct, adminURL := absentDatabase(t)
			name := strings.TrimPrefix(mustPath(t, direct), "/")
			bouncer := dbtest.PgBouncer(t, direct)
			bounced := withQueryParam(t, bouncer.URL, "default_query_exec_mode", mode)

			// Creating the database through PgBouncer cannot work; the
			// error says so and what to do.
			code, _, stderr := runCmd(t, map[string]string{"DATABASE_URL": bounced}, "migrate")
			if code != 1 || !strings.Contains(stderr, "cannot create it through PgBouncer") || !strings.Contains(stderr, "createdb "+name) {
				t.Fatalf("migrate through PgBouncer to a missing database: exit status %d, stderr %q; "+
					"want 1 and an error saying it cannot be created through PgBouncer", code, stderr)
			}
			sql(t, adminURL, "CREATE DATABASE "+name)

			migrateTwoAtOnce(t, direct, bounced, adminURL, name, func() []string {
				apps, err := bouncer.Clients(context.Background(), name)
				if err != nil {
					t.Fatal(err)
				}
				return apps
			})
			migrated := state(t, direct)

			// serve and send through PgBouncer together: the signup's
			// confirmation comes from serve's outbox, lesson 1 from the
			// pass that send runs (serve's own pass is an hour away).
			smtp := smtptest.Start(t)
			smtpURL := "smtp://" + smtp.Addr + "?tls=none"
			p, base := startServe(t, t.TempDir(), map[string]string{
				"DATABASE_URL": bounced, "SMTP_URL": smtpURL, "SEND_SCHEDULE": "@every 1h",
			})
			subscribe(t, base, "ann@example.com")
			if !smtp.WaitFor(1, 15*time.Second) {
				t.Fatal("no confirmation within 15s of the signup")
			}
			confirm := regexp.MustCompile(regexp.QuoteMeta(base) + `/confirm/[A-Za-z0-9_-]+`).FindString(smtp.Messages()[0].Text())
			if confirm == "" {
				t.Fatalf("the first message has no confirmation link:\n%s", smtp.Messages()[0].Text())
			}
			resp, err := noRedirect.Post(confirm, "application/x-www-form-urlencoded", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther { // POST-redirect-GET to the welcome page
				t.Fatalf("POST %s = %d, want 303", confirm, resp.StatusCode)
			}
			code, stdout, stderr := runCmd(t, map[string]string{"DATABASE_URL": bounced, "SMTP_URL": smtpURL}, "send")
			if code != 0 || !strings.HasPrefix(stdout, "sent 1, retrying 0, bounced 0, failed 0 in ") {
				t.Fatalf("send through PgBouncer: exit status %d, stdout %q\n%s", code, stdout, stderr)
			}
			msgs := smtp.Messages()
			if len(msgs) != 2 || msgs[1].Header.Get("X-Twostep-Lesson") != "1" || msgs[1].To[0] != "ann@example.com" {
				t.Fatalf("after send: %d messages, the last lesson %q; want the confirmation, then lesson 1 to ann@example.com",
					len(msgs), msgs[len(msgs)-1].Header.Get("X-Twostep-Lesson"))
			}
			terminate(t, p)

			// Once more: the server connections PgBouncer lends have been
			// used by the two copies, serve and send before this one (with
			// the default mode this is where the stmtcache_… clash showed).
			code, stdout, stderr = runCmd(t, map[string]string{"DATABASE_URL": bounced}, "migrate")
			if code != 0 || !strings.Contains(stdout, "database is up to date") {
				t.Fatalf("migrate again through PgBouncer: exit status %d, stdout %q\n%s", code, stdout, stderr)
			}
			if again := state(t, direct); again != migrated {
				t.Fatalf("migrate again changed the database:\nbefore %+v\nafter  %+v", migrated, again)
			}
		})
	}
}
