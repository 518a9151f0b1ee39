// Package config reads twostep's settings from the environment, as the
// Configuration section of the README lists them.
package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/robfig/cron/v3"
)

// Config is every setting the binary reads from its environment.
type Config struct {
	DatabaseURL     string
	SMTP            *SMTP // nil: mail is written as .eml files into OutboxDir
	DKIM            *DKIM // nil: mail goes out unsigned
	OutboxDir       string
	BaseURL         *url.URL
	ListenAddr      string
	SecretKey       string // empty: generated once and kept in the database
	AdminEmail      string
	AdminPassword   string
	MailFrom        string // empty: the course's From address
	SendSchedule    string
	SignupRateLimit int
	SMTPMaxConns    int
	SMTPRate        float64
	LessonsDir      string
	TemplatesDir    string
	Reports         Reports // bounce and complaint reports: webhooks, bounce mailbox
	// TrustedProxies are the reverse proxies whose X-Forwarded-For,
	// Forwarded and X-Forwarded-Proto headers are believed; empty: none.
	TrustedProxies []netip.Prefix
}

// SMTP is the parsed SMTP_URL.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	TLS      string // "none", "starttls" or "tls"
}

// Error names the variable that is wrong and why; main prints it and exits 2.
type Error struct {
	Var string
	Msg string
}

func (e *Error) Error() string { return e.Var + ": " + e.Msg }

// Defaults as the README's Configuration table gives them.
const (
	DefaultDatabaseURL  = "postgres://localhost:5432/twostep?sslmode=disable"
	DefaultBaseURL      = "http://localhost:8080"
	DefaultListenAddr   = ":8080"
	DefaultSendSchedule = "@every 1m"
	DefaultOutboxDir    = "outbox"
)

// Load reads the configuration through getenv (os.Getenv in production, a
// map in tests). The first bad value is returned as an *Error.
func Load(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		DatabaseURL:   get("DATABASE_URL", DefaultDatabaseURL),
		OutboxDir:     DefaultOutboxDir,
		ListenAddr:    get("LISTEN_ADDR", DefaultListenAddr),
		SecretKey:     getenv("SECRET_KEY"),
		AdminEmail:    get("ADMIN_EMAIL", ""),
		AdminPassword: getenv("ADMIN_PASSWORD"),
		MailFrom:      get("MAIL_FROM", ""),
		SendSchedule:  get("SEND_SCHEDULE", DefaultSendSchedule),
		LessonsDir:    get("LESSONS_DIR", ""),
		TemplatesDir:  get("TEMPLATES_DIR", ""),
	}
	var err error
	if err = checkDatabaseURL(c.DatabaseURL); err != nil {
		return c, &Error{"DATABASE_URL", err.Error()}
	}
	if v := get("SMTP_URL", ""); v != "" {
		if c.SMTP, err = parseSMTP(v); err != nil {
			return c, &Error{"SMTP_URL", err.Error()}
		}
	}
	if c.DKIM, err = loadDKIM(get); err != nil {
		return c, err
	}
	if c.BaseURL, err = parseBaseURL(get("BASE_URL", DefaultBaseURL)); err != nil {
		return c, &Error{"BASE_URL", err.Error()}
	}
	if err = checkListenAddr(c.ListenAddr); err != nil {
		return c, &Error{"LISTEN_ADDR", err.Error()}
	}
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		return c, &Error{"SECRET_KEY", "must be at least 32 characters"}
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		if c.AdminEmail == "" {
			return c, &Error{"ADMIN_EMAIL", "must be set when ADMIN_PASSWORD is"}
		}
		return c, &Error{"ADMIN_PASSWORD", "must be set when ADMIN_EMAIL is"}
	}
	if c.AdminEmail != "" {
		if _, err := mail.ParseAddress(c.AdminEmail); err != nil {
			return c, &Error{"ADMIN_EMAIL", "not an email address"}
		}
		if len(c.AdminPassword) < 12 {
			return c, &Error{"ADMIN_PASSWORD", "must be at least 12 characters"}
		}
	}
	if c.MailFrom != "" {
		if _, err := mail.ParseAddress(c.MailFrom); err != nil || strings.ContainsAny(c.MailFrom, "\r\n") {
			return c, &Error{"MAIL_FROM", `not an address like "Name <lessons@example.com>"`}
		}
	}
	if err := checkSchedule(c.SendSchedule); err != nil {
		return c, &Error{"SEND_SCHEDULE", err.Error()}
	}
	if c.SignupRateLimit, err = intVar(get("SIGNUP_RATE_LIMIT", "5"), 0, 1_000_000); err != nil {
		return c, &Error{"SIGNUP_RATE_LIMIT", err.Error()}
	}
	if c.SMTPMaxConns, err = intVar(get("SMTP_MAX_CONNS", "8"), 1, 1000); err != nil {
		return c, &Error{"SMTP_MAX_CONNS", err.Error()}
	}
	if c.SMTPRate, err = strconv.ParseFloat(get("SMTP_RATE", "0"), 64); err != nil || !(c.SMTPRate >= 0 && c.SMTPRate <= 1e6) {
		return c, &Error{"SMTP_RATE", "must be a number of messages per second from 0 (unlimited) to 1000000"}
	}
	if c.TrustedProxies, err = parseTrustedProxies(getenv("TRUSTED_PROXIES")); err != nil {
		return c, &Error{"TRUSTED_PROXIES", err.Error()}
	}
	if c.Reports, err = loadReports(get); err != nil {
		return c, err
	}
	return c, nil
}

// parseTrustedProxies reads a comma-separated list of CIDRs and bare IP
// addresses (a bare address is a prefix of its full length). Empty entries,
// as a trailing comma leaves, are skipped. IPv4-mapped IPv6 forms are kept
// as IPv4, the form client addresses are compared in.
func parseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parsePrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR, e.g. 10.0.0.0/8, 192.0.2.7 or fd00::/8", entry)
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, errors.New("not an address")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, errors.New("an IPv4-mapped prefix shorter than /96")
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func intVar(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is out of range %d..%d", n, lo, hi)
	}
	return n, nil
}

func checkDatabaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("must be a postgres:// URL")
	}
	if _, err := pgconn.ParseConfig(s); err != nil {
		return fmt.Errorf("cannot be parsed: %v", err)
	}
	return nil
}

// checkSchedule accepts a cron spec, refusing "@every" intervals under a
// second, which robfig/cron would silently round up.
func checkSchedule(spec string) error {
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || dur < time.Second {
			return fmt.Errorf("%q: @every needs an interval of at least 1s, e.g. \"@every 1m\"", spec)
		}
	}
	if _, err := cron.ParseStandard(spec); err != nil {
		return fmt.Errorf("not a cron spec: %v", err)
	}
	return nil
}

func parseSMTP(s string) (*SMTP, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse's error repeats the URL, password and all: say why
		// without it.
		return nil, errors.New("not a URL like smtp://user:pass@host:587 " +
			"(percent-encode @ / : ? # % in the user name and password: / is %2F, @ is %40)")
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return nil, fmt.Errorf("scheme %q: must be smtp:// (or smtps://)", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("has no host")
	}
	c := &SMTP{Host: u.Hostname(), TLS: "starttls"}
	if u.Scheme == "smtps" {
		c.TLS = "tls"
	}
	if t := u.Query().Get("tls"); t != "" {
		switch t {
		case "none", "starttls", "tls":
			c.TLS = t
		default:
			return nil, fmt.Errorf("tls=%q: must be none, starttls or tls", t)
		}
	}
	c.Port = map[string]int{"none": 25, "starttls": 587, "tls": 465}[c.TLS]
	if p := u.Port(); p != "" {
		if c.Port, err = intVar(p, 1, 65535); err != nil {
			return nil, fmt.Errorf("port: %w", err)
		}
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	return c, nil
}

func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("must be an absolute http:// or https:// URL")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		return nil, errors.New("must not have a query, fragment or user")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

func checkListenAddr(s string) error {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return errors.New(`must be host:port or :port, e.g. ":8080"`)
	}
	if _, err := intVar(s[i+1:], 0, 65535); err != nil {
		return fmt.Errorf("port: %w", err)
	}
	return nil
}
