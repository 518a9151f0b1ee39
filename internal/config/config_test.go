package config_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/config"
)

// env is a fake environment: what Load reads instead of os.Getenv.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestLoadWithNothingSetGivesTheDefaultsOfTheDesignTable(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatalf("Load with an empty environment: %v", err)
	}
	// The wanted values are copied from the README's Configuration table, not from the package's
	// constants, so a constant drifting from the contract fails here.
	checks := []struct {
		variable  string
		got, want any
	}{
		{"DATABASE_URL", c.DatabaseURL, "postgres://localhost:5432/twostep?sslmode=disable"},
		{"SMTP_URL", c.SMTP == nil, true},
		{"SMTP_URL (outbox folder)", c.OutboxDir, "outbox"},
		{"BASE_URL", c.BaseURL.String(), "http://localhost:8080"},
		{"LISTEN_ADDR", c.ListenAddr, ":8080"},
		{"SECRET_KEY", c.SecretKey, ""},
		{"ADMIN_EMAIL", c.AdminEmail, ""},
		{"ADMIN_PASSWORD", c.AdminPassword, ""},
		{"MAIL_FROM", c.MailFrom, ""},
		{"SEND_SCHEDULE", c.SendSchedule, "@every 1m"},
		{"SIGNUP_RATE_LIMIT", c.SignupRateLimit, 5},
		{"SMTP_MAX_CONNS", c.SMTPMaxConns, 8},
		{"SMTP_RATE", c.SMTPRate, 0.0},
		{"LESSONS_DIR", c.LessonsDir, ""},
		{"TEMPLATES_DIR", c.TemplatesDir, ""},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s default = %#v, want %#v", ch.variable, ch.got, ch.want)
		}
	}
}

func TestLoadTreatsAnEmptyOrBlankValueAsUnset(t *testing.T) {
	c, err := config.Load(env(map[string]string{
		"SMTP_URL": "", "BASE_URL": "  ", "SMTP_MAX_CONNS": "", "SIGNUP_RATE_LIMIT": " ", "SEND_SCHEDULE": "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTP != nil || c.BaseURL.String() != "http://localhost:8080" || c.SMTPMaxConns != 8 || c.SignupRateLimit != 5 || c.SendSchedule != "@every 1m" {
		t.Fatalf("blank values did not fall back to the defaults: %+v", c)
	}
}

func TestLoadParsesGoodValues(t *testing.T) {
	smtpOf := func(c config.Config) any {
		if c.SMTP == nil {
			return nil
		}
		return *c.SMTP
	}
	key := strings.Repeat("k", 32)
	tests := []struct {
		name string
		env  map[string]string
		got  func(config.Config) any
		want any
	}{
		{"a postgresql:// database URL is kept as given",
			map[string]string{"DATABASE_URL": "postgresql://app:pw@db.internal:6543/drip?sslmode=require"},
			func(c config.Config) any { return c.DatabaseURL }, "postgresql://app:pw@db.internal:6543/drip?sslmode=require"},
		{"an SMTP URL gives user, password, host and port, with STARTTLS by default",
			map[string]string{"SMTP_URL": "smtp://mailer:s3cret@mail.example.com:2525"},
			smtpOf, config.SMTP{Host: "mail.example.com", Port: 2525, Username: "mailer", Password: "s3cret", TLS: "starttls"}},
		{"an escaped password is unescaped",
			map[string]string{"SMTP_URL": "smtp://mailer:p%40ss%3Aw0rd@mail.example.com:587"},
			smtpOf, config.SMTP{Host: "mail.example.com", Port: 587, Username: "mailer", Password: "p@ss:w0rd", TLS: "starttls"}},
		{"a user name and password with @ / + : are unescaped, + kept as it is",
			map[string]string{"SMTP_URL": "smtps://relay+lessons%40twostep.example:p%40ss%2Fw+rd%3A%2B@mail.example.com"},
			smtpOf, config.SMTP{Host: "mail.example.com", Port: 465, Username: "relay+lessons@twostep.example", Password: "p@ss/w+rd:+", TLS: "tls"}},
		{"an @ left unescaped in the user name still splits at the last @",
			map[string]string{"SMTP_URL": "smtp://apikey@example.com:s3cret@mail.example.com:587"},
			smtpOf, config.SMTP{Host: "mail.example.com", Port: 587, Username: "apikey@example.com", Password: "s3cret", TLS: "starttls"}},
		{"STARTTLS without a port uses 587",
			map[string]string{"SMTP_URL": "smtp://mail.example.com"},
			smtpOf, config.SMTP{Host: "mail.example.com", Port: 587, TLS: "starttls"}},
		{"tls=none without a port uses 25",
			map[string]string{"SMTP_URL": "smtp://mailpit?tls=none"},
			smtpOf, config.SMTP{Host: "mailpit", Port: 25, TLS: "none"}},
		{"tls=none keeps an explicit port",
			map[string]string{"SMTP_URL": "smtp://mailpit:1025?tls=none"},
			smtpOf, config.SMTP{Host: "mailpit", Port: 1025, TLS: "none"}},
		{"tls=starttls is STARTTLS",
			map[string]string{"SMTP_URL": "smtp://mail.example.com:587?tls=starttls"},
			smtpOf, config.SMTP{Host: "mail.example.com", Port: 587, TLS: "starttls"}},
		{"tls=tls without a port uses 465",
			map[string]string{"SMTP_URL": "smtp://u:p@mail.example.com?tls=tls"},
			smtpOf, config.SMTP{Host: "mail.example.com", Port: 465, Username: "u", Password: "p", TLS: "tls"}},
		{"smtps:// is implicit TLS on 465",
			map[string]string{"SMTP_URL": "smtps://u:p@mail.example.com"},
			smtpOf, config.SMTP{Host: "mail.example.com", Port: 465, Username: "u", Password: "p", TLS: "tls"}},
		{"smtps:// keeps an explicit port",
			map[string]string{"SMTP_URL": "smtps://mail.example.com:2465"},
			smtpOf, config.SMTP{Host: "mail.example.com", Port: 2465, TLS: "tls"}},
		{"BASE_URL loses its trailing slash",
			map[string]string{"BASE_URL": "https://lessons.example.com/"},
			func(c config.Config) any { return c.BaseURL.String() }, "https://lessons.example.com"},
		{"BASE_URL keeps a path without its trailing slashes",
			map[string]string{"BASE_URL": "https://example.com:8443/course//"},
			func(c config.Config) any { return c.BaseURL.String() }, "https://example.com:8443/course"},
		{"BASE_URL with a path loses only its trailing slash",
			map[string]string{"BASE_URL": "https://example.com/course/"},
			func(c config.Config) any { return c.BaseURL.String() + "/confirm/abc" }, "https://example.com/course/confirm/abc"},
		{"LISTEN_ADDR may name a host",
			map[string]string{"LISTEN_ADDR": "127.0.0.1:9090"},
			func(c config.Config) any { return c.ListenAddr }, "127.0.0.1:9090"},
		{"LISTEN_ADDR may name an IPv6 host",
			map[string]string{"LISTEN_ADDR": "[::1]:8081"},
			func(c config.Config) any { return c.ListenAddr }, "[::1]:8081"},
		{"a 32-character SECRET_KEY is kept",
			map[string]string{"SECRET_KEY": key},
			func(c config.Config) any { return c.SecretKey }, key},
		{"ADMIN_EMAIL and ADMIN_PASSWORD together enable the admin",
			map[string]string{"ADMIN_EMAIL": "boss@example.com", "ADMIN_PASSWORD": "correct horse battery"},
			func(c config.Config) any { return c.AdminEmail + " " + c.AdminPassword }, "boss@example.com correct horse battery"},
		{"MAIL_FROM with a display name is kept",
			map[string]string{"MAIL_FROM": "Two Step <lessons@example.com>"},
			func(c config.Config) any { return c.MailFrom }, "Two Step <lessons@example.com>"},
		{"SEND_SCHEDULE takes a five-field cron spec",
			map[string]string{"SEND_SCHEDULE": "*/5 * * * *"},
			func(c config.Config) any { return c.SendSchedule }, "*/5 * * * *"},
		{"SEND_SCHEDULE takes a descriptor",
			map[string]string{"SEND_SCHEDULE": "@hourly"},
			func(c config.Config) any { return c.SendSchedule }, "@hourly"},
		{"SIGNUP_RATE_LIMIT 0 turns the limit off",
			map[string]string{"SIGNUP_RATE_LIMIT": "0"},
			func(c config.Config) any { return c.SignupRateLimit }, 0},
		{"SIGNUP_RATE_LIMIT is read with spaces around it",
			map[string]string{"SIGNUP_RATE_LIMIT": " 30 "},
			func(c config.Config) any { return c.SignupRateLimit }, 30},
		{"SMTP_MAX_CONNS at its lower bound",
			map[string]string{"SMTP_MAX_CONNS": "1"},
			func(c config.Config) any { return c.SMTPMaxConns }, 1},
		{"SMTP_MAX_CONNS at its upper bound",
			map[string]string{"SMTP_MAX_CONNS": "1000"},
			func(c config.Config) any { return c.SMTPMaxConns }, 1000},
		{"SMTP_RATE takes a fraction",
			map[string]string{"SMTP_RATE": "0.5"},
			func(c config.Config) any { return c.SMTPRate }, 0.5},
		{"SMTP_RATE takes a whole number",
			map[string]string{"SMTP_RATE": "14"},
			func(c config.Config) any { return c.SMTPRate }, 14.0},
		{"LESSONS_DIR and TEMPLATES_DIR are kept as given",
			map[string]string{"LESSONS_DIR": "/srv/lessons", "TEMPLATES_DIR": "./my templates"},
			func(c config.Config) any { return c.LessonsDir + "|" + c.TemplatesDir }, "/srv/lessons|./my templates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(env(tt.env))
			if err != nil {
				t.Fatalf("Load(%v): %v", tt.env, err)
			}
			if got := tt.got(c); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Load(%v) gave %#v, want %#v", tt.env, got, tt.want)
			}
		})
	}
}

func TestABadSMTPURLIsExplainedWithoutShowingThePassword(t *testing.T) {
	_, err := config.Load(env(map[string]string{"SMTP_URL": "smtp://u:hunter2/x@mail.example.com"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "%2F") {
		t.Fatalf("error %q: want the percent-encoding hint and no password", err)
	}
}

func TestLoadRejectsEveryBadValueNamingTheVariable(t *testing.T) {
	admin := func(email, password string) map[string]string {
		return map[string]string{"ADMIN_EMAIL": email, "ADMIN_PASSWORD": password}
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"a mysql DATABASE_URL", map[string]string{"DATABASE_URL": "mysql://localhost/twostep"}, "DATABASE_URL"},
		{"a DATABASE_URL in key=value form", map[string]string{"DATABASE_URL": "host=localhost dbname=twostep"}, "DATABASE_URL"},
		{"a DATABASE_URL that does not parse", map[string]string{"DATABASE_URL": "postgres://localhost:port/twostep"}, "DATABASE_URL"},

		{"an http:// SMTP_URL", map[string]string{"SMTP_URL": "http://mail.example.com"}, "SMTP_URL"},
		{"an SMTP_URL without a scheme", map[string]string{"SMTP_URL": "mail.example.com:587"}, "SMTP_URL"},
		{"an SMTP_URL without a host", map[string]string{"SMTP_URL": "smtp://:587"}, "SMTP_URL"},
		{"an SMTP_URL with tls=ssl", map[string]string{"SMTP_URL": "smtp://mail.example.com?tls=ssl"}, "SMTP_URL"},
		{"an SMTP_URL with tls=yes", map[string]string{"SMTP_URL": "smtps://mail.example.com?tls=yes"}, "SMTP_URL"},
		{"an SMTP_URL with a port that is not a number", map[string]string{"SMTP_URL": "smtp://mail.example.com:smtp"}, "SMTP_URL"},
		{"an SMTP_URL with an unescaped / in the password", map[string]string{"SMTP_URL": "smtp://u:pass/word@mail.example.com"}, "SMTP_URL"},
		{"an SMTP_URL with port 0", map[string]string{"SMTP_URL": "smtp://mail.example.com:0"}, "SMTP_URL"},
		{"an SMTP_URL with a port above 65535", map[string]string{"SMTP_URL": "smtp://mail.example.com:70000"}, "SMTP_URL"},

		{"a BASE_URL without a scheme", map[string]string{"BASE_URL": "lessons.example.com"}, "BASE_URL"},
		{"a BASE_URL with host and port but no scheme", map[string]string{"BASE_URL": "localhost:8080"}, "BASE_URL"},
		{"an ftp:// BASE_URL", map[string]string{"BASE_URL": "ftp://example.com"}, "BASE_URL"},
		{"a BASE_URL without a host", map[string]string{"BASE_URL": "https:///course"}, "BASE_URL"},
		{"a BASE_URL with a query", map[string]string{"BASE_URL": "https://example.com/?ref=mail"}, "BASE_URL"},
		// Accepted, "?" would stay in every link: https://example.com?/confirm/….
		{"a BASE_URL with an empty query", map[string]string{"BASE_URL": "https://example.com?"}, "BASE_URL"},
		{"a BASE_URL with a fragment", map[string]string{"BASE_URL": "https://example.com/#top"}, "BASE_URL"},
		{"a BASE_URL with a user", map[string]string{"BASE_URL": "https://me@example.com"}, "BASE_URL"},

		{"a LISTEN_ADDR without a port", map[string]string{"LISTEN_ADDR": "localhost"}, "LISTEN_ADDR"},
		{"a LISTEN_ADDR with a port that is not a number", map[string]string{"LISTEN_ADDR": ":http"}, "LISTEN_ADDR"},
		{"a LISTEN_ADDR with a port above 65535", map[string]string{"LISTEN_ADDR": ":65536"}, "LISTEN_ADDR"},

		{"a SECRET_KEY of 31 characters", map[string]string{"SECRET_KEY": strings.Repeat("k", 31)}, "SECRET_KEY"},

		{"ADMIN_EMAIL without ADMIN_PASSWORD", admin("boss@example.com", ""), "ADMIN_PASSWORD"},
		{"ADMIN_PASSWORD without ADMIN_EMAIL", admin("", "correct horse battery"), "ADMIN_EMAIL"},
		{"an ADMIN_EMAIL that is not an address", admin("boss", "correct horse battery"), "ADMIN_EMAIL"},
		{"an ADMIN_PASSWORD of 11 characters", admin("boss@example.com", "elevenchars"), "ADMIN_PASSWORD"},

		{"a MAIL_FROM that is not an address", map[string]string{"MAIL_FROM": "Two Step"}, "MAIL_FROM"},
		{"a MAIL_FROM smuggling a header after CR LF", map[string]string{"MAIL_FROM": "Two Step <lessons@example.com>\r\nBcc: all@example.com"}, "MAIL_FROM"},
		{"a MAIL_FROM with CR inside the name", map[string]string{"MAIL_FROM": "Two\rStep <lessons@example.com>"}, "MAIL_FROM"},
		// net/mail accepts a line feed inside a comment; only the CR/LF check stops it.
		{"a MAIL_FROM with LF inside a comment", map[string]string{"MAIL_FROM": "lessons@example.com (Two\nStep)"}, "MAIL_FROM"},

		{"a SEND_SCHEDULE in words", map[string]string{"SEND_SCHEDULE": "every minute"}, "SEND_SCHEDULE"},
		{"a SEND_SCHEDULE with a minute out of range", map[string]string{"SEND_SCHEDULE": "61 * * * *"}, "SEND_SCHEDULE"},
		{"a SEND_SCHEDULE with a seconds field", map[string]string{"SEND_SCHEDULE": "0 * * * * *"}, "SEND_SCHEDULE"},
		{"a SEND_SCHEDULE with an @every that is no duration", map[string]string{"SEND_SCHEDULE": "@every minute"}, "SEND_SCHEDULE"},

		{"a SIGNUP_RATE_LIMIT that is not a number", map[string]string{"SIGNUP_RATE_LIMIT": "five"}, "SIGNUP_RATE_LIMIT"},
		{"a fractional SIGNUP_RATE_LIMIT", map[string]string{"SIGNUP_RATE_LIMIT": "1.5"}, "SIGNUP_RATE_LIMIT"},
		{"a negative SIGNUP_RATE_LIMIT", map[string]string{"SIGNUP_RATE_LIMIT": "-1"}, "SIGNUP_RATE_LIMIT"},
		{"a SIGNUP_RATE_LIMIT above a million", map[string]string{"SIGNUP_RATE_LIMIT": "1000001"}, "SIGNUP_RATE_LIMIT"},

		{"an SMTP_MAX_CONNS that is not a number", map[string]string{"SMTP_MAX_CONNS": "abc"}, "SMTP_MAX_CONNS"},
		{"an SMTP_MAX_CONNS of 0", map[string]string{"SMTP_MAX_CONNS": "0"}, "SMTP_MAX_CONNS"},
		{"a negative SMTP_MAX_CONNS", map[string]string{"SMTP_MAX_CONNS": "-4"}, "SMTP_MAX_CONNS"},
		{"an SMTP_MAX_CONNS above 1000", map[string]string{"SMTP_MAX_CONNS": "1001"}, "SMTP_MAX_CONNS"},

		{"an SMTP_RATE that is not a number", map[string]string{"SMTP_RATE": "fast"}, "SMTP_RATE"},
		{"a negative SMTP_RATE", map[string]string{"SMTP_RATE": "-0.5"}, "SMTP_RATE"},
		{"an SMTP_RATE above a million", map[string]string{"SMTP_RATE": "1e7"}, "SMTP_RATE"},
		{"an infinite SMTP_RATE", map[string]string{"SMTP_RATE": "Inf"}, "SMTP_RATE"},
		// ParseFloat accepts "NaN", and NaN passes both range comparisons.
		{"an SMTP_RATE of NaN", map[string]string{"SMTP_RATE": "NaN"}, "SMTP_RATE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(env(tt.env))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load(%q) = %v, want a *config.Error for %s", tt.env, err, tt.wantVar)
			}
			if ce.Var != tt.wantVar {
				t.Fatalf("Load(%q) blamed %s (%v), want %s", tt.env, ce.Var, err, tt.wantVar)
			}
			if ce.Msg == "" || !strings.HasPrefix(err.Error(), tt.wantVar+": ") {
				t.Fatalf("error %q does not start with %q and say why", err, tt.wantVar+": ")
			}
		})
	}
}
