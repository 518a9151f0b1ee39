package mail

import (
	"bytes"
	"context"
	"errors"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/smtptest"
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

func TestEveryNameReachesTheMailAndReadsBackFromTheToHeader(t *testing.T) {
	srv := smtptest.Start(t)
	conn := NewOpener(srv.Config(), "", Options{ReplyTimeout: 5 * time.Second, DialTimeout: time.Second, HELO: "test"})()
	defer conn.Close()
	long := strings.Repeat("Anna-Maria ", 9) + "Lee" // 102 characters, over the signup form's 100
	for _, tc := range []struct{ name, typed, want string }{
		{"a double quote", `Mary O"Brien`, `Mary O"Brien`},
		{"a backslash", `Ann \ Lee\`, `Ann \ Lee\`},
		{"markup", `"><script>alert(1)</script>`, `"><script>alert(1)</script>`},
		{"an address in the name", `Ann <boss@evil.example>, x@y`, `Ann <boss@evil.example>, x@y`},
		{"CR LF and a header", "Ann\r\nBcc: victim@example.com", "Ann Bcc: victim@example.com"},
		{"a tab and runs of spaces", "  Ann \t  Lee ", "Ann Lee"},
		{"an encoded word typed as text", "=?utf-8?q?Boss?=", "=?utf-8?q?Boss?="},
		{"emoji", "Zoë 🎉🌍", "Zoë 🎉🌍"},
		{"Chinese", "张伟", "张伟"},
		{"Chinese and a quote", `张"伟"`, `张"伟"`},
		{"a very long name", long, long},
		{"a very long name without spaces", strings.Repeat("x", 150), strings.Repeat("x", 150)},
		{"a very long Chinese name", strings.Repeat("张伟", 60), strings.Repeat("张伟", 60)},
		{"a name past the header's bound", strings.Repeat("长", 500), strings.Repeat("长", maxDisplayName)},
		{"an empty name", "", ""},
		{"only spaces", "   ", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Accepted()
			m, err := Compose(Envelope{
				From: `"Lead \"&\" Relate" <lessons@twostep.example>`, ToName: tc.typed, ToAddr: "ann@example.com",
				Subject: "Confirm", Text: "t", HTML: "<p>h</p>", Date: time.Unix(0, 0), MessageID: NewMessageID("lessons@twostep.example"),
			})
			if err != nil {
				t.Fatalf("compose: %v", err)
			}
			if _, err := conn.Send(context.Background(), m); err != nil {
				t.Fatalf("send: %v", err)
			}
			msgs := srv.Messages()
			if int64(len(msgs)) != before+1 {
				t.Fatalf("server has %d messages, want %d", len(msgs), before+1)
			}
			got := msgs[len(msgs)-1]
			to, err := netmail.ParseAddress(got.Header.Get("To"))
			if err != nil {
				t.Fatalf("To header %q does not parse: %v\n%s", got.Header.Get("To"), err, got.Raw)
			}
			if to.Name != tc.want || to.Address != "ann@example.com" || len(got.To) != 1 || got.To[0] != "ann@example.com" {
				t.Fatalf("To header %q reads back as %q <%s> (RCPT %v), want %q <ann@example.com>",
					got.Header.Get("To"), to.Name, to.Address, got.To, tc.want)
			}
			if from, err := netmail.ParseAddress(got.Header.Get("From")); err != nil || from.Name != `Lead "&" Relate` {
				t.Fatalf("From header %q: %v", got.Header.Get("From"), err)
			}
			for _, line := range strings.Split(string(got.Raw), "\r\n") {
				if len(line) > 998 || strings.HasPrefix(line, "Bcc:") {
					t.Fatalf("bad header line %q", line)
				}
			}
		})
	}
}

func TestAMessageThatCannotBeComposedIsAPermanentTypedError(t *testing.T) {
	for _, addr := range []string{"", "not an address", "ann@example.com\r\nRCPT TO:<x@example.com>", "Ann <ann@example.com>", "a@example.com, b@example.com"} {
		_, err := Compose(Envelope{From: "lessons@twostep.example", ToAddr: addr, Date: time.Unix(0, 0), MessageID: "1@twostep.example"})
		if !errors.Is(err, ErrCompose) {
			t.Errorf("Compose to %q: err = %v, want ErrCompose", addr, err)
			continue
		}
		if k := Classify(err).Kind; k != Reject {
			t.Errorf("Compose to %q: classified %v, want reject (never retried)", addr, k)
		}
		if strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("Compose to %q: the error holds a line break: %q", addr, err)
		}
	}
}

func TestTheListIdHeaderIsWrittenWhenGivenAndLeftOutWhenNot(t *testing.T) {
	for _, id := range []string{"Lead & Relate <lead-and-relate.twostep.example>", ""} {
		m, err := Compose(Envelope{From: "lessons@twostep.example", ToAddr: "ann@example.com", ListID: id,
			Date: time.Unix(0, 0), MessageID: "1@twostep.example", Text: "t", HTML: "h"})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		msg, err := netmail.ReadMessage(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if got, present := msg.Header.Get("List-Id"), len(msg.Header["List-Id"]) > 0; got != id || present != (id != "") {
			t.Fatalf("List-Id %q (present %v), want %q", got, present, id)
		}
	}
}

// A Composer parses the sender's addresses once, but each message carries
// the From and Reply-To it was composed with, and a bad address is refused
// however many good ones came before.
func TestAComposerWritesEachMessagesOwnSenders(t *testing.T) {
	var c Composer
	write := func(from, replyTo string) string {
		t.Helper()
		m, err := c.Compose(Envelope{From: from, ReplyTo: replyTo, ToAddr: "ann@example.com", Subject: "s", Text: "t", HTML: "h",
			Date: time.Unix(0, 0), MessageID: "1@twostep.example"})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		head, _, _ := strings.Cut(buf.String(), "\r\n\r\n")
		return head
	}
	for _, tc := range []struct{ from, replyTo, wantFrom, wantReplyTo string }{
		{`"Lead & Relate" <a@twostep.example>`, "", `From: "Lead & Relate" <a@twostep.example>`, ""},
		{`"Lead & Relate" <a@twostep.example>`, "r@twostep.example", `From: "Lead & Relate" <a@twostep.example>`, "Reply-To: <r@twostep.example>"},
		{"b@twostep.example", "", "From: <b@twostep.example>", ""},
		{"b@twostep.example", "", "From: <b@twostep.example>", ""},
	} {
		head := write(tc.from, tc.replyTo)
		if !strings.Contains(head, tc.wantFrom+"\r\n") {
			t.Errorf("from %q: no %q in\n%s", tc.from, tc.wantFrom, head)
		}
		if got := strings.Contains(head, "Reply-To:"); got != (tc.wantReplyTo != "") || got && !strings.Contains(head, tc.wantReplyTo+"\r\n") {
			t.Errorf("reply-to %q: want %q in\n%s", tc.replyTo, tc.wantReplyTo, head)
		}
	}
	_, err := c.Compose(Envelope{From: "not an address", ToAddr: "ann@example.com", Date: time.Unix(0, 0), MessageID: "1@twostep.example"})
	if !errors.Is(err, ErrCompose) {
		t.Fatalf("a bad From after good ones: %v, want ErrCompose", err)
	}
}
