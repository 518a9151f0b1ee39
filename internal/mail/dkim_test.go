package mail

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	gomail "github.com/wneessen/go-mail"

	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/smtptest"
)

var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// lessonLike is a message shaped as a lesson: a name to encode, a long
// non-ASCII subject, both unsubscribe headers, List-Id, and bodies with
// long lines and non-ASCII text.
func lessonLike(t *testing.T) *gomail.Msg {
	t.Helper()
	long := strings.Repeat("Zoë tried it this week, and it worked. ", 20)
	m, err := Compose(Envelope{
		From: "Lead & Relate <lessons@twostep.example>", ReplyTo: "Reply <reply@twostep.example>",
		ToName: `Mary O"Brien 🎉`, ToAddr: "mary@example.com",
		Subject: "Lesson 7: Listening — what the quiet one in the room knows, and how to ask them",
		Text:    "Hello Mary,\n\n" + long + "\n\nTry this week:\n- one thing\n", HTML: "<p>Hello Mary,</p><p>" + long + "</p>",
		Date: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), MessageID: NewMessageID("lessons@twostep.example"),
		UnsubscribeURL: "https://lessons.twostep.example/unsubscribe/v1.abcdef", Lesson: 7,
		ListID: "Lead & Relate <lead-and-relate.twostep.example>",
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// verify checks raw with go-msgauth, an independent verifier, with the
// key published as DKIMRecord publishes it at s2026._domainkey.twostep.example.
func verify(t *testing.T, raw []byte, key crypto.Signer) (*dkim.Verification, error) {
	t.Helper()
	record, err := DKIMRecord(key)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if name != "s2026._domainkey.twostep.example" {
				return nil, errors.New("no such record: " + name)
			}
			return []string{record}, nil
		},
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d signatures, want 1\n%s", len(vs), raw)
	}
	return vs[0], vs[0].Err
}

// destination is where a Transport sends: srv over SMTP, or (cfg nil) the
// .eml folder.
type destination struct {
	name string
	cfg  *config.SMTP
}

func destinations(srv *smtptest.Server) []destination {
	return []destination{{"over SMTP", srv.Config()}, {"into the .eml folder", nil}}
}

func dkimOptions(key crypto.Signer) Options {
	return Options{ReplyTimeout: 5 * time.Second, DialTimeout: time.Second, HELO: "test",
		DKIM: &config.DKIM{Domain: "twostep.example", Selector: "s2026", Key: key}}
}

func TestEveryMessageIsSignedAndVerifiesCoveringTheUnsubscribeHeaders(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"Ed25519", edKey}, {"RSA 2048", testRSAKey()}} {
		srv := smtptest.Start(t)
		dir := filepath.Join(t.TempDir(), "outbox")
		for _, dest := range destinations(srv) {
			t.Run(tc.name+" "+dest.name, func(t *testing.T) {
				tr := NewOpener(dest.cfg, dir, dkimOptions(tc.key))()
				defer tr.Close()
				if _, err := tr.Send(context.Background(), lessonLike(t)); err != nil {
					t.Fatalf("send: %v", err)
				}
				var raw []byte
				if dest.cfg != nil {
					raw = srv.Messages()[0].Raw
				} else {
					files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
					if len(files) != 1 {
						t.Fatalf("outbox holds %v", files)
					}
					raw, _ = os.ReadFile(files[0])
				}
				v, err := verify(t, raw, tc.key)
				if err != nil {
					t.Fatalf("signature does not verify: %v\n%s", err, raw)
				}
				if v.Domain != "twostep.example" {
					t.Fatalf("signed for %q", v.Domain)
				}
				for _, line := range strings.Split(string(raw), "\r\n") {
					if len(line) > 998 {
						t.Fatalf("a line of %d characters, over RFC 5322's 998: %.80q…", len(line), line)
					}
				}
				for _, h := range []string{"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe",
					"List-Unsubscribe-Post", "List-Id", "MIME-Version", "Content-Type"} {
					if !slices.ContainsFunc(v.HeaderKeys, func(k string) bool { return strings.EqualFold(k, h) }) {
						t.Errorf("%s is not signed (h=%v)", h, v.HeaderKeys)
					}
				}
			})
		}
	}
}

func TestAChangedOrAddedHeaderOrBodyBreaksTheSignature(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	tr := NewOpener(nil, dir, dkimOptions(key))()
	if _, err := tr.Send(context.Background(), lessonLike(t)); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	raw, _ := os.ReadFile(files[0])
	if _, err := verify(t, raw, key); err != nil {
		t.Fatalf("the untouched message does not verify: %v", err)
	}
	const unsubURL = "https://lessons.twostep.example/unsubscribe/v1.abcdef"
	for _, tc := range []struct{ name, old, new string }{
		{"a changed List-Unsubscribe", unsubURL, "https://evil.example/unsubscribe/v1.abcdef"},
		{"a second List-Unsubscribe below it", "List-Unsubscribe-Post:", "List-Unsubscribe: <https://evil.example/u>\r\nList-Unsubscribe-Post:"},
		// Verifiers read the last copy of a header first; only oversigning
		// makes an added copy above it count.
		{"a second List-Unsubscribe above it", "Date:", "List-Unsubscribe: <https://evil.example/u>\r\nDate:"},
		{"a changed List-Unsubscribe-Post", "List-Unsubscribe=One-Click", "List-Unsubscribe=Never"},
		{"a changed List-Id", "List-Id: Lead & Relate", "List-Id: Lead & Relax"},
		{"a changed To", "mary@example.com>", "eve@example.com>"},
		{"a changed body", "Try this week:", "Try this now:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := bytes.Replace(raw, []byte(tc.old), []byte(tc.new), 1)
			if bytes.Equal(changed, raw) {
				t.Fatalf("%q not found", tc.old)
			}
			if _, err := verify(t, changed, key); err == nil {
				t.Fatal("the signature still verifies")
			}
		})
	}
}

// brokenKey is an RSA key whose primes do not multiply to its modulus:
// signing with it fails, as a damaged key or a failing signer would.
func brokenKey() *rsa.PrivateKey {
	k := *testRSAKey()
	k.Precomputed = rsa.PrecomputedValues{}
	k.Primes = []*big.Int{k.Primes[0], new(big.Int).Add(k.Primes[1], big.NewInt(2))}
	return &k
}

func TestASigningErrorFailsTheSendRetryablyAndNothingGoesOutUnsigned(t *testing.T) {
	srv := smtptest.Start(t)
	dir := filepath.Join(t.TempDir(), "outbox")
	for _, dest := range destinations(srv) {
		t.Run(dest.name, func(t *testing.T) {
			tr := NewOpener(dest.cfg, dir, dkimOptions(brokenKey()))()
			defer tr.Close()
			_, err := tr.Send(context.Background(), lessonLike(t))
			if err == nil || !strings.Contains(err.Error(), "DKIM") {
				t.Fatalf("err = %v, want a DKIM signing error", err)
			}
			if k := Classify(err).Kind; k != Retry {
				t.Fatalf("classified %v, want retry", k)
			}
			entries, _ := os.ReadDir(dir)
			if srv.Accepted() != 0 || len(entries) != 0 {
				t.Fatalf("%d accepted, outbox %v: something went out", srv.Accepted(), entries)
			}
		})
	}
	// Signing comes before the SMTP transaction, so the failure left
	// nothing behind; the same server takes the next message, signed with
	// a good key.
	tr := NewOpener(srv.Config(), "", dkimOptions(testRSAKey()))()
	defer tr.Close()
	if _, err := tr.Send(context.Background(), lessonLike(t)); err != nil || srv.Accepted() != 1 {
		t.Fatalf("after the failure: %v, %d accepted", err, srv.Accepted())
	}
	if _, err := verify(t, srv.Messages()[0].Raw, testRSAKey()); err != nil {
		t.Fatal(err)
	}
}

func TestWithoutDKIMConfiguredNothingIsSigned(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewOpener(nil, dir, DefaultOptions)().Send(context.Background(), lessonLike(t)); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	raw, _ := os.ReadFile(files[0])
	if bytes.Contains(raw, []byte("DKIM-Signature")) {
		t.Fatal("signed without DKIM configured")
	}
}
