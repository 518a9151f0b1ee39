package bounce

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/twostep/twostep/internal/drip"
)

// ErrNotAReport means the message is neither a DSN nor an ARF report (an
// auto-reply, say); it is marked and left alone.
var ErrNotAReport = errors.New("not a delivery status notification or feedback report")

// maxMessage bounds what one report may be; a bounce quoting a huge
// message is cut, since only its headers are read.
const maxMessage = 4 << 20

// Parse reads one message from the bounce mailbox and returns the reports
// it carries: one per failed recipient of a DSN (a delayed one is not a
// bounce), or one complaint for an ARF report.
func Parse(raw []byte) ([]drip.Report, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAReport, err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["boundary"] == "" {
		return nil, ErrNotAReport
	}
	r := report{verp: verpOf(msg.Header)}
	if err := r.readParts(multipart.NewReader(msg.Body, params["boundary"])); err != nil {
		return nil, err
	}
	// The report's own Message-ID names it; a report without one is named
	// by its content, so reading it twice still acts once.
	id := drip.NormalizeMessageID(msg.Header.Get("Message-ID"))
	if id == "" {
		sum := sha256.Sum256(raw)
		id = hex.EncodeToString(sum[:16])
	}
	msgID := r.verp
	if msgID == "" {
		msgID = r.originalID
	}
	var out []drip.Report
	switch strings.ToLower(params["report-type"]) {
	case "delivery-status":
		for _, rc := range r.recipients {
			out = append(out, drip.Report{Provider: drip.ProviderIMAP, ID: id + "/" + rc.addr, Kind: rc.kind,
				Email: rc.addr, MessageID: msgID, Reason: drip.Truncate(rc.reason, 1000)})
		}
	case "feedback-report":
		if !r.complaint {
			return nil, nil
		}
		addr := r.complainant
		if addr == "" {
			addr = r.originalTo
		}
		out = append(out, drip.Report{Provider: drip.ProviderIMAP, ID: id, Kind: drip.ReportComplaint,
			Email: addr, MessageID: msgID, Reason: drip.Truncate("feedback report: "+r.feedbackType, 1000)})
	default:
		return nil, ErrNotAReport
	}
	return out, nil
}

type recipient struct {
	addr, reason string
	kind         drip.ReportKind
}

// report is what the parts of a multipart/report say.
type report struct {
	verp         string // Message-ID from the VERP address the report came to
	originalID   string // Message-ID of the quoted original
	originalTo   string
	recipients   []recipient
	complaint    bool
	feedbackType string
	complainant  string
}

// verpOf finds the VERP address a report was delivered to; relays put the
// envelope recipient in one of these headers.
func verpOf(h mail.Header) string {
	for _, name := range []string{"X-Original-To", "Delivered-To", "Envelope-To", "X-Envelope-To", "To"} {
		for _, v := range h[textproto.CanonicalMIMEHeaderKey(name)] {
			addrs, err := mail.ParseAddressList(v)
			if err != nil {
				addrs = []*mail.Address{{Address: strings.TrimSpace(v)}}
			}
			for _, a := range addrs {
				if id, ok := FromVERP(a.Address); ok {
					return id
				}
			}
		}
	}
	return ""
}

func (r *report) readParts(mr *multipart.Reader) error {
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNotAReport, err)
		}
		mt, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		var body io.Reader = io.LimitReader(p, maxMessage)
		// multipart.Reader decodes quoted-printable itself, not base64.
		if strings.EqualFold(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		switch mt {
		case "message/delivery-status", "message/global-delivery-status":
			if err := r.readStatus(body); err != nil {
				return err
			}
		case "message/feedback-report":
			if err := r.readFeedback(body); err != nil {
				return err
			}
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
			r.readOriginal(body)
		case "multipart/alternative", "multipart/mixed":
			if params["boundary"] != "" {
				if err := r.readParts(multipart.NewReader(body, params["boundary"])); err != nil {
					return err
				}
			}
		}
	}
}

// fieldGroups reads the blank-line separated groups of header fields of a
// delivery-status or feedback-report part.
func fieldGroups(body io.Reader) ([]textproto.MIMEHeader, error) {
	tr := textproto.NewReader(bufio.NewReader(body))
	var groups []textproto.MIMEHeader
	for {
		h, err := tr.ReadMIMEHeader()
		if len(h) > 0 {
			groups = append(groups, h)
		}
		if errors.Is(err, io.EOF) {
			return groups, nil
		}
		if err != nil {
			return groups, fmt.Errorf("%w: %v", ErrNotAReport, err)
		}
	}
}

// typedAddress reads "rfc822; someone@example.org".
func typedAddress(v string) string {
	if _, a, ok := strings.Cut(v, ";"); ok {
		v = a
	}
	return strings.Trim(strings.TrimSpace(v), "<>")
}

func (r *report) readStatus(body io.Reader) error {
	groups, err := fieldGroups(body)
	if err != nil {
		return err
	}
	// The first group is about the message, the rest one per recipient.
	for i, g := range groups {
		if i == 0 && g.Get("Final-Recipient") == "" {
			continue
		}
		action := strings.ToLower(strings.TrimSpace(g.Get("Action")))
		status := strings.TrimSpace(g.Get("Status"))
		if action != "failed" {
			continue // delayed, delivered, relayed, expanded: not a bounce
		}
		addr := typedAddress(g.Get("Final-Recipient"))
		if orig := g.Get("Original-Recipient"); orig != "" {
			addr = typedAddress(orig)
		}
		kind := statusKind(status)
		reason := strings.TrimSpace(status + " " + typedAddress(g.Get("Diagnostic-Code")))
		r.recipients = append(r.recipients, recipient{addr: addr, kind: kind, reason: reason})
	}
	return nil
}

// statusKind is what an RFC 3463 status code in a failed DSN means here:
// only a bad address (5.1.x) or a disabled mailbox (5.2.1) is hard. Other
// permanent codes — policy and authentication refusals (5.7.x), a full
// mailbox (5.2.2), a message too big (5.3.4) — say nothing about the
// address for good, and one DKIM or reputation incident must not bounce
// every reader at a mailbox provider.
func statusKind(status string) drip.ReportKind {
	if strings.HasPrefix(status, "5.1.") || status == "5.2.1" {
		return drip.ReportHard
	}
	return drip.ReportSoft
}

func (r *report) readFeedback(body io.Reader) error {
	groups, err := fieldGroups(body)
	if err != nil {
		return err
	}
	if len(groups) == 0 {
		return fmt.Errorf("%w: empty feedback report", ErrNotAReport)
	}
	g := groups[0]
	r.feedbackType = strings.ToLower(strings.TrimSpace(g.Get("Feedback-Type")))
	switch r.feedbackType {
	case "abuse", "fraud", "virus", "other":
		r.complaint = true
	}
	r.complainant = typedAddress(g.Get("Original-Rcpt-To"))
	// Feedback loops redact the recipient but keep the envelope sender,
	// which is our VERP address.
	if id, ok := FromVERP(typedAddress(g.Get("Original-Mail-From"))); ok && r.verp == "" {
		r.verp = id
	}
	return nil
}

func (r *report) readOriginal(body io.Reader) {
	tr := textproto.NewReader(bufio.NewReader(body))
	h, _ := tr.ReadMIMEHeader() // a headers-only part ends without a blank line
	r.originalID = drip.NormalizeMessageID(h.Get("Message-Id"))
	if to, err := mail.ParseAddress(h.Get("To")); err == nil {
		r.originalTo = to.Address
	}
	if r.verp == "" {
		if id, ok := FromVERP(h.Get("Return-Path")); ok {
			r.verp = id
		}
	}
}
