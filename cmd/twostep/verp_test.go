package main

import (
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/bounce"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/smtptest"
)

func TestWithABounceAddressEachLessonsEnvelopeSenderNamesItsMessage(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	sink := smtptest.Start(t)
	vars := map[string]string{"DATABASE_URL": url, "SMTP_URL": "smtp://" + sink.Addr + "?tls=none",
		"BOUNCE_ADDRESS": "bounces@mail.twostep.example"}
	if code, _, stderr := runCmd(t, vars, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	addReader(t, url, "ann@example.com", "Ann", 1, "2026-03-02T08:00:00Z", "2026-03-01T08:00:00Z")
	if code, stdout, stderr := runCmd(t, vars, "send", "--now", "2026-03-02T08:00:30Z"); code != 0 || !strings.HasPrefix(stdout, "sent 1,") {
		t.Fatalf("send: exit %d, %q %s", code, stdout, stderr)
	}
	m := sink.Messages()[0]
	id := drip.NormalizeMessageID(m.Header.Get("Message-ID"))
	if !strings.HasPrefix(m.From, "bounces+") || !strings.HasSuffix(m.From, "@mail.twostep.example") {
		t.Fatalf("envelope sender %q is not a VERP address of BOUNCE_ADDRESS", m.From)
	}
	if got, ok := bounce.FromVERP(m.From); !ok || got != id {
		t.Errorf("envelope sender %q names %q, the lesson is %q", m.From, got, id)
	}
	if got := m.Header.Get("List-Id"); got != "Lead & Relate <lead-and-relate.twostep.example>" {
		t.Errorf("List-Id = %q", got)
	}
	if from := m.Header.Get("From"); !strings.Contains(from, "lessons@twostep.example") {
		t.Errorf("the From header changed with the envelope sender: %q", from)
	}
}
