package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

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
	// DialTimeout bounds connecting, so a server that is down ends a pass
	// quickly.
	DialTimeout time.Duration
	// HELO is the name we greet the server with.
	HELO string
}

// DefaultOptions are the production settings.
var DefaultOptions = Options{ReplyTimeout: 10 * time.Minute, DialTimeout: 15 * time.Second, HELO: "localhost"}

// Opener opens a new Transport; one per worker.
type Opener func() Transport

// NewOpener returns an Opener for the configured destination: SMTP when
// smtp is set, else .eml files in dir.
func NewOpener(smtp *config.SMTP, dir string, o Options) Opener {
	if smtp == nil {
		return func() Transport { return &Dir{Path: dir} }
	}
	return func() Transport { return &SMTPConn{cfg: *smtp, opts: o} }
}

// SMTPConn is one persistent SMTP connection: dialled on first use, reused
// for every message after, and dialled again after a failure.
type SMTPConn struct {
	cfg    config.SMTP
	opts   Options
	client *gomail.Client
}

// ErrDial marks a failure to reach the SMTP server at all.
var ErrDial = errors.New("cannot reach the SMTP server")

func (c *SMTPConn) dial(ctx context.Context) error {
	opts := []gomail.Option{
		gomail.WithPort(c.cfg.Port),
		gomail.WithTimeout(c.opts.ReplyTimeout),
		gomail.WithHELO(c.opts.HELO),
		// The NOOP go-mail sends before every message costs a round trip
		// per message; a dead connection shows up at MAIL FROM instead.
		gomail.WithoutNoop(),
		gomail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: c.opts.DialTimeout}
			return d.DialContext(ctx, network, addr)
		}),
	}
	switch c.cfg.TLS {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	}
	if c.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(c.cfg.Username), gomail.WithPassword(c.cfg.Password))
	}
	client, err := gomail.NewClient(c.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDial, err)
	}
	if c.cfg.TLS != "none" {
		if err := client.SetTLSConfig(&tls.Config{ServerName: c.cfg.Host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("%w: %v", ErrDial, err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout+5*time.Second)
	defer cancel()
	if err := client.DialWithContext(dctx); err != nil {
		return fmt.Errorf("%w %s:%d: %v", ErrDial, c.cfg.Host, c.cfg.Port, err)
	}
	c.client = client
	return nil
}

// Send delivers m over the connection, dialling first when needed. After
// any failure other than a refusal of this one message the connection is
// dropped, so the next Send starts on a fresh one.
func (c *SMTPConn) Send(ctx context.Context, m *gomail.Msg) (string, error) {
	if c.client == nil {
		if err := c.dial(ctx); err != nil {
			return "", err
		}
	}
	err := c.client.Send(m)
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

func (c *SMTPConn) drop() {
	if c.client != nil {
		_ = c.client.Close()
		c.client = nil
	}
}

// Close says QUIT and closes the connection.
func (c *SMTPConn) Close() error {
	if c.client == nil {
		return nil
	}
	err := c.client.Close()
	c.client = nil
	return err
}

// Dir writes each message as an .eml file into Path, for development and for
// running without an SMTP server.
type Dir struct {
	Path string
}

// Send writes m atomically (temporary file, then rename), so a reader of
// the folder never sees half a message.
func (d *Dir) Send(ctx context.Context, m *gomail.Msg) (string, error) {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return "", fmt.Errorf("create outbox folder: %w", err)
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
