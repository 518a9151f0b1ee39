package bounce

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/drip"
)

// Account is the parsed BOUNCE_IMAP_URL:
// imaps://user:pass@host[:993][/Folder] or imap://…[:143][/Folder][?tls=starttls|none].
type Account struct {
	Addr           string // host:port
	TLS            string // "tls", "starttls" or "none"
	User, Password string
	Folder         string // default INBOX
}

// ParseURL reads a BOUNCE_IMAP_URL; the error says what is wrong.
func ParseURL(raw string) (Account, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Account{}, errors.New("not a URL")
	}
	a := Account{Folder: "INBOX"}
	port := u.Port()
	switch u.Scheme {
	case "imaps":
		a.TLS = "tls"
		if port == "" {
			port = "993"
		}
	case "imap":
		a.TLS = "starttls"
		if port == "" {
			port = "143"
		}
	default:
		return Account{}, errors.New("scheme must be imaps or imap")
	}
	switch t := u.Query().Get("tls"); t {
	case "":
	case "tls", "starttls", "none":
		a.TLS = t
	default:
		return Account{}, errors.New("tls must be tls, starttls or none")
	}
	if u.Hostname() == "" {
		return Account{}, errors.New("host is missing")
	}
	a.Addr = net.JoinHostPort(u.Hostname(), port)
	if u.User == nil || u.User.Username() == "" {
		return Account{}, errors.New("user name is missing")
	}
	a.User = u.User.Username()
	a.Password, _ = u.User.Password()
	if f := strings.Trim(u.Path, "/"); f != "" {
		a.Folder = f
	}
	return a, nil
}

// Recorder stores reports and acts on them (the same rules as webhooks).
type Recorder interface {
	RecordReports(ctx context.Context, now time.Time, b drip.ReportBatch) ([]drip.Recorded, error)
}

// doneFlag marks a message twostep has read, so the next poll skips it.
const doneFlag imap.Flag = "$TwostepDone"

// Mailbox polls the bounce mailbox.
type Mailbox struct {
	Account   Account
	TLSConfig *tls.Config // nil: the system's roots, for Account's host
	Rec       Recorder
	Clock     clock.Clock // the wall clock reports are recorded by (nil: time.Now)
	Log       *slog.Logger
	// Count, when set, is told about each report recorded for the first time.
	Count func([]drip.Recorded)
	// Timeout bounds one poll; zero: two minutes.
	Timeout time.Duration
}

// Result is what one poll did.
type Result struct {
	Read, Reports, Skipped, Failed int
}

func (m *Mailbox) dial() (*imapclient.Client, error) {
	opts := &imapclient.Options{TLSConfig: m.TLSConfig, Dialer: &net.Dialer{Timeout: 15 * time.Second}}
	switch m.Account.TLS {
	case "tls":
		return imapclient.DialTLS(m.Account.Addr, opts)
	case "starttls":
		return imapclient.DialStartTLS(m.Account.Addr, opts)
	default:
		return imapclient.DialInsecure(m.Account.Addr, opts)
	}
}

// Poll reads every message not yet marked, records the reports it
// carries, and only then marks it (\Seen and $TwostepDone): a crash
// between the two reads it again, and the report ids make that harmless.
// A message that is not a report is marked and logged.
func (m *Mailbox) Poll(ctx context.Context) (Result, error) {
	var res Result
	timeout := m.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := m.dial()
	if err != nil {
		return res, fmt.Errorf("connect to bounce mailbox %s: %w", m.Account.Addr, err)
	}
	defer c.Close()
	// The IMAP client takes no context: closing the connection ends any
	// command waiting when ctx is done.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Login(m.Account.User, m.Account.Password).Wait(); err != nil {
		return res, fmt.Errorf("log in to bounce mailbox: %w", err)
	}
	sel, err := c.Select(m.Account.Folder, nil).Wait()
	if err != nil {
		return res, fmt.Errorf("select %s: %w", m.Account.Folder, err)
	}
	// Servers that take no keywords of ours (Exchange) get \Seen alone:
	// then what a person reads there first is read again, harmlessly,
	// since a report acts once.
	mark := []imap.Flag{imap.FlagSeen, doneFlag}
	if !slices.Contains(sel.PermanentFlags, imap.FlagWildcard) && !slices.Contains(sel.PermanentFlags, doneFlag) {
		mark = []imap.Flag{imap.FlagSeen}
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: mark[len(mark)-1:]}, nil).Wait()
	if err != nil {
		return res, fmt.Errorf("search bounce mailbox: %w", err)
	}
	uids := found.AllUIDs()
	for len(uids) > 0 {
		n := min(len(uids), 10)
		if err := m.readBatch(ctx, c, uids[:n], mark, &res); err != nil {
			return res, err
		}
		uids = uids[n:]
	}
	_ = c.Logout().Wait()
	return res, nil
}

// readBatch reads, records and marks a few messages. One whose reports
// cannot be recorded is left unmarked, for the next poll, and the rest go
// on; only a dead connection ends the poll.
func (m *Mailbox) readBatch(ctx context.Context, c *imapclient.Client, uids []imap.UID, mark []imap.Flag, res *Result) error {
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return fmt.Errorf("fetch from bounce mailbox: %w", err)
	}
	var done []imap.UID
	for _, msg := range msgs {
		raw := msg.FindBodySection(section)
		reports, err := Parse(raw)
		if err != nil {
			m.Log.Warn("bounce mailbox: message skipped", "uid", msg.UID, "err", err)
			res.Skipped++
			done = append(done, msg.UID)
			continue
		}
		if len(reports) > 0 {
			fresh, err := m.Rec.RecordReports(ctx, m.Clock.Now(), drip.ReportBatch{Provider: drip.ProviderIMAP, Reports: reports})
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				m.Log.Error("bounce mailbox: message not recorded; will try again", "uid", msg.UID, "err", err)
				res.Failed++
				continue
			}
			if m.Count != nil {
				m.Count(fresh)
			}
			res.Reports += len(fresh)
		}
		res.Read++
		done = append(done, msg.UID)
	}
	if len(done) == 0 {
		return nil
	}
	if err := c.Store(imap.UIDSetNum(done...), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: mark}, nil).Close(); err != nil {
		return fmt.Errorf("mark bounce mailbox messages read: %w", err)
	}
	return nil
}

// Run polls every interval until ctx is done, logging each poll that
// found something and each that failed.
func (m *Mailbox) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := m.Poll(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			m.Log.Error("bounce mailbox poll failed", "err", err)
		case res.Read+res.Skipped+res.Failed > 0:
			m.Log.Info("bounce mailbox read", "messages", res.Read, "reports", res.Reports, "skipped", res.Skipped, "failed", res.Failed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
