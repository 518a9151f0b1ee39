// Package smtptest runs a real SMTP server (emersion/go-smtp) in-process for
// tests and benchmarks: it records what it receives, can be told to answer
// with faults, and can speak STARTTLS or implicit TLS and require a login,
// as a provider's relay does.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/twostep/twostep/internal/config"
)

// Message is one message the server accepted.
type Message struct {
	From   string
	To     []string
	Raw    []byte
	Header mail.Header
	TLS    bool   // the message came over an encrypted connection
	User   string // who had logged in, "" when nobody
}

// Options configure a server as a relay would be: plain, STARTTLS or
// implicit TLS, and with or without required logins.
type Options struct {
	// TLS is "none" (plain text, no STARTTLS offered), "starttls"
	// (offered on a plain connection) or "tls" (TLS from the first byte,
	// port-465 style), as in config.SMTP.
	TLS string
	// Cert is the server's certificate; required unless TLS is "none".
	Cert *tls.Certificate
	// Users, when set, makes a login required: MAIL FROM is refused until
	// AUTH with one of these user → password pairs succeeds.
	Users map[string]string
	// Mechanisms are the AUTH mechanisms offered: PLAIN, LOGIN or both
	// (the default).
	Mechanisms []string
}

// Login is one AUTH attempt the server saw.
type Login struct {
	Mechanism string
	User      string
	OK        bool
	TLS       bool // over an encrypted connection
}

// Stage is the point of an SMTP transaction a Hook is called at.
type Stage string

// The stages a Hook sees.
const (
	StageMail  Stage = "MAIL"
	StageRcpt  Stage = "RCPT"
	StageData  Stage = "DATA" // after the message body was read, before the reply
	StageReset Stage = "RSET" // after a transaction ends, accepted or not; errors are ignored
)

// Event is what a Hook is told.
type Event struct {
	Stage Stage
	To    string     // at StageRcpt
	Raw   []byte     // at StageData; after Discard, valid only during the call
	Conn  *smtp.Conn // to drop the connection, say
}

// Hook may return an *smtp.SMTPError to refuse, sleep to stall, or close
// ev.Conn to drop the connection.
type Hook func(ev Event) error

// Server is a running in-process SMTP server.
type Server struct {
	Addr string
	srv  *smtp.Server
	opts Options

	mu       sync.Mutex
	messages []Message
	logins   []Login
	hook     Hook
	// Discard, when set, counts messages without keeping them (benchmarks).
	discard bool

	accepted atomic.Int64
	sessions atomic.Int64
}

// Start runs a plain server on a free loopback port until the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb, Options{})
}

// StartWith runs a server configured by o on a free loopback port until
// the test ends.
func StartWith(tb testing.TB, o Options) *Server {
	tb.Helper()
	s, err := ListenWith(o)
	if err != nil {
		tb.Fatalf("start SMTP server: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Listen runs a plain server on a free loopback port; Close stops it.
func Listen() (*Server, error) { return ListenWith(Options{}) }

// ListenWith runs a server configured by o on a free loopback port; Close
// stops it.
func ListenWith(o Options) (*Server, error) {
	if o.TLS == "" {
		o.TLS = "none"
	}
	if len(o.Mechanisms) == 0 {
		o.Mechanisms = []string{sasl.Plain, sasl.Login}
	}
	var tlsConfig *tls.Config
	switch o.TLS {
	case "none":
	case "starttls", "tls":
		if o.Cert == nil {
			return nil, fmt.Errorf("smtptest: TLS %q needs a certificate", o.TLS)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{*o.Cert}, MinVersion: tls.VersionTLS12}
	default:
		return nil, fmt.Errorf("smtptest: TLS %q: want none, starttls or tls", o.TLS)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: l.Addr().String(), opts: o}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.sessions.Add(1)
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "sink.test"
	// Only a TLS server refuses logins in plain text, as relays do; the
	// plain one keeps accepting them on loopback.
	srv.AllowInsecureAuth = tlsConfig == nil
	if o.TLS == "starttls" {
		srv.TLSConfig = tlsConfig
	}
	if o.TLS == "tls" {
		l = tls.NewListener(l, tlsConfig)
	}
	srv.MaxMessageBytes = 10 << 20
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	// Fault tests drop connections on purpose; the server's complaints
	// about that would only bury the test output.
	srv.ErrorLog = quietLog{}
	s.srv = srv
	go srv.Serve(l)
	return s, nil
}

// Close stops the server and drops its connections.
func (s *Server) Close() error { return s.srv.Close() }

// Config returns an SMTP configuration that points at the server, in its
// TLS mode and without credentials.
func (s *Server) Config() *config.SMTP {
	host, port, _ := net.SplitHostPort(s.Addr)
	p, _ := strconv.Atoi(port)
	return &config.SMTP{Host: host, Port: p, TLS: s.opts.TLS}
}

// Logins returns a copy of the AUTH attempts so far.
func (s *Server) Logins() []Login {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Login(nil), s.logins...)
}

// SetHook installs h for every later transaction; nil removes it.
func (s *Server) SetHook(h Hook) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

// Discard makes the server count messages without keeping them; each
// session reads its messages into one buffer, so a Hook's Event.Raw is
// valid only while the Hook runs.
func (s *Server) Discard() { s.discard = true }

// Messages returns a copy of what was accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Accepted is how many messages were accepted.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// Sessions is how many connections were opened.
func (s *Server) Sessions() int64 { return s.sessions.Load() }

// WaitFor waits until at least n messages were accepted or d passes.
func (s *Server) WaitFor(n int64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s.Accepted() >= n {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s.Accepted() >= n
}

func (s *Server) callHook(ev Event) error {
	s.mu.Lock()
	h := s.hook
	s.mu.Unlock()
	if h == nil {
		return nil
	}
	return h(ev)
}

type session struct {
	srv  *Server
	conn *smtp.Conn
	user string // logged in as
	from string
	to   []string
	// buf holds the message being read when the server discards them,
	// reused for every message of the session: a sink in a benchmark's
	// process should not add a message's worth of garbage per message to
	// the process it measures.
	buf bytes.Buffer
}

func (se *session) isTLS() bool {
	_, ok := se.conn.TLSConnectionState()
	return ok
}

// AuthMechanisms are offered only when the server has users.
func (se *session) AuthMechanisms() []string {
	if se.srv.opts.Users == nil {
		return nil
	}
	return se.srv.opts.Mechanisms
}

// Auth checks a login against Options.Users and records the attempt.
func (se *session) Auth(mech string) (sasl.Server, error) {
	if !slices.Contains(se.AuthMechanisms(), mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(user, pass string) error {
		want, known := se.srv.opts.Users[user]
		ok := known && pass == want
		se.srv.mu.Lock()
		se.srv.logins = append(se.srv.logins, Login{Mechanism: mech, User: user, OK: ok, TLS: se.isTLS()})
		se.srv.mu.Unlock()
		if !ok {
			return smtp.ErrAuthFailed
		}
		se.user = user
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if identity != "" && identity != user {
			return smtp.ErrAuthFailed
		}
		return check(user, pass)
	}), nil
}

// loginServer is the server side of the LOGIN mechanism, which go-sasl
// has only as a client: ask for the user name, then the password.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step++
		if response == nil {
			return []byte("Username:"), false, nil
		}
		l.user = string(response)
		l.step++
		return []byte("Password:"), false, nil
	case 1:
		l.user = string(response)
		l.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(response))
	}
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.srv.opts.Users != nil && se.user == "" {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return se.srv.callHook(Event{Stage: StageMail, Conn: se.conn})
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := se.srv.callHook(Event{Stage: StageRcpt, To: to, Conn: se.conn}); err != nil {
		return err
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	var raw []byte
	if se.srv.discard {
		se.buf.Reset()
		if _, err := se.buf.ReadFrom(r); err != nil {
			return err
		}
		raw = se.buf.Bytes()
	} else {
		var err error
		if raw, err = io.ReadAll(r); err != nil {
			return err
		}
	}
	if err := se.srv.callHook(Event{Stage: StageData, Raw: raw, Conn: se.conn}); err != nil {
		return err
	}
	if se.srv.discard {
		se.srv.accepted.Add(1)
		return nil
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unparsable message"}
	}
	se.srv.mu.Lock()
	se.srv.messages = append(se.srv.messages, Message{
		From: se.from, To: append([]string(nil), se.to...), Raw: raw, Header: msg.Header, TLS: se.isTLS(), User: se.user,
	})
	se.srv.mu.Unlock()
	se.srv.accepted.Add(1)
	return nil
}

func (se *session) Reset() {
	se.from, se.to = "", nil
	_ = se.srv.callHook(Event{Stage: StageReset, Conn: se.conn})
}

func (se *session) Logout() error { return nil }

// Reply builds an SMTP error reply for hooks, e.g. Reply(550, 5,1,1, "no such user").
func Reply(code, class, subject, detail int, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{class, subject, detail}, Message: msg}
}

// ErrDropped is what a hook returns after closing the connection itself.
var ErrDropped = errors.New("connection dropped by test")

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}
