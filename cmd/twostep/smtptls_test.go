package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/smtptest"
)

// TestSendOverImplicitTLSToAPrivateCATrustedBySSLCertFile is the README's
// recipe run as an operator would: a relay on port-465 style TLS with a
// certificate from the operator's own CA, a login, and SSL_CERT_FILE.
func TestSendOverImplicitTLSToAPrivateCATrustedBySSLCertFile(t *testing.T) {
	t.Parallel()
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, "127.0.0.1")
	const user, pass = "relay+lessons@twostep.example", "p@ss/w+rd"
	sink := smtptest.StartWith(t, smtptest.Options{TLS: "tls", Cert: &cert, Users: map[string]string{user: pass}})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	dbURL := dbtest.URL(t)
	smtpURL := func(password string) string {
		return "smtps://" + url.UserPassword(user, password).String() + "@" + sink.Addr
	}
	vars := map[string]string{"DATABASE_URL": dbURL, "SMTP_URL": smtpURL(pass), "SSL_CERT_FILE": caFile}
	if code, _, stderr := runCmd(t, vars, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	addReader(t, dbURL, "ann@example.com", "", 1, "2026-03-02T08:00:00Z", "2026-03-01T08:00:00Z")
	// Each refusal schedules a retry minutes later; each run is past it.
	runs := []string{"2026-03-02T08:00:30Z", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"}

	// Without SSL_CERT_FILE the CA is unknown: refused, and the error says
	// what to do.
	untrusted := map[string]string{"DATABASE_URL": dbURL, "SMTP_URL": smtpURL(pass)}
	if code, _, stderr := runCmd(t, untrusted, "send", "--now", runs[0]); code == 0 || !strings.Contains(stderr, "SSL_CERT_FILE") {
		t.Fatalf("without SSL_CERT_FILE: exit %d, %s", code, stderr)
	}
	// A wrong password: a clear error, and the lesson stays due.
	wrong := map[string]string{"DATABASE_URL": dbURL, "SMTP_URL": smtpURL("wrong"), "SSL_CERT_FILE": caFile}
	if code, _, stderr := runCmd(t, wrong, "send", "--now", runs[1]); code == 0 || !strings.Contains(stderr, "refused our login") {
		t.Fatalf("with a wrong password: exit %d, %s", code, stderr)
	}
	if sink.Accepted() != 0 || sql(t, dbURL, `SELECT count(*) FROM schedule WHERE lesson = 1`) != 1 {
		t.Fatalf("after the refusals: %d accepted; the reader moved on", sink.Accepted())
	}
	code, stdout, stderr := runCmd(t, vars, "send", "--now", runs[2])
	if code != 0 || !strings.HasPrefix(stdout, "sent 1,") {
		t.Fatalf("with SSL_CERT_FILE: exit %d, %q %s", code, stdout, stderr)
	}
	if m := sink.Messages(); len(m) != 1 || !m[0].TLS || m[0].User != user {
		t.Fatalf("server got %+v, want one message over TLS from %s", m, user)
	}
}
