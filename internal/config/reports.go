package config

import (
	"crypto/ecdsa"
	"net/mail"
	"regexp"
	"strings"

	"github.com/twostep/twostep/internal/bounce"
	"github.com/twostep/twostep/internal/webhook"
)

// Reports configures where bounce and complaint reports come from. Each
// webhook is off until its secret is set.
type Reports struct {
	SESTopics        []string         // SES_SNS_TOPICS
	PostmarkUser     string           // POSTMARK_WEBHOOK_USER
	PostmarkPassword string           // POSTMARK_WEBHOOK_PASSWORD
	SendGridKey      *ecdsa.PublicKey // SENDGRID_WEBHOOK_PUBLIC_KEY
	MailgunKey       []byte           // MAILGUN_WEBHOOK_SIGNING_KEY
	StandardKey      []byte           // WEBHOOK_SECRET
	BounceAddress    string           // BOUNCE_ADDRESS: VERP envelope senders
	BounceIMAP       *bounce.Account  // BOUNCE_IMAP_URL
}

var topicARN = regexp.MustCompile(`^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)

// loadReports reads the report settings; the first bad one is an *Error.
func loadReports(get func(name, def string) string) (Reports, error) {
	var r Reports
	if v := get("SES_SNS_TOPICS", ""); v != "" {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if !topicARN.MatchString(t) {
				return r, &Error{"SES_SNS_TOPICS", "each entry must be a topic ARN like arn:aws:sns:eu-west-1:123456789012:ses-bounces"}
			}
			r.SESTopics = append(r.SESTopics, t)
		}
	}
	r.PostmarkUser, r.PostmarkPassword = get("POSTMARK_WEBHOOK_USER", ""), get("POSTMARK_WEBHOOK_PASSWORD", "")
	if (r.PostmarkUser == "") != (r.PostmarkPassword == "") {
		if r.PostmarkUser == "" {
			return r, &Error{"POSTMARK_WEBHOOK_USER", "must be set when POSTMARK_WEBHOOK_PASSWORD is"}
		}
		return r, &Error{"POSTMARK_WEBHOOK_PASSWORD", "must be set when POSTMARK_WEBHOOK_USER is"}
	}
	if r.PostmarkPassword != "" && len(r.PostmarkPassword) < 16 {
		return r, &Error{"POSTMARK_WEBHOOK_PASSWORD", "must be at least 16 characters"}
	}
	if v := get("SENDGRID_WEBHOOK_PUBLIC_KEY", ""); v != "" {
		k, err := webhook.ParseSendGridKey(v)
		if err != nil {
			return r, &Error{"SENDGRID_WEBHOOK_PUBLIC_KEY", "the verification key from SendGrid's signed event webhook settings: " + err.Error()}
		}
		r.SendGridKey = k
	}
	if v := get("MAILGUN_WEBHOOK_SIGNING_KEY", ""); v != "" {
		if len(v) < 16 {
			return r, &Error{"MAILGUN_WEBHOOK_SIGNING_KEY", "must be Mailgun's HTTP webhook signing key (at least 16 characters)"}
		}
		r.MailgunKey = []byte(v)
	}
	if v := get("WEBHOOK_SECRET", ""); v != "" {
		k, err := webhook.ParseStandardSecret(v)
		if err != nil {
			return r, &Error{"WEBHOOK_SECRET", err.Error()}
		}
		r.StandardKey = k
	}
	if v := get("BOUNCE_ADDRESS", ""); v != "" {
		a, err := mail.ParseAddress(v)
		if err != nil || a.Name != "" || a.Address != v || strings.Contains(a.Address[:strings.LastIndexByte(a.Address, '@')], "+") {
			return r, &Error{"BOUNCE_ADDRESS", "must be a bare address without a + in it, like bounces@example.org"}
		}
		r.BounceAddress = v
	}
	if v := get("BOUNCE_IMAP_URL", ""); v != "" {
		a, err := bounce.ParseURL(v)
		if err != nil {
			return r, &Error{"BOUNCE_IMAP_URL", err.Error() + `: use imaps://user:password@host[:993][/Folder]`}
		}
		r.BounceIMAP = &a
	}
	return r, nil
}
