package bounce

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// dsn is a delivery status notification as Postfix writes one.
func dsn(to, action, status, recipient, quotedID string) string {
	return strings.ReplaceAll(fmt.Sprintf(`Return-Path: <>
Delivered-To: %s
From: MAILER-DAEMON@relay.example.org (Mail Delivery System)
To: %s
Subject: Undelivered Mail Returned to Sender
Message-Id: <20261201110000.DSN%s@relay.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain; charset=us-ascii

This is the mail system at host relay.example.org. I'm sorry to have to inform you that your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.org
Arrival-Date: Tue,  1 Dec 2026 10:59:00 +0000 (UTC)

Final-Recipient: rfc822; %s
Original-Recipient: rfc822;%s
Action: %s
Status: %s
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.1.1 <%s>: Recipient address rejected: User unknown

--B1
Content-Type: text/rfc822-headers

From: Lead & Relate <lessons@lead.example>
To: %s
Subject: Lesson 3 of 52
Message-ID: <%s>

--B1--
`, to, to, status, recipient, recipient, action, status, recipient, recipient, quotedID), "\n", "\r\n")
}

// arf is an RFC 5965 abuse report as a mailbox provider's feedback loop
// sends one.
func arf(feedbackType, rcpt, quotedID string) string {
	return strings.ReplaceAll(fmt.Sprintf(`From: fbl@isp.example
To: bounces@lead.example
Subject: Abuse report
Message-ID: <arf-%s-%s@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F1"

--F1
Content-Type: text/plain

This is an email abuse report for an email message received from IP 192.0.2.1.

--F1
Content-Type: message/feedback-report

Feedback-Type: %s
User-Agent: isp-fbl/1.0
Version: 1
Original-Rcpt-To: %s

--F1
Content-Type: message/rfc822

From: Lead & Relate <lessons@lead.example>
To: %s
Subject: Lesson 9 of 52
Message-ID: <%s>

Lesson text.
--F1--
`, feedbackType, rcpt, feedbackType, rcpt, rcpt, quotedID), "\n", "\r\n")
}

const autoReply = "From: someone@example.org\r\nTo: bounces@lead.example\r\nSubject: Out of office\r\nContent-Type: text/plain\r\n\r\nI am away until Monday.\r\n"

func TestVERPCarriesTheMessageIDThereAndBack(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef@lead.example"
	v := VERP("bounces@mail.lead.example", id)
	if v != "bounces+0123456789abcdef0123456789abcdef=lead.example@mail.lead.example" {
		t.Fatalf("VERP = %q", v)
	}
	if got, ok := FromVERP("<" + v + ">"); !ok || got != id {
		t.Errorf("FromVERP(%q) = %q, %v", v, got, ok)
	}
	for _, bad := range []string{"bounces@lead.example", "bounces+@lead.example", "bounces+abc@lead.example",
		"bounces+a=b=c;drop@lead.example", "bounces+a\r\nb=c@lead.example", "nobody", ""} {
		if got, ok := FromVERP(bad); ok {
			t.Errorf("FromVERP(%q) = %q, want no Message-ID", bad, got)
		}
	}
	// A Message-ID that could not ride in an address leaves the sender plain.
	if v := VERP("bounces@lead.example", "we\"ird@x"); v != "bounces@lead.example" {
		t.Errorf("VERP of an odd id = %q", v)
	}
}

func TestParseReadsDSNsAndARFReports(t *testing.T) {
	verp := VERP("bounces@lead.example", "aaaa@lead.example")
	cases := []struct {
		name string
		raw  string
		want string // kind email message-id, per report
		err  error
	}{
		{"a hard bounce to the VERP address", dsn(verp, "failed", "5.1.1", "gone@example.net", "quoted@lead.example"), "hard gone@example.net aaaa@lead.example", nil},
		{"a hard bounce to the plain address, matched by the quoted Message-ID", dsn("bounces@lead.example", "failed", "5.1.1", "gone@example.net", "quoted@lead.example"), "hard gone@example.net quoted@lead.example", nil},
		{"a failure with a 4.x.x status is soft", dsn(verp, "failed", "4.2.2", "full@example.net", "q@lead.example"), "soft full@example.net aaaa@lead.example", nil},
		{"a policy refusal (5.7.1) is soft: it says nothing about the address", dsn(verp, "failed", "5.7.1", "spamfilter@example.net", "q@lead.example"), "soft spamfilter@example.net aaaa@lead.example", nil},
		{"a full mailbox (5.2.2) is soft", dsn(verp, "failed", "5.2.2", "full@example.net", "q@lead.example"), "soft full@example.net aaaa@lead.example", nil},
		{"a disabled mailbox (5.2.1) is hard", dsn(verp, "failed", "5.2.1", "closed@example.net", "q@lead.example"), "hard closed@example.net aaaa@lead.example", nil},
		{"headers quoted in base64 are read", strings.Replace(dsn("bounces@lead.example", "failed", "5.1.1", "gone@example.net", "x"),
			"Content-Type: text/rfc822-headers\r\n\r\nFrom: Lead & Relate <lessons@lead.example>\r\nTo: gone@example.net\r\nSubject: Lesson 3 of 52\r\nMessage-ID: <x>\r\n",
			"Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: base64\r\n\r\n"+base64.StdEncoding.EncodeToString([]byte("To: gone@example.net\r\nMessage-ID: <b64@lead.example>\r\n\r\n"))+"\r\n", 1),
			"hard gone@example.net b64@lead.example", nil},
		{"a redacted abuse report is matched by its VERP envelope sender", strings.Replace(strings.Replace(arf("abuse", "redacted@isp.example", "l9@lead.example"),
			"Original-Rcpt-To: redacted@isp.example", "Original-Mail-From: <"+verp+">\r\nOriginal-Rcpt-To: redacted@isp.example", 1), "Message-ID: <l9@lead.example>", "Message-ID: <redacted>", 1),
			"complaint redacted@isp.example aaaa@lead.example", nil},
		{"a delay is not a bounce", dsn(verp, "delayed", "4.4.1", "slow@example.net", "q@lead.example"), "", nil},
		{"an abuse report is a complaint", arf("abuse", "angry@example.net", "l9@lead.example"), "complaint angry@example.net l9@lead.example", nil},
		{"a not-spam report is nothing", arf("not-spam", "happy@example.net", "l9@lead.example"), "", nil},
		{"an auto-reply is not a report", autoReply, "", ErrNotAReport},
		{"garbage is not a report", "\x00\x01 not a mail", "", ErrNotAReport},
		{"a report with a broken boundary is not a report", strings.Replace(dsn(verp, "failed", "5.1.1", "x@example.net", "q@x"), `boundary="B1"`, `boundary=""`, 1), "", ErrNotAReport},
	}
	for _, c := range cases {
		got, err := Parse([]byte(c.raw))
		if !errors.Is(err, c.err) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.err)
			continue
		}
		var parts []string
		for _, r := range got {
			parts = append(parts, fmt.Sprintf("%s %s %s", r.Kind, r.Email, r.MessageID))
			if r.Provider != drip.ProviderIMAP || r.ID == "" {
				t.Errorf("%s: report %+v has no provider or id", c.name, r)
			}
		}
		if s := strings.Join(parts, "; "); s != c.want {
			t.Errorf("%s: got %q, want %q", c.name, s, c.want)
		}
	}
	a, _ := Parse([]byte(dsn(verp, "failed", "5.1.1", "gone@example.net", "q@x")))
	b, _ := Parse([]byte(dsn(verp, "failed", "5.1.1", "gone@example.net", "q@x")))
	if a[0].ID != b[0].ID {
		t.Errorf("the same DSN read twice has ids %q and %q; it would act twice", a[0].ID, b[0].ID)
	}
	if !strings.Contains(a[0].Reason, "5.1.1") || !strings.Contains(a[0].Reason, "User unknown") {
		t.Errorf("reason %q lacks the status and diagnostic", a[0].Reason)
	}
}

// imapServer is an in-memory IMAP server with one account whose INBOX
// holds msgs.
func imapServer(t *testing.T, msgs ...string) Account {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("bounces", "mailbox-pass")
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		InsecureAuth: true,
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		Logger:       slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	acct := Account{Addr: ln.Addr().String(), TLS: "none", User: "bounces", Password: "mailbox-pass", Folder: "INBOX"}
	c, err := imapclient.DialInsecure(acct.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(acct.User, acct.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		w := c.Append("INBOX", int64(len(m)), nil)
		if _, err := w.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	return acct
}

// flagged counts the INBOX messages with $TwostepDone.
func flagged(t *testing.T, acct Account) int {
	t.Helper()
	c, err := imapclient.DialInsecure(acct.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(acct.User, acct.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	d, err := c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{doneFlag, imap.FlagSeen}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return len(d.AllUIDs())
}

func addReader(t *testing.T, db *store.DB, email, msgID string) int64 {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	if _, err := db.Signup(ctx, drip.Signup{Email: email, TimeZone: "UTC", At: now.Add(-48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := db.Pool.QueryRow(ctx, `UPDATE subscribers SET status = 'active', confirmed_at = $2
		WHERE email = $1 RETURNING id`, email, now).Scan(&id); err != nil {
		t.Fatal(err)
	}
	// Confirmed, the reader has a schedule row (migration 00016's trigger).
	if tag, err := db.Pool.Exec(ctx, `UPDATE schedule SET lesson = 4, due_at = $2 WHERE subscriber_id = $1`, id, now); err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("schedule the reader: %v, %d rows", err, tag.RowsAffected())
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO deliveries (subscriber_id, lesson, status, due_at, message_id, sent_at)
		VALUES ($1, 3, 'sent', $2, $3, $2)`, id, now.Add(-time.Hour), msgID); err != nil {
		t.Fatal(err)
	}
	return id
}

func status(t *testing.T, db *store.DB, id int64) string {
	t.Helper()
	var s string
	if err := db.Pool.QueryRow(context.Background(), `SELECT status FROM subscribers WHERE id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTheBounceMailboxStopsMailForDSNsAndComplaintsOnceAndMarksWhatItRead(t *testing.T) {
	db := dbtest.New(t)
	bounced := addReader(t, db, "gone@example.net", "1111@lead.example")
	complained := addReader(t, db, "angry@example.net", "2222@lead.example")
	kept := addReader(t, db, "fine@example.net", "3333@lead.example")
	// The DSN names its message only by the VERP address it came to; the
	// relay quoted no headers that would tell us.
	hard := dsn(VERP("bounces@lead.example", "1111@lead.example"), "failed", "5.1.1", "gone@example.net", "")
	hard = hard[:strings.Index(hard, "--B1\r\nContent-Type: text/rfc822-headers")] + "--B1--\r\n"
	acct := imapServer(t,
		hard,
		hard, // the relay sent it twice
		arf("abuse", "angry@example.net", "2222@lead.example"),
		dsn("bounces@lead.example", "delayed", "4.4.1", "fine@example.net", "3333@lead.example"),
		autoReply,
	)
	m := &Mailbox{Account: acct, Rec: db, Log: slog.New(slog.DiscardHandler)}
	res, err := m.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != 4 || res.Skipped != 1 || res.Reports != 2 {
		t.Errorf("poll: %+v, want 4 read, 1 skipped, 2 fresh reports", res)
	}
	for id, want := range map[int64]string{bounced: "bounced", complained: "unsubscribed", kept: "active"} {
		if got := status(t, db, id); got != want {
			t.Errorf("reader %d is %s, want %s", id, got, want)
		}
	}
	var events int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE kind IN ('bounced', 'complained') AND actor = 'report' AND detail->>'provider' = 'imap'`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != 2 {
		t.Errorf("%d bounce/complaint events, want 2 (the duplicate DSN acted twice?)", events)
	}
	if n := flagged(t, acct); n != 5 {
		t.Errorf("%d messages marked read, want all 5", n)
	}
	res, err = m.Poll(context.Background())
	if err != nil || res.Read+res.Skipped != 0 {
		t.Errorf("second poll read again: %+v, %v", res, err)
	}
}

func TestABounceMailboxThatRefusesTheLoginIsAnErrorAndLeavesTheMessages(t *testing.T) {
	db := dbtest.New(t)
	acct := imapServer(t, dsn("bounces@lead.example", "failed", "5.1.1", "x@example.net", "q@x"))
	wrong := acct
	wrong.Password = "guess"
	m := &Mailbox{Account: wrong, Rec: db, Log: slog.New(slog.DiscardHandler)}
	if _, err := m.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "log in") {
		t.Errorf("wrong password: err %v", err)
	}
	if n := flagged(t, acct); n != 0 {
		t.Errorf("%d messages marked after a failed login", n)
	}
}

func TestParseURL(t *testing.T) {
	good := map[string]Account{
		"imaps://bounces:p%40ss@mail.example.org":            {Addr: "mail.example.org:993", TLS: "tls", User: "bounces", Password: "p@ss", Folder: "INBOX"},
		"imap://b:p@mail.example.org/Bounces":                {Addr: "mail.example.org:143", TLS: "starttls", User: "b", Password: "p", Folder: "Bounces"},
		"imap://b:p@127.0.0.1:1143/INBOX?tls=none":           {Addr: "127.0.0.1:1143", TLS: "none", User: "b", Password: "p", Folder: "INBOX"},
		"imaps://user+tag@example.com:p@[::1]:993/INBOX/Sub": {Addr: "[::1]:993", TLS: "tls", User: "user+tag@example.com", Password: "p", Folder: "INBOX/Sub"},
	}
	for raw, want := range good {
		got, err := ParseURL(raw)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for _, bad := range []string{"", "http://x", "imaps://", "imaps://host", "imap://u:p@host?tls=maybe", "::"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
}

func TestAForgedBounceNamingOnlyAnAddressChangesNothing(t *testing.T) {
	db := dbtest.New(t)
	victim := addReader(t, db, "victim@example.net", "4444@lead.example")
	// Anyone can mail the bounce address a report about anyone.
	forged := dsn("bounces@lead.example", "failed", "5.1.1", "victim@example.net", "made-up@lead.example")
	acct := imapServer(t, forged)
	m := &Mailbox{Account: acct, Rec: db, Log: slog.New(slog.DiscardHandler)}
	if _, err := m.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := status(t, db, victim); st != "active" {
		t.Errorf("a forged bounce made the reader %s", st)
	}
	var n int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM suppressions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("a forged bounce suppressed %d addresses", n)
	}
}
