package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/drip"
)

// MailgunSigned verifies Mailgun's webhooks: an HMAC-SHA256, keyed with the
// webhook signing key, over the timestamp and a one-time token. The token
// is returned as the batch's ReplayKey, so the store refuses it the second
// time.
type MailgunSigned struct {
	Key   []byte
	Clock clock.Clock
}

// MailgunWindow is how old a Mailgun signature may be. Mailgun retries a
// failed delivery for up to 8 hours; tokens are kept at least this long.
const MailgunWindow = 24 * time.Hour

type mailgunBody struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData struct {
		ID             string  `json:"id"`
		Event          string  `json:"event"`
		Severity       string  `json:"severity"`
		Recipient      string  `json:"recipient"`
		Timestamp      float64 `json:"timestamp"`
		Reason         string  `json:"reason"`
		DeliveryStatus struct {
			Code        int    `json:"code"`
			Message     string `json:"message"`
			Description string `json:"description"`
		} `json:"delivery-status"`
		Message struct {
			Headers struct {
				MessageID string `json:"message-id"`
			} `json:"headers"`
		} `json:"message"`
	} `json:"event-data"`
}

// Parse checks the signature and returns the failure or complaint event.
func (m *MailgunSigned) Parse(_ context.Context, _ *http.Request, body []byte) (drip.ReportBatch, error) {
	b := drip.ReportBatch{Provider: drip.ProviderMailgun}
	var mb mailgunBody
	if err := json.Unmarshal(body, &mb); err != nil {
		return b, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	s := mb.Signature
	want, err := hex.DecodeString(s.Signature)
	if err != nil || s.Token == "" || s.Timestamp == "" {
		return b, ErrSignature
	}
	mac := hmac.New(sha256.New, m.Key)
	mac.Write([]byte(s.Timestamp + s.Token))
	if !hmac.Equal(mac.Sum(nil), want) {
		return b, ErrSignature
	}
	ts, err := strconv.ParseInt(s.Timestamp, 10, 64)
	if err != nil {
		return b, ErrSignature
	}
	now := m.Clock.Now()
	if d := now.Sub(time.Unix(ts, 0)); d > MailgunWindow || d < -Tolerance {
		return b, ErrStale
	}
	b.ReplayKey = s.Token
	e := mb.EventData
	var k drip.ReportKind
	switch {
	case e.Event == "complained":
		k = drip.ReportComplaint
	case e.Event == "failed" && e.Severity == "permanent":
		k = drip.ReportHard
	case e.Event == "failed" && e.Severity == "temporary":
		k = drip.ReportSoft
	default:
		return b, nil
	}
	if e.ID == "" {
		return b, fmt.Errorf("%w: event-data has no id", ErrMalformed)
	}
	reason := e.DeliveryStatus.Description
	if reason == "" {
		reason = e.DeliveryStatus.Message
	}
	if reason == "" {
		reason = e.Reason
	}
	if e.DeliveryStatus.Code != 0 {
		reason = strconv.Itoa(e.DeliveryStatus.Code) + " " + reason
	}
	sec, frac := math.Modf(e.Timestamp)
	at := time.Unix(int64(sec), int64(frac*1e9)).UTC()
	// Mailgun's event ids are unique within a day, so the day is part of ours.
	b.Reports = []drip.Report{{Provider: drip.ProviderMailgun, ID: at.Format("2006-01-02") + "/" + e.ID, Kind: k, Email: e.Recipient,
		MessageID: drip.NormalizeMessageID(e.Message.Headers.MessageID), Reason: drip.Truncate(reason, 1000), At: at}}
	return b, nil
}
