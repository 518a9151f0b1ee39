package webhook

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/drip"
)

// SendGridSigned verifies SendGrid's signed event webhook: an ECDSA
// signature over the timestamp header followed by the raw body.
type SendGridSigned struct {
	Key   *ecdsa.PublicKey
	Clock clock.Clock
}

// ParseSendGridKey reads the verification key as SendGrid shows it: the
// base64 of a DER public key (a PEM block is accepted too).
func ParseSendGridKey(s string) (*ecdsa.PublicKey, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "-----BEGIN PUBLIC KEY-----")
	s = strings.TrimSuffix(s, "-----END PUBLIC KEY-----")
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, errors.New("not base64")
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("not a public key: %w", err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("not an ECDSA public key")
	}
	return ek, nil
}

type sendgridEvent struct {
	Email     string `json:"email"`
	Event     string `json:"event"`
	Type      string `json:"type"`
	Reason    string `json:"reason"`
	Status    string `json:"status"`
	SMTPID    string `json:"smtp-id"`
	EventID   string `json:"sg_event_id"`
	Timestamp int64  `json:"timestamp"`
}

// Parse checks the signature and timestamp and returns the bounce, block,
// drop-for-bounce and spam-report events of the batch.
func (g *SendGridSigned) Parse(_ context.Context, r *http.Request, body []byte) (drip.ReportBatch, error) {
	b := drip.ReportBatch{Provider: drip.ProviderSendGrid}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("X-Twilio-Email-Event-Webhook-Signature"))
	if err != nil || len(sig) == 0 {
		return b, ErrSignature
	}
	tsHeader := r.Header.Get("X-Twilio-Email-Event-Webhook-Timestamp")
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return b, ErrSignature
	}
	sum := sha256.Sum256(append([]byte(tsHeader), body...))
	if !ecdsa.VerifyASN1(g.Key, sum[:], sig) {
		return b, ErrSignature
	}
	now := g.Clock.Now()
	if !fresh(time.Unix(ts, 0), now) {
		return b, ErrStale
	}
	var evs []sendgridEvent
	if err := json.Unmarshal(body, &evs); err != nil {
		return b, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for _, e := range evs {
		var k drip.ReportKind
		switch {
		case e.Event == "bounce" && e.Type == "blocked":
			k = drip.ReportSoft
		case e.Event == "bounce":
			k = drip.ReportHard
		case e.Event == "spamreport":
			k = drip.ReportComplaint
		case e.Event == "dropped" && (e.Reason == "Bounced Address" || e.Reason == "Invalid"):
			k = drip.ReportHard
		case e.Event == "dropped" && e.Reason == "Spam Reporting Address":
			k = drip.ReportComplaint
		default:
			continue
		}
		if e.EventID == "" {
			return drip.ReportBatch{Provider: drip.ProviderSendGrid}, fmt.Errorf("%w: an event has no sg_event_id", ErrMalformed)
		}
		reason := e.Reason
		if e.Status != "" {
			reason = e.Status + " " + reason
		}
		b.Reports = append(b.Reports, drip.Report{Provider: drip.ProviderSendGrid, ID: e.EventID, Kind: k, Email: e.Email,
			MessageID: drip.NormalizeMessageID(e.SMTPID), Reason: drip.Truncate(reason, 1000), At: time.Unix(e.Timestamp, 0).UTC()})
	}
	return b, nil
}
