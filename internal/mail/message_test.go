package mail

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNamesWithCRLFCannotAddHeaders(t *testing.T) {
	m, err := Compose(Envelope{
		From: "Lead & Relate <lessons@twostep.example>", ToName: "Ann\r\nBcc: victim@example.com", ToAddr: "ann@example.com",
		Subject: "Hi\r\nX-Evil: 1", Text: "t", HTML: "<p>h</p>", Date: time.Unix(0, 0), MessageID: "1@twostep.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m.WriteTo(&buf)
	for _, line := range strings.Split(buf.String(), "\r\n") {
		if strings.HasPrefix(line, "Bcc:") || strings.HasPrefix(line, "X-Evil:") {
			t.Fatalf("a value started a header of its own: %q\n%s", line, buf.String())
		}
	}
}

func TestMessageIDIsOnTheFromDomain(t *testing.T) {
	id := NewMessageID("Lead & Relate <lessons@twostep.example>")
	if !strings.HasSuffix(id, "@twostep.example") || len(id) < 40 || id == NewMessageID("x@twostep.example") {
		t.Fatalf("id %q", id)
	}
}

func TestDirWritesWholeFilesOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	m, _ := Compose(Envelope{From: "a@twostep.example", ToAddr: "b@example.com", Subject: "s", Text: "t", HTML: "h",
		Date: time.Unix(0, 0), MessageID: NewMessageID("a@twostep.example")})
	if _, err := (&Dir{Path: dir}).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".eml") {
		t.Fatalf("outbox holds %v, want one .eml and no temporary file", entries)
	}
}
