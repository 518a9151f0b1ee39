package main

import (
	"fmt"
	netmail "net/mail"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/smtptest"
)

// TestEveryNameReachesTheConfirmationTheLessonAndTheClosingEmail sends the
// three kinds of subscriber mail to readers with hostile and international
// names, through `twostep send` and a real SMTP server, and reads each
// name back from the To header.
func TestEveryNameReachesTheConfirmationTheLessonAndTheClosingEmail(t *testing.T) {
	t.Parallel()
	long := strings.TrimSpace(strings.Repeat("Anna-Maria ", 9))
	names := []struct{ typed, want string }{
		{`Mary O"Brien`, `Mary O"Brien`},
		{`Ann \ Lee\`, `Ann \ Lee\`},
		{`"><script>alert(1)</script>`, `"><script>alert(1)</script>`},
		{"Ann\r\nBcc: victim@example.com", "Ann Bcc: victim@example.com"},
		{"Zoë 🎉", "Zoë 🎉"},
		{"张伟", "张伟"},
		{long, long},
		{"", ""},
	}
	dbURL := dbtest.URL(t)
	sink := smtptest.Start(t)
	vars := map[string]string{"DATABASE_URL": dbURL, "SMTP_URL": "smtp://" + sink.Addr + "?tls=none"}
	if code, _, stderr := runCmd(t, vars, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	want := map[string]string{} // address → name
	for i, n := range names {
		for _, kind := range []string{"confirm", "lesson", "graduation"} {
			addr := fmt.Sprintf("%s%d@example.com", kind, i)
			want[addr] = n.want
			switch kind {
			case "confirm":
				sql(t, dbURL, `WITH s AS (INSERT INTO subscribers (email, name, status, consent_at) VALUES ($1, $2, 'pending', '2026-03-01T08:00:00Z') RETURNING id)
					INSERT INTO outbox (subscriber_id, kind, next_attempt_at, created_at) SELECT id, 'confirm', '2026-03-01T08:00:00Z', '2026-03-01T08:00:00Z' FROM s`, addr, n.typed)
			case "lesson":
				addReader(t, dbURL, addr, n.typed, 1, "2026-03-02T08:00:00Z", "2026-03-01T08:00:00Z")
			case "graduation":
				sql(t, dbURL, `WITH s AS (INSERT INTO subscribers (email, name, status, consent_at, confirmed_at) VALUES ($1, $2, 'completed', '2025-03-01T08:00:00Z', '2025-03-01T08:00:00Z') RETURNING id),
					p AS (INSERT INTO schedule (subscriber_id, lesson, active) SELECT id, 53, false FROM s)
					INSERT INTO outbox (subscriber_id, kind, next_attempt_at, created_at) SELECT id, 'graduation', '2026-03-01T08:00:00Z', '2026-03-01T08:00:00Z' FROM s`, addr, n.typed)
			}
		}
	}
	code, stdout, stderr := runCmd(t, vars, "send", "--now", "2026-03-02T08:00:30Z")
	if code != 0 {
		t.Fatalf("send: exit %d, %q %s", code, stdout, stderr)
	}
	msgs := sink.Messages()
	if len(msgs) != len(want) {
		t.Fatalf("%d messages for %d readers: %q", len(msgs), len(want), stdout)
	}
	for _, m := range msgs {
		to, err := netmail.ParseAddress(m.Header.Get("To"))
		if err != nil {
			t.Errorf("To header %q does not parse: %v", m.Header.Get("To"), err)
			continue
		}
		if name, ok := want[to.Address]; !ok || to.Name != name || len(m.To) != 1 || m.To[0] != to.Address {
			t.Errorf("To %q reads back as %q <%s> (RCPT %v), want %q", m.Header.Get("To"), to.Name, to.Address, m.To, name)
		}
		if len(m.Header["Bcc"]) > 0 {
			t.Errorf("a name added a Bcc header: %q", m.Header["Bcc"])
		}
		delete(want, to.Address)
	}
	if len(want) > 0 {
		t.Errorf("no mail reached %v", want)
	}
}
