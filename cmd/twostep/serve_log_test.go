package main

import (
	"strings"
	"testing"
)

func TestServeLogsWhereToSignInToTheAdmin(t *testing.T) {
	t.Parallel()
	p, base := startServe(t, t.TempDir(), map[string]string{
		"ADMIN_EMAIL": "owner@example.org", "ADMIN_PASSWORD": "a long passphrase",
	})
	terminate(t, p)
	if want := base + "/admin/login"; !strings.Contains(p.stderr.String(), want) {
		t.Errorf("serve's log does not name %s:\n%s", want, p.stderr.String())
	}
}
