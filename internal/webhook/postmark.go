package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/twostep/twostep/internal/drip"
)

// PostmarkAuth verifies Postmark's bounce and spam-complaint webhooks,
// which Postmark protects with HTTP Basic credentials in the webhook URL.
type PostmarkAuth struct {
	User, Password string
}

// postmarkRecord is a Postmark Bounce or SpamComplaint webhook body.
type postmarkRecord struct {
	RecordType  string
	ID          json.Number
	Type        string
	Email       string
	Description string
	Details     string
	BouncedAt   string
}

// postmarkKinds maps Postmark's bounce types to what twostep does with
// them; a type not listed (auto-responders, subscriptions…) is ignored.
var postmarkKinds = map[string]drip.ReportKind{
	"HardBounce":          drip.ReportHard,
	"BadEmailAddress":     drip.ReportHard,
	"ManuallyDeactivated": drip.ReportHard,
	// A SpamNotification is the receiving server's filter, not the reader:
	// not listed, so ignored.
	"SpamComplaint": drip.ReportComplaint,
	"SoftBounce":    drip.ReportSoft,
	"Transient":     drip.ReportSoft,
	"DnsError":      drip.ReportSoft,
	"Blocked":       drip.ReportSoft,
}

// equal compares in constant time, whatever the lengths.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// Parse checks the credentials and returns the record's event.
func (p *PostmarkAuth) Parse(_ context.Context, r *http.Request, body []byte) (drip.ReportBatch, error) {
	b := drip.ReportBatch{Provider: drip.ProviderPostmark}
	user, pass, ok := r.BasicAuth()
	// Both comparisons always run, so timing tells nothing about which failed.
	userOK, passOK := equal(user, p.User), equal(pass, p.Password)
	if !ok || !userOK || !passOK {
		return b, ErrSignature
	}
	var rec postmarkRecord
	if err := json.Unmarshal(body, &rec); err != nil {
		return b, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if rec.ID == "" {
		return b, fmt.Errorf("%w: no ID", ErrMalformed)
	}
	if _, err := strconv.ParseInt(string(rec.ID), 10, 64); err != nil {
		return b, fmt.Errorf("%w: ID %q", ErrMalformed, rec.ID)
	}
	k, ok := postmarkKinds[rec.Type]
	if !ok || (rec.RecordType != "Bounce" && rec.RecordType != "SpamComplaint") {
		return b, nil
	}
	at, _ := time.Parse(time.RFC3339, rec.BouncedAt)
	reason := rec.Description
	if rec.Details != "" {
		reason += ": " + rec.Details
	}
	// Postmark's MessageID is its own id, not our Message-ID header, so the
	// event is matched by address.
	b.Reports = []drip.Report{{Provider: drip.ProviderPostmark, ID: rec.RecordType + "/" + string(rec.ID), Kind: k, Email: rec.Email,
		Reason: drip.Truncate(reason, 1000), At: at}}
	return b, nil
}
