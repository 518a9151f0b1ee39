// Package webhook receives bounce and complaint reports that mail providers
// send after the SMTP session has ended: Amazon SES through SNS, Postmark,
// SendGrid, Mailgun, and a generic Standard Webhooks sender. Each provider
// has one file that verifies exactly what that provider signs and turns its
// payload into drip.Reports; handler.go stores them before answering.
package webhook

import (
	"errors"
	"time"

	"github.com/twostep/twostep/internal/drip"
)

// Errors a request is refused with. Each answers 4xx and changes nothing.
var (
	ErrSignature = errors.New("signature does not verify")
	ErrStale     = errors.New("timestamp is too old or in the future")
	ErrTopic     = errors.New("topic is not in the allow-list")
	ErrCertURL   = errors.New("signing certificate URL is not an Amazon SNS one")
	ErrTooLarge  = errors.New("body is too large")
	ErrMalformed = errors.New("body is malformed")
)

// MaxBody is the largest body a webhook accepts, but for SendGrid.
const MaxBody = 256 << 10

// MaxSendGridBody is SendGrid's limit: it posts batches of up to 768 KB,
// and a batch refused for its size would be refused on every retry.
const MaxSendGridBody = 1 << 20

// maxBody is the body limit of provider p.
func maxBody(p drip.Provider) int64 {
	if p == drip.ProviderSendGrid {
		return MaxSendGridBody
	}
	return MaxBody
}

// Tolerance is how far a signed timestamp may be from our clock.
const Tolerance = 5 * time.Minute

// fresh reports whether the signed time ts is within Tolerance of now.
func fresh(ts, now time.Time) bool {
	d := now.Sub(ts)
	return d <= Tolerance && d >= -Tolerance
}
