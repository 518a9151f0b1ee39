package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/config"
)

func TestEveryReportSourceIsOffUntilItsSecretIsSet(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Reports
	if r.SESTopics != nil || r.PostmarkUser != "" || r.SendGridKey != nil || r.MailgunKey != nil || r.StandardKey != nil || r.BounceAddress != "" || r.BounceIMAP != nil {
		t.Errorf("reports configured with nothing set: %+v", r)
	}
}

func TestLoadReadsTheReportSources(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	c, err := config.Load(env(map[string]string{
		"SES_SNS_TOPICS":              "arn:aws:sns:eu-west-1:123456789012:ses-bounces, arn:aws:sns:us-east-1:123456789012:complaints",
		"POSTMARK_WEBHOOK_USER":       "postmark",
		"POSTMARK_WEBHOOK_PASSWORD":   "a-long-random-password",
		"SENDGRID_WEBHOOK_PUBLIC_KEY": base64.StdEncoding.EncodeToString(der),
		"MAILGUN_WEBHOOK_SIGNING_KEY": "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
		"WEBHOOK_SECRET":              "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
		"BOUNCE_ADDRESS":              "bounces@mail.example.org",
		"BOUNCE_IMAP_URL":             "imaps://bounces:secret@mail.example.org/Bounces",
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Reports
	if len(r.SESTopics) != 2 || r.SESTopics[1] != "arn:aws:sns:us-east-1:123456789012:complaints" {
		t.Errorf("topics %q", r.SESTopics)
	}
	if r.SendGridKey == nil || !r.SendGridKey.Equal(&k.PublicKey) || string(r.StandardKey) != "0123456789abcdef0123456789abcdef" ||
		r.BounceIMAP == nil || r.BounceIMAP.Folder != "Bounces" || r.BounceIMAP.Addr != "mail.example.org:993" {
		t.Errorf("reports %+v", r)
	}
}

func TestLoadRejectsBadReportSettingsNamingTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"SES_SNS_TOPICS":              {"SES_SNS_TOPICS": "ses-bounces"},
		"POSTMARK_WEBHOOK_PASSWORD":   {"POSTMARK_WEBHOOK_USER": "postmark"},
		"POSTMARK_WEBHOOK_USER":       {"POSTMARK_WEBHOOK_PASSWORD": "a-long-random-password"},
		"SENDGRID_WEBHOOK_PUBLIC_KEY": {"SENDGRID_WEBHOOK_PUBLIC_KEY": "not a key"},
		"MAILGUN_WEBHOOK_SIGNING_KEY": {"MAILGUN_WEBHOOK_SIGNING_KEY": "short"},
		"WEBHOOK_SECRET":              {"WEBHOOK_SECRET": "plain-secret"},
		"BOUNCE_ADDRESS":              {"BOUNCE_ADDRESS": "Bounces <bounces+x@example.org>"},
		"BOUNCE_IMAP_URL":             {"BOUNCE_IMAP_URL": "pop3://mail.example.org"},
	}
	for want, vars := range cases {
		_, err := config.Load(env(vars))
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != want {
			t.Errorf("%v: err %v, want an error naming %s", vars, err, want)
			continue
		}
		if strings.Contains(ce.Msg, "secret") && want == "BOUNCE_IMAP_URL" {
			t.Errorf("the error repeats the password: %s", ce.Msg)
		}
	}
	// A short Postmark password is refused too: it is the only secret.
	if _, err := config.Load(env(map[string]string{"POSTMARK_WEBHOOK_USER": "u", "POSTMARK_WEBHOOK_PASSWORD": "short"})); err == nil {
		t.Errorf("a 5-character Postmark password was accepted")
	}
}
