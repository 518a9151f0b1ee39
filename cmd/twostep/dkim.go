package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	netmail "net/mail"
	"os"
	"strings"

	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/mail"
)

// mailOptions are mail.DefaultOptions with the configured DKIM signing, for
// every Opener the commands make.
func mailOptions(cfg config.Config) mail.Options {
	o := mail.DefaultOptions
	o.DKIM = cfg.DKIM
	return o
}

// warnDKIMAlignment logs when mail is signed for a domain that is neither
// the From address's nor a parent of it: the signature verifies, but DMARC
// does not count it, and providers treat the mail as unsigned.
func warnDKIMAlignment(log *slog.Logger, d *config.DKIM, from string) {
	if d == nil {
		return
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return
	}
	_, domain, _ := strings.Cut(strings.ToLower(a.Address), "@")
	signing := strings.ToLower(d.Domain)
	if domain != signing && !strings.HasSuffix(domain, "."+signing) {
		log.Warn("DKIM_DOMAIN is not the From address's domain or a parent of it, so DMARC will not count the signature",
			"dkim_domain", d.Domain, "from", a.Address)
	}
}

// dkimCmd is `twostep dkim keygen [--type rsa|ed25519] [--out FILE]`: make
// a signing key, write it where DKIM_PRIVATE_KEY_FILE will point, and print
// the DNS record that publishes it. It reads the environment itself, not
// through config.Load, so that it runs before the key it makes exists.
func dkimCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "keygen" {
		return usageError{"dkim: usage: twostep dkim keygen [--type rsa|ed25519] [--out FILE]"}
	}
	flags := flag.NewFlagSet("dkim keygen", flag.ContinueOnError)
	flags.SetOutput(stderr)
	// RSA by default: Ed25519 signatures (RFC 8463) are smaller, but not
	// every large provider verifies them yet, and an unverified signature
	// counts as none.
	typ := flags.String("type", "rsa", "key type: rsa (2048 bits) or ed25519")
	out := flags.String("out", "", "file to write the private key to (default: $DKIM_PRIVATE_KEY_FILE, else dkim.pem)")
	if err := flags.Parse(args[1:]); err != nil {
		return usageError{"dkim keygen: " + err.Error()}
	}
	if flags.NArg() > 0 {
		return usageError{"dkim keygen: unexpected argument " + flags.Arg(0)}
	}
	path := *out
	if path == "" {
		path = strings.TrimSpace(getenv("DKIM_PRIVATE_KEY_FILE"))
	}
	if path == "" {
		path = "dkim.pem"
	}
	var key crypto.Signer
	switch *typ {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, config.MinRSABits)
		if err != nil {
			return fmt.Errorf("make an RSA key: %w", err)
		}
		key = k
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return fmt.Errorf("make an Ed25519 key: %w", err)
		}
		key = k
	default:
		return usageError{fmt.Sprintf("dkim keygen: --type %q: want rsa or ed25519", *typ)}
	}
	record, err := mail.DKIMRecord(key)
	if err != nil {
		return err
	}
	if err := writeKey(path, key); err != nil {
		return err
	}
	selector, domain := strings.TrimSpace(getenv("DKIM_SELECTOR")), strings.TrimSpace(getenv("DKIM_DOMAIN"))
	if selector == "" {
		selector = "SELECTOR"
	}
	if domain == "" {
		domain = "YOUR-DOMAIN"
	}
	fmt.Fprintf(stdout, "Wrote the private key to %s (mode 0600; keep it secret, set DKIM_PRIVATE_KEY_FILE to it).\n\n", path)
	fmt.Fprintf(stdout, "Publish this DNS TXT record, then set DKIM_DOMAIN and DKIM_SELECTOR to match:\n\n")
	fmt.Fprintf(stdout, "%s._domainkey.%s. IN TXT %s\n\n", selector, domain, txtStrings(record))
	fmt.Fprintf(stdout, "The record's value, for a DNS panel that takes it whole:\n\n%s\n", record)
	return nil
}

// writeKey writes key as PKCS #8 PEM to a new file readable by its owner
// only. It never replaces a file: overwriting a key already published
// would make every signature fail until DNS changed too.
func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode the key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; keygen never replaces a key (remove it, or choose another --out)", path)
	}
	if err != nil {
		return fmt.Errorf("write the key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write the key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write the key: %w", err)
	}
	return nil
}

// txtStrings is record as zone-file character-strings: a TXT string holds
// at most 255 bytes, and a 2048-bit RSA record is longer.
func txtStrings(record string) string {
	var parts []string
	for len(record) > 255 {
		parts = append(parts, `"`+record[:255]+`"`)
		record = record[255:]
	}
	parts = append(parts, `"`+record+`"`)
	if len(parts) == 1 {
		return parts[0]
	}
	return "( " + strings.Join(parts, " ") + " )"
}
