package config

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// DKIM is how mail is signed: DKIM_DOMAIN, DKIM_SELECTOR and
// DKIM_PRIVATE_KEY_FILE, all three or none.
type DKIM struct {
	Domain   string        // d=, e.g. twostep.example
	Selector string        // s=: the key is published at <selector>._domainkey.<domain>
	KeyFile  string        // where Key was read from
	Key      crypto.Signer // ed25519.PrivateKey or an *rsa.PrivateKey of at least MinRSABits
}

// MinRSABits is the smallest RSA key accepted for DKIM: RFC 8301 has
// signers use at least 1024 bits and recommends 2048, and large providers
// treat shorter keys as no signature at all.
const MinRSABits = 2048

// loadDKIM reads the three DKIM variables through get (which trims them);
// nil when none is set.
func loadDKIM(get func(name, def string) string) (*DKIM, error) {
	d := &DKIM{Domain: get("DKIM_DOMAIN", ""), Selector: get("DKIM_SELECTOR", ""), KeyFile: get("DKIM_PRIVATE_KEY_FILE", "")}
	vars := []struct{ name, value string }{
		{"DKIM_DOMAIN", d.Domain}, {"DKIM_SELECTOR", d.Selector}, {"DKIM_PRIVATE_KEY_FILE", d.KeyFile},
	}
	var set, unset []string
	for _, v := range vars {
		if v.value == "" {
			unset = append(unset, v.name)
		} else {
			set = append(set, v.name)
		}
	}
	if len(set) == 0 {
		return nil, nil
	}
	if len(unset) > 0 {
		return nil, &Error{unset[0], "must be set when " + strings.Join(set, " and ") + " is: DKIM needs all three"}
	}
	if !dnsName(d.Domain, true) {
		return nil, &Error{"DKIM_DOMAIN", fmt.Sprintf("%q is not a domain name like example.com", d.Domain)}
	}
	if !dnsName(d.Selector, false) {
		return nil, &Error{"DKIM_SELECTOR", fmt.Sprintf("%q is not a selector: letters, digits, - and _, in dot-separated labels", d.Selector)}
	}
	pemBytes, err := os.ReadFile(d.KeyFile)
	if err != nil {
		return nil, &Error{"DKIM_PRIVATE_KEY_FILE", fmt.Sprintf("cannot read the key: %v", err)}
	}
	if d.Key, err = parseDKIMKey(pemBytes); err != nil {
		return nil, &Error{"DKIM_PRIVATE_KEY_FILE", fmt.Sprintf("%s: %v", d.KeyFile, err)}
	}
	return d, nil
}

// parseDKIMKey reads a PEM private key as DKIM signs with it: Ed25519
// (PKCS #8) or RSA of at least MinRSABits (PKCS #8 or PKCS #1).
func parseDKIMKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("not a PEM file (want -----BEGIN PRIVATE KEY-----; `twostep dkim keygen` makes one)")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the key is encrypted; store it unencrypted, readable only by twostep")
	default:
		return nil, fmt.Errorf("a PEM %q block, want a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot parse the key: %v", err)
	}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < MinRSABits {
			return nil, fmt.Errorf("an RSA key of %d bits, want at least %d", bits, MinRSABits)
		}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("an invalid RSA key: %v", err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("a %T key, want Ed25519 or RSA", key)
	}
}

// dnsName reports whether s is dot-separated labels of letters, digits
// and hyphens (and underscores, for a selector), with at least two labels
// for a domain.
func dnsName(s string, domain bool) bool {
	labels := strings.Split(s, ".")
	if len(s) > 253 || (domain && len(labels) < 2) {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || (!domain && c == '_')
			if !ok {
				return false
			}
		}
	}
	return true
}
