package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/dbtest"
)

func TestSubscribersImportReportsBadRowsImportsTheRestAndIsIdempotent(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	vars := map[string]string{"DATABASE_URL": url}
	csv := filepath.Join(t.TempDir(), "people.csv")
	os.WriteFile(csv, []byte("email,name,tz,next_lesson,confirmed_at\n"+
		"ann@example.com,Ann,Europe/Berlin,3,2026-01-05T09:00:00Z\n"+
		"not-an-address,Bob,UTC,1,\n"+
		"cy@example.com,Cy,UTC,99,\n"+
		"dee@example.com,Dee,,1,2026-01-05\n"), 0o644)

	code, stdout, stderr := runCmd(t, vars, "subscribers", "import", csv)
	if code != 1 {
		t.Fatalf("import with bad rows: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"people.csv:3: ", "people.csv:4: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	count := func() (n int) {
		conn.QueryRow(context.Background(), `SELECT count(*) FROM subscribers WHERE status = 'active' AND consent_method = 'import'`).Scan(&n)
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("%d imported, want the 2 valid rows", n)
	}
	runCmd(t, vars, "subscribers", "import", csv)
	if n := count(); n != 2 {
		t.Fatalf("importing again changed the count to %d", n)
	}
	code, out, stderr := runCmd(t, vars, "subscribers", "export")
	if code != 0 || !strings.HasPrefix(out, "email,name,status,tz,") || !strings.Contains(out, "ann@example.com") {
		t.Fatalf("export: exit %d\n%s%s", code, out, stderr)
	}
}

func TestSubscribersImportRefusesRowsWithoutConsentUnlessConfirmAsksThem(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	vars := map[string]string{"DATABASE_URL": url}
	csv := filepath.Join(t.TempDir(), "list.csv")
	os.WriteFile(csv, []byte("email,name\nann@example.com,Ann\nbob@example.com,Bob\n"), 0o644)

	code, stdout, stderr := runCmd(t, vars, "subscribers", "import", csv)
	if code != 1 || !strings.Contains(stderr, "list.csv:2: no consent record") || !strings.Contains(stderr, "list.csv:3: no consent record") {
		t.Fatalf("import without --confirm: exit %d, want 1 and each row refused\n%s%s", code, stdout, stderr)
	}
	if n := sql(t, url, `SELECT count(*) FROM subscribers`); n != 0 {
		t.Fatalf("%d subscribers imported without consent", n)
	}

	code, stdout, stderr = runCmd(t, vars, "subscribers", "import", "--confirm", csv)
	if code != 0 || !strings.Contains(stdout, "2 asked to confirm") {
		t.Fatalf("import --confirm: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := sql(t, url, `SELECT count(*) FROM subscribers s JOIN outbox o ON o.subscriber_id = s.id
		WHERE s.status = 'pending' AND o.kind = 'confirm' AND o.status = 'pending'`); n != 2 {
		t.Fatalf("%d pending subscribers with a queued confirmation, want 2", n)
	}
	if code, _, stderr := runCmd(t, vars, "subscribers", "import", csv, "--bogus"); code != 2 || !strings.Contains(stderr, "--bogus") {
		t.Fatalf("an unknown flag: exit %d, want 2\n%s", code, stderr)
	}
}
