package config_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/twostep/twostep/internal/config"
)

// rsa2048 is made once: generating it takes a while.
var rsa2048 = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// keyFile writes a PEM block of type typ holding der, and returns its path.
func keyFile(t *testing.T, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pkcs8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func dkimEnv(file string) map[string]string {
	return map[string]string{"DKIM_DOMAIN": "twostep.example", "DKIM_SELECTOR": "s2026", "DKIM_PRIVATE_KEY_FILE": file}
}

func TestDKIMIsOffWhenNoneOfItsVariablesIsSet(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil || c.DKIM != nil {
		t.Fatalf("DKIM = %+v, %v; want nil", c.DKIM, err)
	}
}

func TestDKIMLoadsEd25519AndRSAKeys(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		file string
		want any
	}{
		{"Ed25519 in PKCS #8", keyFile(t, "PRIVATE KEY", pkcs8(t, edKey)), edKey},
		{"RSA 2048 in PKCS #8", keyFile(t, "PRIVATE KEY", pkcs8(t, rsa2048())), rsa2048()},
		{"RSA 2048 in PKCS #1", keyFile(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048())), rsa2048()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := dkimEnv(tc.file)
			vars["DKIM_SELECTOR"] = " s2026 " // values are trimmed like every other
			c, err := config.Load(env(vars))
			if err != nil {
				t.Fatal(err)
			}
			d := c.DKIM
			if d == nil || d.Domain != "twostep.example" || d.Selector != "s2026" || d.KeyFile != tc.file {
				t.Fatalf("DKIM = %+v", d)
			}
			type equaler interface {
				Equal(x crypto.PrivateKey) bool
			}
			if !d.Key.(equaler).Equal(tc.want) {
				t.Fatalf("loaded key %T is not the one in the file", d.Key)
			}
		})
	}
}

func TestDKIMRefusesEveryBadSettingNamingTheVariable(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	good := keyFile(t, "PRIVATE KEY", pkcs8(t, edKey))
	notPEM := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(notPEM, []byte("MC4CAQAwBQYDK2VwBCIEI..."), 0o600)
	with := func(k, v string) map[string]string {
		vars := dkimEnv(good)
		vars[k] = v
		return vars
	}
	only := func(names ...string) map[string]string {
		vars := map[string]string{}
		for _, n := range names {
			vars[n] = dkimEnv(good)[n]
		}
		return vars
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantVar string
		wantMsg string
	}{
		{"only the domain", only("DKIM_DOMAIN"), "DKIM_SELECTOR", "all three"},
		{"only the key file", only("DKIM_PRIVATE_KEY_FILE"), "DKIM_DOMAIN", "all three"},
		{"domain and selector without the key", only("DKIM_DOMAIN", "DKIM_SELECTOR"), "DKIM_PRIVATE_KEY_FILE", "all three"},
		{"a domain with a space", with("DKIM_DOMAIN", "two step.example"), "DKIM_DOMAIN", "domain"},
		{"a domain of one label", with("DKIM_DOMAIN", "localhost"), "DKIM_DOMAIN", "domain"},
		{"a domain smuggling a tag", with("DKIM_DOMAIN", "twostep.example; s=evil"), "DKIM_DOMAIN", "domain"},
		{"a selector with CR LF", with("DKIM_SELECTOR", "s1\r\nBcc: x"), "DKIM_SELECTOR", "selector"},
		{"a selector with a semicolon", with("DKIM_SELECTOR", "s1;x"), "DKIM_SELECTOR", "selector"},
		{"a key file that does not exist", with("DKIM_PRIVATE_KEY_FILE", filepath.Join(t.TempDir(), "none.pem")), "DKIM_PRIVATE_KEY_FILE", "cannot read"},
		{"a key file that is a folder", with("DKIM_PRIVATE_KEY_FILE", t.TempDir()), "DKIM_PRIVATE_KEY_FILE", "cannot read"},
		{"a key file that is not PEM", with("DKIM_PRIVATE_KEY_FILE", notPEM), "DKIM_PRIVATE_KEY_FILE", "not a PEM file"},
		{"a certificate instead of a key", with("DKIM_PRIVATE_KEY_FILE", keyFile(t, "CERTIFICATE", []byte{1, 2, 3})), "DKIM_PRIVATE_KEY_FILE", "CERTIFICATE"},
		{"an encrypted key", with("DKIM_PRIVATE_KEY_FILE", keyFile(t, "ENCRYPTED PRIVATE KEY", []byte{1, 2, 3})), "DKIM_PRIVATE_KEY_FILE", "encrypted"},
		{"a damaged key", with("DKIM_PRIVATE_KEY_FILE", keyFile(t, "PRIVATE KEY", []byte{0x30, 1, 2})), "DKIM_PRIVATE_KEY_FILE", "cannot parse"},
		{"an ECDSA key", with("DKIM_PRIVATE_KEY_FILE", keyFile(t, "PRIVATE KEY", pkcs8(t, ecKey))), "DKIM_PRIVATE_KEY_FILE", "want Ed25519 or RSA"},
		{"an RSA key of 1024 bits", with("DKIM_PRIVATE_KEY_FILE", keyFile(t, "PRIVATE KEY", pkcs8(t, small))), "DKIM_PRIVATE_KEY_FILE", "at least 2048"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(env(tc.env))
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Var != tc.wantVar || !strings.Contains(ce.Msg, tc.wantMsg) {
				t.Fatalf("Load = %v, want a %s error saying %q", err, tc.wantVar, tc.wantMsg)
			}
		})
	}
}
