// Package bounce reads the bounce mailbox of a self-hosted relay: RFC 3464
// delivery status notifications and RFC 5965 ARF complaint reports, found
// over IMAP, matched to the delivery by the VERP envelope sender or the
// Message-ID they quote, and recorded under the same rules as the
// provider webhooks.
package bounce

import (
	"regexp"
	"strings"
)

// VERP returns the envelope sender for the message with messageID, when
// bounces go to bounceAddr (bounces@example.org): the Message-ID rides in
// the local part, bounces+<local>=<domain>@example.org, so a bounce names
// its message even when it quotes nothing of it. An empty bounceAddr or a
// Message-ID that cannot ride there gives bounceAddr unchanged.
func VERP(bounceAddr, messageID string) string {
	at := strings.LastIndexByte(bounceAddr, '@')
	local, domain, ok := strings.Cut(messageID, "@")
	if at < 0 || !ok || !verpPart.MatchString(local) || !verpPart.MatchString(domain) {
		return bounceAddr
	}
	return bounceAddr[:at] + "+" + local + "=" + domain + bounceAddr[at:]
}

// verpPart is what twostep's own Message-IDs are made of (hex @ a domain).
var verpPart = regexp.MustCompile(`^[A-Za-z0-9.-]{1,100}$`)

// FromVERP returns the Message-ID a VERP address made by VERP carries.
func FromVERP(addr string) (string, bool) {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", false
	}
	_, tag, ok := strings.Cut(addr[:at], "+")
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(tag, '=')
	if i < 0 || !verpPart.MatchString(tag[:i]) || !verpPart.MatchString(tag[i+1:]) {
		return "", false
	}
	return tag[:i] + "@" + tag[i+1:], true
}
