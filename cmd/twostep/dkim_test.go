package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/smtptest"
)

// keygen runs `twostep dkim keygen --type typ` for s1._domainkey.twostep.example
// and returns the key file and what it printed.
func keygen(t *testing.T, typ string) (path, stdout string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "dkim.pem")
	vars := map[string]string{"DKIM_DOMAIN": "twostep.example", "DKIM_SELECTOR": "s1"}
	code, stdout, stderr := runCmd(t, vars, "dkim", "keygen", "--type", typ, "--out", path)
	if code != 0 {
		t.Fatalf("dkim keygen --type %s: exit %d: %s", typ, code, stderr)
	}
	return path, stdout
}

// printedRecord is the record value keygen printed on its last line.
func printedRecord(t *testing.T, stdout string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	rec := lines[len(lines)-1]
	if !strings.HasPrefix(rec, "v=DKIM1; k=") {
		t.Fatalf("no record value at the end of\n%s", stdout)
	}
	return rec
}

func TestDKIMKeygenWritesAKeyOnlyItsOwnerCanReadAndPrintsTheRecordForIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ typ, k string }{{"rsa", "k=rsa"}, {"ed25519", "k=ed25519"}} {
		path, stdout := keygen(t, tc.typ)
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: key file %v, mode %v; want 0600", tc.typ, err, fi.Mode().Perm())
		}
		if !strings.Contains(stdout, "s1._domainkey.twostep.example. IN TXT ") {
			t.Fatalf("%s: no TXT record for s1._domainkey.twostep.example in\n%s", tc.typ, stdout)
		}
		// The file is what DKIM_PRIVATE_KEY_FILE loads, and the record
		// publishes that very key.
		c, err := config.Load(func(name string) string {
			return map[string]string{"DKIM_DOMAIN": "twostep.example", "DKIM_SELECTOR": "s1", "DKIM_PRIVATE_KEY_FILE": path}[name]
		})
		if err != nil {
			t.Fatalf("%s: the written key does not load: %v", tc.typ, err)
		}
		want, _ := mail.DKIMRecord(c.DKIM.Key)
		if got := printedRecord(t, stdout); got != want || !strings.Contains(got, tc.k) {
			t.Fatalf("%s: printed record %q, want %q", tc.typ, got, want)
		}
		// In zone-file form every character-string fits DNS's 255 bytes.
		zone := stdout[strings.Index(stdout, "IN TXT ")+7:]
		zone = zone[:strings.Index(zone, "\n")]
		joined := ""
		for _, part := range strings.Split(zone, `"`)[1:] {
			if strings.Trim(part, " ()") == "" {
				continue
			}
			if len(part) > 255 {
				t.Fatalf("%s: a TXT string of %d bytes", tc.typ, len(part))
			}
			joined += part
		}
		if joined != want {
			t.Fatalf("%s: zone-file strings join to %q, want %q", tc.typ, joined, want)
		}
	}
}

func TestDKIMKeygenNeverReplacesAKeyAndRefusesAnUnknownType(t *testing.T) {
	t.Parallel()
	path, _ := keygen(t, "ed25519")
	before, _ := os.ReadFile(path)
	code, _, stderr := runCmd(t, nil, "dkim", "keygen", "--out", path)
	after, _ := os.ReadFile(path)
	if code == 0 || !strings.Contains(stderr, "already exists") || !bytes.Equal(before, after) {
		t.Fatalf("keygen over an existing key: exit %d, %q; file changed: %v", code, stderr, !bytes.Equal(before, after))
	}
	for _, args := range [][]string{{"dkim", "keygen", "--type", "dsa"}, {"dkim"}, {"dkim", "rotate"}, {"dkim", "keygen", "extra"}} {
		if code, _, _ := runCmd(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestAnIncompleteOrBadDKIMSettingExitsWithStatus2NamingTheVariable(t *testing.T) {
	t.Parallel()
	good, _ := keygen(t, "ed25519")
	notKey := filepath.Join(t.TempDir(), "cert.pem")
	os.WriteFile(notKey, []byte("-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n"), 0o600)
	for _, tc := range []struct {
		vars    map[string]string
		wantVar string
	}{
		{map[string]string{"DKIM_DOMAIN": "twostep.example", "DKIM_PRIVATE_KEY_FILE": good}, "DKIM_SELECTOR"},
		{map[string]string{"DKIM_SELECTOR": "s1"}, "DKIM_DOMAIN"},
		{map[string]string{"DKIM_DOMAIN": "twostep.example", "DKIM_SELECTOR": "s1", "DKIM_PRIVATE_KEY_FILE": filepath.Join(t.TempDir(), "missing.pem")}, "DKIM_PRIVATE_KEY_FILE"},
		{map[string]string{"DKIM_DOMAIN": "twostep.example", "DKIM_SELECTOR": "s1", "DKIM_PRIVATE_KEY_FILE": notKey}, "DKIM_PRIVATE_KEY_FILE"},
	} {
		code, _, stderr := runCmd(t, tc.vars, "send")
		if code != 2 || !strings.HasPrefix(stderr, "twostep: "+tc.wantVar+": ") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %s named", tc.vars, code, stderr, tc.wantVar)
		}
	}
}

func TestSendSignsTheLessonWithTheConfiguredKeyAndItVerifies(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	sink := smtptest.Start(t)
	keyFile, printed := keygen(t, "rsa")
	vars := map[string]string{
		"DATABASE_URL": url, "SMTP_URL": "smtp://" + sink.Addr + "?tls=none",
		"DKIM_DOMAIN": "twostep.example", "DKIM_SELECTOR": "s1", "DKIM_PRIVATE_KEY_FILE": keyFile,
	}
	if code, _, stderr := runCmd(t, vars, "migrate"); code != 0 || strings.Contains(stderr, "DMARC") {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	// Signing for another domain than From's verifies, but DMARC ignores
	// it: the operator is told.
	other := map[string]string{}
	for k, v := range vars {
		other[k] = v
	}
	other["DKIM_DOMAIN"] = "elsewhere.example"
	if code, _, stderr := runCmd(t, other, "migrate"); code != 0 || !strings.Contains(stderr, "DMARC will not count") {
		t.Fatalf("migrate with DKIM_DOMAIN elsewhere: exit %d, no warning in %s", code, stderr)
	}
	addReader(t, url, "mary@example.com", `Mary O"Brien`, 1, "2026-03-02T08:00:00Z", "2026-03-01T08:00:00Z")
	if code, stdout, stderr := runCmd(t, vars, "send", "--now", "2026-03-02T08:00:30Z"); code != 0 || !strings.HasPrefix(stdout, "sent 1,") {
		t.Fatalf("send: exit %d, %q %s", code, stdout, stderr)
	}
	raw := sink.Messages()[0].Raw
	record := printedRecord(t, printed)
	lookup := func(name string) ([]string, error) {
		if name != "s1._domainkey.twostep.example" {
			return nil, errors.New("no record at " + name)
		}
		return []string{record}, nil
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("verify the lesson: %v %+v\n%s", err, vs, raw)
	}
	signed := strings.ToLower(strings.Join(vs[0].HeaderKeys, ":"))
	for _, h := range []string{"from", "to", "subject", "list-unsubscribe", "list-unsubscribe-post"} {
		if !strings.Contains(":"+signed+":", ":"+h+":") {
			t.Errorf("%s is not signed: h=%s", h, signed)
		}
	}
	// A relay or attacker pointing the unsubscribe link elsewhere breaks it.
	head := raw[:bytes.Index(raw, []byte("\r\n\r\n"))]
	if !bytes.Contains(head, []byte("/unsubscribe/")) {
		t.Fatalf("no List-Unsubscribe link in\n%s", head)
	}
	forged := bytes.Replace(raw, []byte("/unsubscribe/"), []byte("/unsubscribe/x"), 1)
	vs, err = dkim.VerifyWithOptions(bytes.NewReader(forged), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil || len(vs) != 1 || vs[0].Err == nil {
		t.Fatalf("a changed List-Unsubscribe still verifies: %v %+v", err, vs)
	}
}
