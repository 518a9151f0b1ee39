package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/smtptest"
)

// testMsg is a small message to ann@example.com.
func testMsg(t *testing.T) *gomail.Msg {
	t.Helper()
	m, err := Compose(Envelope{
		From: "Lead & Relate <lessons@twostep.example>", ToName: "Ann", ToAddr: "ann@example.com",
		Subject: "Lesson 1", Text: "text", HTML: "<p>html</p>", Date: time.Unix(0, 0),
		MessageID: NewMessageID("lessons@twostep.example"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tlsOptions trust ca. The reply timeout is short so that a client that
// waits for a greeting that never comes fails the test instead of hanging.
func tlsOptions(ca *smtptest.CA) Options {
	o := Options{ReplyTimeout: 5 * time.Second, DialTimeout: 2 * time.Second, HELO: "test"}
	if ca != nil {
		o.RootCAs = ca.Pool()
	}
	return o
}

// sendOnce opens a connection with cfg and o, sends m and closes it.
func sendOnce(cfg *config.SMTP, o Options, m *gomail.Msg) error {
	t := NewOpener(cfg, "", o)()
	defer t.Close()
	_, err := t.Send(context.Background(), m)
	return err
}

const (
	// A provider's user names are often addresses or keys, and its
	// passwords hold any character.
	hardUser = "relay+lessons@twostep.example"
	hardPass = "p@ss/w+rd:%é"
)

func TestEveryTLSModeWithALoginDeliversOverAnEncryptedConnection(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, "127.0.0.1", "localhost")
	for _, tc := range []struct {
		name, tls, mech string
	}{
		{"STARTTLS with AUTH PLAIN", "starttls", "PLAIN"},
		{"STARTTLS with AUTH LOGIN", "starttls", "LOGIN"},
		{"implicit TLS with AUTH PLAIN", "tls", "PLAIN"},
		{"implicit TLS with AUTH LOGIN", "tls", "LOGIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.StartWith(t, smtptest.Options{
				TLS: tc.tls, Cert: &cert, Users: map[string]string{hardUser: hardPass}, Mechanisms: []string{tc.mech},
			})
			cfg := srv.Config()
			cfg.Username, cfg.Password = hardUser, hardPass
			if err := sendOnce(cfg, tlsOptions(ca), testMsg(t)); err != nil {
				t.Fatalf("send: %v", err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != hardUser {
				t.Fatalf("server got %d messages (%+v), want one over TLS from %q", len(msgs), msgs, hardUser)
			}
			logins := srv.Logins()
			if len(logins) != 1 || !logins[0].OK || !logins[0].TLS || logins[0].Mechanism != tc.mech {
				t.Fatalf("logins %+v, want one %s login over TLS", logins, tc.mech)
			}
		})
	}
}

func TestCredentialsWithAtSlashAndPlusGoThroughSMTPURLIntact(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, "127.0.0.1")
	for _, scheme := range []string{"smtps://%s@%s", "smtp://%s@%s?tls=starttls", "smtp://%s@%s?tls=tls"} {
		tlsMode := "tls"
		if strings.Contains(scheme, "starttls") {
			tlsMode = "starttls"
		}
		srv := smtptest.StartWith(t, smtptest.Options{TLS: tlsMode, Cert: &cert, Users: map[string]string{hardUser: hardPass}})
		// url.UserPassword percent-encodes as an operator is told to.
		raw := strings.Replace(strings.Replace(scheme, "%s", url.UserPassword(hardUser, hardPass).String(), 1), "%s", srv.Addr, 1)
		c, err := config.Load(func(name string) string {
			if name == "SMTP_URL" {
				return raw
			}
			return ""
		})
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if c.SMTP.Username != hardUser || c.SMTP.Password != hardPass || c.SMTP.TLS != tlsMode {
			t.Fatalf("%s parsed as user %q password %q tls %q", raw, c.SMTP.Username, c.SMTP.Password, c.SMTP.TLS)
		}
		if err := sendOnce(c.SMTP, tlsOptions(ca), testMsg(t)); err != nil {
			t.Fatalf("%s: send: %v", raw, err)
		}
		if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].User != hardUser {
			t.Fatalf("%s: server got %+v", raw, msgs)
		}
	}
}

func TestAWrongPasswordIsAClearRetryableErrorAndTheMessageStillSendsAfter(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, "127.0.0.1")
	for _, mode := range []string{"starttls", "tls"} {
		srv := smtptest.StartWith(t, smtptest.Options{TLS: mode, Cert: &cert, Users: map[string]string{"lessons": "right one"}})
		cfg := srv.Config()
		cfg.Username, cfg.Password = "lessons", "wrong one"
		m := testMsg(t)
		err := sendOnce(cfg, tlsOptions(ca), m)
		if !errors.Is(err, ErrAuth) || !errors.Is(err, ErrDial) {
			t.Fatalf("%s: err = %v, want ErrAuth (an ErrDial)", mode, err)
		}
		for _, want := range []string{"refused our login", `"lessons"`, "535", "SMTP_URL"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", mode, err, want)
			}
		}
		if strings.Contains(err.Error(), "wrong one") {
			t.Errorf("%s: the error shows the password: %q", mode, err)
		}
		// Unreachable is retried later and ends the pass: the same login
		// would fail for every reader.
		if k := Classify(err).Kind; k != Unreachable {
			t.Errorf("%s: classified %v, want unreachable (retried, never a bounce)", mode, k)
		}
		if n := srv.Accepted(); n != 0 {
			t.Fatalf("%s: %d messages accepted without a login", mode, n)
		}
		cfg.Password = "right one"
		if err := sendOnce(cfg, tlsOptions(ca), m); err != nil || srv.Accepted() != 1 {
			t.Fatalf("%s: the same message with the right password: %v, %d accepted", mode, err, srv.Accepted())
		}
	}
}

func TestAnUntrustedCertificateIsRefusedAndNothingIsSentInPlainText(t *testing.T) {
	ca, stranger := smtptest.NewCA(t), smtptest.NewCA(t)
	untrusted := stranger.Issue(t, "127.0.0.1")
	wrongHost := ca.Issue(t, "mail.example.com")
	for _, tc := range []struct {
		name string
		tls  string
		cert *tls.Certificate
	}{
		{"STARTTLS, certificate from an unknown CA", "starttls", &untrusted},
		{"implicit TLS, certificate from an unknown CA", "tls", &untrusted},
		{"STARTTLS, certificate for another host", "starttls", &wrongHost},
		{"implicit TLS, certificate for another host", "tls", &wrongHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.StartWith(t, smtptest.Options{TLS: tc.tls, Cert: tc.cert, Users: map[string]string{"lessons": "pw"}})
			cfg := srv.Config()
			cfg.Username, cfg.Password = "lessons", "pw"
			err := sendOnce(cfg, tlsOptions(ca), testMsg(t))
			if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "SSL_CERT_FILE") {
				t.Fatalf("err = %v, want ErrTLS that names SSL_CERT_FILE", err)
			}
			if logins, n := srv.Logins(), srv.Accepted(); len(logins) != 0 || n != 0 {
				t.Fatalf("after the refusal the server saw logins %+v and %d messages", logins, n)
			}
		})
	}
}

func TestAServerWithoutSTARTTLSIsRefusedWhenSTARTTLSIsRequired(t *testing.T) {
	// The plain server offers AUTH in the clear, as a downgrading
	// attacker's would.
	srv := smtptest.StartWith(t, smtptest.Options{TLS: "none", Users: map[string]string{"lessons": "pw"}})
	cfg := srv.Config()
	cfg.TLS, cfg.Username, cfg.Password = "starttls", "lessons", "pw"
	err := sendOnce(cfg, tlsOptions(nil), testMsg(t))
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want ErrTLS about STARTTLS", err)
	}
	if logins, n := srv.Logins(), srv.Accepted(); len(logins) != 0 || n != 0 {
		t.Fatalf("the server saw logins %+v and %d messages", logins, n)
	}
}

func TestImplicitTLSAgainstAPlainServerFailsAsTLS(t *testing.T) {
	srv := smtptest.Start(t)
	cfg := srv.Config()
	cfg.TLS = "tls"
	if err := sendOnce(cfg, tlsOptions(nil), testMsg(t)); !errors.Is(err, ErrTLS) {
		t.Fatalf("err = %v, want ErrTLS", err)
	}
	if srv.Accepted() != 0 {
		t.Fatal("a message was accepted in plain text")
	}
}

func TestAServerThatNeverGreetsFailsWithinTheDialTimeoutNotTheReplyTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept and say nothing, like a TLS port spoken to in plain text
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	// With the reply timeout the test would outlast go test's own timeout.
	o := Options{ReplyTimeout: time.Hour, DialTimeout: 500 * time.Millisecond, HELO: "test"}
	err = sendOnce(&config.SMTP{Host: "127.0.0.1", Port: port, TLS: "none"}, o, testMsg(t))
	if !errors.Is(err, ErrDial) {
		t.Fatalf("err = %v, want ErrDial", err)
	}
}

func TestAPasswordIsNeverSentInPlainTextAndTheErrorSaysWhy(t *testing.T) {
	// The plain server takes PLAIN and LOGIN without TLS; we must not.
	srv := smtptest.StartWith(t, smtptest.Options{TLS: "none", Users: map[string]string{"lessons": "pw"}})
	cfg := srv.Config()
	cfg.Username, cfg.Password = "lessons", "pw"
	err := sendOnce(cfg, tlsOptions(nil), testMsg(t))
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "only over TLS") {
		t.Fatalf("err = %v, want ErrAuth saying a password needs TLS", err)
	}
	if logins := srv.Logins(); len(logins) != 0 {
		t.Fatalf("the password went out in plain text: %+v", logins)
	}
}
