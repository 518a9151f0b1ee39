package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/twostep/twostep/internal/config"
)

// Transport hands one message at a time to its destination. A Transport is
// owned by one goroutine; open one per worker.
type Transport interface {
	// Send delivers m and returns the server's reply on acceptance.
	Send(ctx context.Context, m *gomail.Msg) (reply string, err error)
	Close() error
}

// Options tune SMTP connections.
type Options struct {
	// ReplyTimeout bounds one whole SMTP transaction. RFC 5321 lets a server
	// take up to 10 minutes to answer the end of DATA, far beyond go-mail's
	// 15 s default; giving up early would resend mail the server accepted.
	ReplyTimeout time.Duration
	// DialTimeout bounds opening a session: connecting, the greeting, TLS
	// and the login. A server that is down, or that never greets (a client
	// expecting plain text from a TLS port, say), ends a pass quickly.
	DialTimeout time.Duration
	// HELO is the name we greet the server with.
	HELO string
	// RootCAs are the certificate authorities a server's certificate must
	// chain to; nil means the system's, which honour SSL_CERT_FILE and
	// SSL_CERT_DIR (how an operator trusts a private CA).
	RootCAs *x509.CertPool
	// DKIM, when set, signs every message either Transport sends. A
	// message that cannot be signed is not sent: the send fails, and is
	// retried (Classify: Retry), rather than go out unsigned.
	DKIM *config.DKIM
}

// DefaultOptions are the production settings.
var DefaultOptions = Options{ReplyTimeout: 10 * time.Minute, DialTimeout: 15 * time.Second, HELO: "localhost"}

// Opener opens a new Transport; one per worker.
type Opener func() Transport

// NewOpener returns an Opener for the configured destination: SMTP when
// smtp is set, else .eml files in dir.
func NewOpener(smtp *config.SMTP, dir string, o Options) Opener {
	if smtp == nil {
		return func() Transport { return &Dir{Path: dir, dkim: newSigner(o.DKIM)} }
	}
	return func() Transport { return &SMTPConn{cfg: *smtp, opts: o, dkim: newSigner(o.DKIM)} }
}

// SMTPConn is one persistent SMTP connection: dialled on first use, reused
// for every message after, and dialled again after a failure.
type SMTPConn struct {
	cfg  config.SMTP
	opts Options
	// sender sends over conn; it is the go-mail client with the long
	// ReplyTimeout, while the session was opened by one with DialTimeout.
	sender *gomail.Client
	conn   *smtp.Client
	dkim   *gomail.DKIMSigner // nil: unsigned
}

// ErrDial marks a failure to open a usable SMTP session: the server cannot
// be reached, or TLS or the login failed (ErrTLS, ErrAuth). Every such
// failure is the same for all mail, so it ends the pass and leaves the
// mail queued for the next one.
var ErrDial = errors.New("cannot reach the SMTP server")

// ErrTLS marks a session refused for want of a trusted TLS connection: an
// untrusted or wrong certificate, a TLS port spoken to in plain text, or no
// STARTTLS where it is required. Mail is never sent in plain text instead.
var ErrTLS = errors.New("no trusted TLS connection to the SMTP server")

// ErrAuth marks a login the SMTP server refused (a wrong user name or
// password, or no mechanism both sides know).
var ErrAuth = errors.New("the SMTP server refused our login")

// setupError is a failure to open a session: ErrDial, and ErrTLS or ErrAuth
// when it was one of those, with the reason.
type setupError struct {
	kind error // ErrDial, ErrTLS or ErrAuth
	msg  string
	err  error
}

func (e *setupError) Error() string   { return e.msg + ": " + e.err.Error() }
func (e *setupError) Unwrap() []error { return []error{e.kind, ErrDial, e.err} }

// setupFailed says what failed while opening the session, and what to do.
func (c *SMTPConn) setupFailed(err error) error {
	at := fmt.Sprintf("%s:%d", c.cfg.Host, c.cfg.Port)
	var (
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		record  tls.RecordHeaderError
		alert   tls.AlertError
	)
	switch {
	case errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host):
		return &setupError{ErrTLS, fmt.Sprintf("%v: the certificate of %s is not trusted "+
			"(for a private CA, point SSL_CERT_FILE at its certificate)", ErrTLS, at), err}
	case errors.As(err, &record) || errors.As(err, &alert) || strings.Contains(err.Error(), "STARTTLS"):
		return &setupError{ErrTLS, fmt.Sprintf("%v: %s (tls=%s in SMTP_URL)", ErrTLS, at, c.cfg.TLS), err}
	case errors.Is(err, gomail.ErrNoSupportedAuthDiscovered) || errors.Is(err, smtp.ErrUnencrypted):
		return &setupError{ErrAuth, fmt.Sprintf("%v: no login mechanism %s offers is one we use here "+
			"(a password goes as PLAIN or LOGIN only over TLS: tls=starttls or tls in SMTP_URL)", ErrAuth, at), err}
	case strings.Contains(err.Error(), "SMTP AUTH"):
		return &setupError{ErrAuth, fmt.Sprintf("%v: user %q at %s (check the user name and password in SMTP_URL)",
			ErrAuth, c.cfg.Username, at), err}
	}
	return &setupError{ErrDial, fmt.Sprintf("%v %s", ErrDial, at), err}
}

func (c *SMTPConn) dial(ctx context.Context) error {
	opts := []gomail.Option{
		gomail.WithPort(c.cfg.Port),
		gomail.WithHELO(c.opts.HELO),
		// The NOOP go-mail sends before every message costs a round trip
		// per message; a dead connection shows up at MAIL FROM instead.
		gomail.WithoutNoop(),
		// No dial function of our own: go-mail uses its TLS dialer for
		// implicit TLS only when none is set.
	}
	switch c.cfg.TLS {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	}
	if c.cfg.TLS != "none" {
		opts = append(opts, gomail.WithTLSConfig(&tls.Config{
			ServerName: c.cfg.Host, MinVersion: tls.VersionTLS12, RootCAs: c.opts.RootCAs,
		}))
	}
	if c.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(c.cfg.Username), gomail.WithPassword(c.cfg.Password))
	}
	// go-mail has one timeout for the whole session; two clients give
	// opening it the short one and sending over it the long one.
	opts = slices.Clip(opts) // so the two appends below do not share an array
	opener, err := gomail.NewClient(c.cfg.Host, append(opts, gomail.WithTimeout(c.opts.DialTimeout))...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDial, err)
	}
	sender, err := gomail.NewClient(c.cfg.Host, append(opts, gomail.WithTimeout(c.opts.ReplyTimeout))...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDial, err)
	}
	conn, err := opener.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return c.setupFailed(err)
	}
	c.sender, c.conn = sender, conn
	return nil
}

// Send delivers m over the connection, dialling first when needed. After
// any failure other than a refusal of this one message the connection is
// dropped, so the next Send starts on a fresh one.
func (c *SMTPConn) Send(ctx context.Context, m *gomail.Msg) (string, error) {
	if c.dkim != nil {
		if err := sign(c.dkim, m); err != nil {
			return "", err
		}
	}
	if c.conn == nil {
		if err := c.dial(ctx); err != nil {
			return "", err
		}
	}
	err := c.sender.SendWithSMTPClient(c.conn, m)
	if m.IsDelivered() {
		// The server accepted the message; a failed RSET afterwards is
		// about the next transaction, not this one.
		if err != nil {
			c.drop()
		}
		return m.ServerResponse(), nil
	}
	if err != nil {
		if connectionLost(err) {
			c.drop()
		}
		return "", err
	}
	return m.ServerResponse(), nil
}

// connectionLost reports whether err left the connection unusable, as
// opposed to the server refusing one message on a healthy connection.
func connectionLost(err error) bool {
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 400 && se.ErrorCode() != 421 {
		return false
	}
	return true
}

// drop closes the connection without QUIT: it may be stuck in the middle
// of DATA, where a QUIT would be taken as message text and wait for a
// reply that never comes.
func (c *SMTPConn) drop() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn, c.sender = nil, nil
	}
}

// Close says QUIT and closes the connection.
func (c *SMTPConn) Close() error {
	if c.conn == nil {
		return nil
	}
	err := c.sender.CloseWithSMTPClient(c.conn)
	_ = c.conn.Close()
	c.conn, c.sender = nil, nil
	return err
}

// Dir writes each message as an .eml file into Path, for development and for
// running without an SMTP server.
type Dir struct {
	Path string
	dkim *gomail.DKIMSigner // nil: unsigned; NewOpener sets it from Options.DKIM
}

// Send writes m atomically (temporary file, then rename), so a reader of
// the folder never sees half a message.
func (d *Dir) Send(ctx context.Context, m *gomail.Msg) (string, error) {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return "", fmt.Errorf("create outbox folder: %w", err)
	}
	if d.dkim != nil {
		if err := sign(d.dkim, m); err != nil {
			return "", err
		}
	}
	// The Message-ID is unique, so the name is too; the time sorts them.
	id := strings.Map(func(r rune) rune {
		if r == '<' || r == '>' || r == '/' || r == '\\' {
			return -1
		}
		return r
	}, m.GetMessageID())
	name := time.Now().UTC().Format("20060102T150405.000") + "-" + id + ".eml"
	tmp, err := os.CreateTemp(d.Path, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write outbox file: %w", err)
	}
	if _, err := m.WriteTo(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write outbox file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write outbox file: %w", err)
	}
	final := filepath.Join(d.Path, name)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("write outbox file: %w", err)
	}
	return "written to " + final, nil
}

// Close does nothing; files need no closing.
func (d *Dir) Close() error { return nil }
