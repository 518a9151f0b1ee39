package webhook

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/drip"
)

// snsHost is the only kind of host SNS signs from and confirms on:
// sns.<region>.amazonaws.com, sns-signing.<region>.amazonaws.com in opt-in
// regions, and the .com.cn partition.
var snsHost = regexp.MustCompile(`^sns(-signing)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// snsMessage is the SNS HTTP(S) envelope, as AWS documents it.
type snsMessage struct {
	Type             string
	MessageID        string `json:"MessageId"`
	Token            string
	TopicArn         string
	Subject          *string // signed only when present
	Message          string
	SubscribeURL     string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string
}

// signedString is what SNS signs: the named fields, each as "Name\nvalue\n",
// in the order AWS lists them for the message type.
func (m *snsMessage) signedString() (string, error) {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	switch m.Type {
	case "Notification":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		if m.Subject != nil {
			add("Subject", *m.Subject)
		}
		add("Timestamp", m.Timestamp)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	default:
		return "", fmt.Errorf("%w: unknown SNS message type %q", ErrMalformed, m.Type)
	}
	return b.String(), nil
}

// SNS verifies Amazon SNS messages carrying SES bounce and complaint
// notifications.
type SNS struct {
	// Topics is the allow-list of topic ARNs (SES_SNS_TOPICS).
	Topics []string
	// Client fetches signing certificates and confirms subscriptions; its
	// timeout bounds both. nil: a client with a 10-second timeout.
	Client *http.Client
	// Clock is the wall clock (nil: time.Now); certificates must be valid
	// at its time.
	Clock clock.Clock

	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

// maxCerts bounds the cache: SNS uses one certificate per region at a time.
const maxCerts = 32

// checkSNSURL accepts only https URLs on an SNS host, so a forged message
// can make us fetch nothing else.
func checkSNSURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" || !snsHost.MatchString(u.Hostname()) {
		return nil, fmt.Errorf("%w: %q", ErrCertURL, raw)
	}
	return u, nil
}

func (s *SNS) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// cert returns the certificate at raw, fetched once and then cached.
func (s *SNS) cert(ctx context.Context, raw string) (*x509.Certificate, error) {
	u, err := checkSNSURL(raw)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(u.Path, ".pem") {
		return nil, fmt.Errorf("%w: %q is not a .pem file", ErrCertURL, raw)
	}
	s.mu.Lock()
	c := s.certs[u.String()]
	s.mu.Unlock()
	now := s.Clock.Now()
	if c != nil && now.Before(c.NotAfter) {
		return c, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("signing certificate request: %w", err)
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch signing certificate: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch signing certificate: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read signing certificate: %w", err)
	}
	block, _ := pem.Decode(body)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: signing certificate is not PEM", ErrSignature)
	}
	c, err = x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: parse signing certificate: %v", ErrSignature, err)
	}
	// Trust comes from where the certificate was fetched: an https URL on
	// an SNS host, its TLS verified against the system's roots, as AWS's
	// own SDKs do. The file holds the leaf alone, issued for
	// sns.amazonaws.com whatever the region, so it is not verified as a
	// chain or against the regional host name.
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return nil, fmt.Errorf("%w: signing certificate is not valid now", ErrSignature)
	}
	s.mu.Lock()
	if s.certs == nil || len(s.certs) >= maxCerts {
		s.certs = map[string]*x509.Certificate{}
	}
	s.certs[u.String()] = c
	s.mu.Unlock()
	return c, nil
}

// verify checks the envelope's topic and signature.
func (s *SNS) verify(ctx context.Context, m *snsMessage) error {
	if !slices.Contains(s.Topics, m.TopicArn) {
		return fmt.Errorf("%w: %q", ErrTopic, m.TopicArn)
	}
	signed, err := m.signedString()
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrSignature)
	}
	var h crypto.Hash
	var sum []byte
	switch m.SignatureVersion {
	case "1":
		d := sha1.Sum([]byte(signed))
		h, sum = crypto.SHA1, d[:]
	case "2":
		d := sha256.Sum256([]byte(signed))
		h, sum = crypto.SHA256, d[:]
	default:
		return fmt.Errorf("%w: unknown signature version %q", ErrSignature, m.SignatureVersion)
	}
	c, err := s.cert(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	if err := rsa.VerifyPKCS1v15(c.PublicKey.(*rsa.PublicKey), h, sum, sig); err != nil {
		return ErrSignature
	}
	return nil
}

// Parse verifies an SNS request and returns the SES events it carries. A
// verified SubscriptionConfirmation is confirmed here, by fetching its
// SubscribeURL within the client's timeout; it carries no events.
func (s *SNS) Parse(ctx context.Context, r *http.Request, body []byte) (drip.ReportBatch, error) {
	b := drip.ReportBatch{Provider: drip.ProviderSES}
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return b, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if t := r.Header.Get("x-amz-sns-message-type"); t != "" && t != m.Type {
		return b, fmt.Errorf("%w: header says %q, body says %q", ErrMalformed, t, m.Type)
	}
	if err := s.verify(ctx, &m); err != nil {
		return b, err
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		return b, s.confirm(ctx, m.SubscribeURL)
	case "UnsubscribeConfirmation":
		return b, nil
	}
	at, _ := time.Parse(time.RFC3339, m.Timestamp)
	evs, err := parseSES(m.MessageID, m.Message, at)
	b.Reports = evs
	return b, err
}

func (s *SNS) confirm(ctx context.Context, raw string) error {
	u, err := checkSNSURL(raw)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("subscription confirmation request: %w", err)
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return fmt.Errorf("confirm SNS subscription: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("confirm SNS subscription: %s", resp.Status)
	}
	return nil
}

// sesNotification is the part of an SES notification (or SES event
// publishing record) that says what happened to whom.
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           struct {
		FeedbackID        string `json:"feedbackId"`
		BounceType        string `json:"bounceType"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint struct {
		FeedbackID           string `json:"feedbackId"`
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
		FeedbackType string `json:"complaintFeedbackType"`
	} `json:"complaint"`
	Mail struct {
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
	} `json:"mail"`
}

// parseSES turns one SES notification into events, one per recipient. The
// event id is SES's feedback id and the recipient, so the same bounce
// published twice (identity notifications and event publishing, each a new
// SNS message) acts once; the SNS message id stands in when it is missing.
func parseSES(snsID, message string, at time.Time) ([]drip.Report, error) {
	var n sesNotification
	if err := json.Unmarshal([]byte(message), &n); err != nil {
		return nil, fmt.Errorf("%w: SES notification: %v", ErrMalformed, err)
	}
	msgID := n.Mail.CommonHeaders.MessageID
	for _, h := range n.Mail.Headers {
		if strings.EqualFold(h.Name, "Message-ID") {
			msgID = h.Value
		}
	}
	msgID = drip.NormalizeMessageID(msgID)
	kind := n.NotificationType
	if kind == "" {
		kind = n.EventType
	}
	id := func(feedback string) string {
		if feedback != "" {
			return feedback
		}
		return snsID
	}
	var evs []drip.Report
	switch kind {
	case "Bounce":
		k := drip.ReportSoft
		if n.Bounce.BounceType == "Permanent" {
			k = drip.ReportHard
		}
		for _, r := range n.Bounce.BouncedRecipients {
			evs = append(evs, drip.Report{Provider: drip.ProviderSES, ID: id(n.Bounce.FeedbackID) + "/" + r.EmailAddress, Kind: k, Email: r.EmailAddress,
				MessageID: msgID, Reason: drip.Truncate(r.DiagnosticCode, 1000), At: at})
		}
	case "Complaint":
		// A "not-spam" report takes a complaint back; it is not one.
		if n.Complaint.FeedbackType == "not-spam" {
			return nil, nil
		}
		for _, r := range n.Complaint.ComplainedRecipients {
			evs = append(evs, drip.Report{Provider: drip.ProviderSES, ID: id(n.Complaint.FeedbackID) + "/" + r.EmailAddress, Kind: drip.ReportComplaint, Email: r.EmailAddress,
				MessageID: msgID, Reason: drip.Truncate(n.Complaint.FeedbackType, 1000), At: at})
		}
	}
	return evs, nil
}
