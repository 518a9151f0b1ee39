// Package smtptest runs a real SMTP server (emersion/go-smtp) in-process for
// tests and benchmarks: it records what it receives and can be told to
// answer with faults.
package smtptest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/mail"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/twostep/twostep/internal/config"
)

// Message is one message the server accepted.
type Message struct {
	From   string
	To     []string
	Raw    []byte
	Header mail.Header
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
	Raw   []byte     // at StageData
	Conn  *smtp.Conn // to drop the connection, say
}

// Hook may return an *smtp.SMTPError to refuse, sleep to stall, or close
// ev.Conn to drop the connection.
type Hook func(ev Event) error

// Server is a running in-process SMTP server.
type Server struct {
	Addr string
	srv  *smtp.Server

	mu       sync.Mutex
	messages []Message
	hook     Hook
	// Discard, when set, counts messages without keeping them (benchmarks).
	discard bool

	accepted atomic.Int64
	sessions atomic.Int64
}

// Start runs a server on a free loopback port until the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := Listen()
	if err != nil {
		tb.Fatalf("start SMTP server: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Listen runs a server on a free loopback port; Close stops it.
func Listen() (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: l.Addr().String()}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.sessions.Add(1)
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
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

// Config returns an SMTP configuration that points at the server.
func (s *Server) Config() *config.SMTP {
	host, port, _ := net.SplitHostPort(s.Addr)
	p := 0
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	return &config.SMTP{Host: host, Port: p, TLS: "none"}
}

// SetHook installs h for every later transaction; nil removes it.
func (s *Server) SetHook(h Hook) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

// Discard makes the server count messages without keeping them.
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
	from string
	to   []string
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
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
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
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
	se.srv.messages = append(se.srv.messages, Message{From: se.from, To: append([]string(nil), se.to...), Raw: raw, Header: msg.Header})
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
