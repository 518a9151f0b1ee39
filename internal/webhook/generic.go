package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
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

// StandardWebhooks verifies the generic webhook, signed as the Standard
// Webhooks specification defines: HMAC-SHA256 over "id.timestamp.body",
// sent as "v1,<base64>" in webhook-signature.
type StandardWebhooks struct {
	Key   []byte
	Clock clock.Clock
}

// ParseStandardSecret decodes a "whsec_<base64>" secret.
func ParseStandardSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "whsec_")
	if !ok {
		return nil, errors.New(`must start with "whsec_"`)
	}
	k, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, errors.New(`the part after "whsec_" is not base64`)
	}
	if len(k) < 24 {
		return nil, errors.New("key is shorter than 24 bytes")
	}
	return k, nil
}

// genericReport is the body the generic webhook takes.
type genericReport struct {
	Email     string          `json:"email"`
	MessageID string          `json:"message_id"`
	Type      drip.ReportKind `json:"type"`
	Reason    string          `json:"reason"`
}

// Parse checks the signature and timestamp and returns the one event.
func (g *StandardWebhooks) Parse(_ context.Context, r *http.Request, body []byte) (drip.ReportBatch, error) {
	b := drip.ReportBatch{Provider: drip.ProviderGeneric}
	id, tsHeader := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	if id == "" || tsHeader == "" || len(id) > 200 {
		return b, ErrSignature
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return b, ErrSignature
	}
	mac := hmac.New(sha256.New, g.Key)
	mac.Write([]byte(id + "." + tsHeader + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	ok := false
	for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
		v, enc, found := strings.Cut(sig, ",")
		if !found || v != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(enc); err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return b, ErrSignature
	}
	now := g.Clock.Now()
	if !fresh(time.Unix(ts, 0), now) {
		return b, ErrStale
	}
	var rep genericReport
	if err := json.Unmarshal(body, &rep); err != nil {
		return b, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !rep.Type.Valid() {
		return b, fmt.Errorf(`%w: type must be "hard", "soft" or "complaint"`, ErrMalformed)
	}
	if rep.Email == "" && rep.MessageID == "" {
		return b, fmt.Errorf("%w: email or message_id is required", ErrMalformed)
	}
	b.Reports = []drip.Report{{Provider: drip.ProviderGeneric, ID: id, Kind: rep.Type, Email: rep.Email,
		MessageID: drip.NormalizeMessageID(rep.MessageID), Reason: drip.Truncate(rep.Reason, 1000), At: time.Unix(ts, 0).UTC()}}
	return b, nil
}
