package mail

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	gomail "github.com/wneessen/go-mail"

	"github.com/twostep/twostep/internal/config"
)

// dkimHeaders are the headers every DKIM signature covers: who it is from
// and to, what it is, the one-click unsubscribe headers Gmail's and
// Yahoo's bulk-sender rules want signed, the list it belongs to, and the
// MIME structure. Each is also oversigned (named once more in h=), so
// adding a second copy of any of them, a forged List-Unsubscribe say,
// breaks the signature. A header a message lacks is signed as absent.
var dkimHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "Reply-To",
	"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
}

// newSigner is go-mail's DKIM signer for d, nil when d is. go-mail's
// signer keeps state while it signs, so each Transport has its own.
func newSigner(d *config.DKIM) *gomail.DKIMSigner {
	if d == nil {
		return nil
	}
	s := gomail.NewDKIMSigner(d.Domain, d.Selector, d.Key)
	s.SignHeaders(dkimHeaders...)
	s.OversignHeaders(dkimHeaders...)
	return s
}

// sign adds a DKIM-Signature made by s to m, over m exactly as it will be
// written: go-mail writes a message the same way every time (its
// multipart boundary is kept after the first write). Signing before the
// SMTP transaction means a failure sends nothing at all.
//
// go-mail can sign while it writes (Msg.SetDKIM), but v0.8.1 folds the
// DKIM-Signature inside tag values once h= is longer than a line, as ours
// is, and a verifier's relaxed canonicalization then reads a space into
// h= that was not signed: no signature verifies. The header is therefore
// written unfolded, exactly as it was signed; relaxed canonicalization
// lets relays fold it later.
func sign(s *gomail.DKIMSigner, m *gomail.Msg) error {
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return fmt.Errorf("DKIM: write the message to sign it: %w", err)
	}
	raw := buf.Bytes()
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	if i < 0 {
		return errors.New("DKIM: the message has no body")
	}
	line, err := s.Sign(raw[:i+2], raw[i+4:])
	if err != nil {
		return fmt.Errorf("DKIM: sign the message: %w", err)
	}
	value := strings.TrimPrefix(strings.TrimSuffix(strings.ReplaceAll(line, "\r\n ", ""), "\r\n"), "DKIM-Signature: ")
	m.SetGenHeaderPreformatted("DKIM-Signature", value)
	return nil
}

// DKIMRecord is the value of the DNS TXT record at
// <selector>._domainkey.<domain> that publishes key's public half, as
// RFC 6376 (RSA) and RFC 8463 (Ed25519) define it.
func DKIMRecord(key crypto.Signer) (string, error) {
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("encode the public key: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	default:
		return "", fmt.Errorf("a %T key: DKIM signs with Ed25519 or RSA", pub)
	}
}
