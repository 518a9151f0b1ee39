package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/smtptest"
)

// binary is the twostep executable built once for the whole package, so
// the tests see exactly what an operator runs: exit statuses, signals,
// stderr.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "twostep-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "create build folder:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "twostep")
	code := 1
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
	} else {
		code = dbtest.Run(m)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one running twostep process.
type proc struct {
	args           []string
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{} // closed when the process has exited
}

// startCmd runs twostep with args in dir. The environment holds only vars,
// plus what the child needs to reach the same PostgreSQL as the test
// (PG* variables, HOME for .pgpass), so the developer's own DATABASE_URL or
// SMTP_URL never leak in. The process is killed when the test ends, and its
// stderr logged if the test failed.
func startCmd(t testing.TB, dir string, vars map[string]string, args ...string) *proc {
	t.Helper()
	return startBin(t, binary, dir, vars, args...)
}

// startBin is startCmd running the executable bin instead of the one built
// from this tree.
func startBin(t testing.TB, bin, dir string, vars map[string]string, args ...string) *proc {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "PATH" || name == "HOME" || name == "TMPDIR" || strings.HasPrefix(name, "PG") {
			env = append(env, kv)
		}
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	p := &proc{args: args, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start twostep %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		_ = p.cmd.Wait() // the status is read from ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("twostep %s stderr:\n%s", strings.Join(args, " "), p.stderr.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait returns the exit status, failing the test if the process is still
// running after d. A death by signal is -1.
func (p *proc) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("twostep %s still running after %s", strings.Join(p.args, " "), d)
		return 0
	}
}

// runCmd runs twostep to completion in a temporary folder.
func runCmd(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := startCmd(t, t.TempDir(), vars, args...)
	code = p.wait(t, time.Minute)
	return code, p.stdout.String(), p.stderr.String()
}

func TestABadConfigValueExitsWithStatus2AndOneLineNamingTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		variable, value string
	}{
		{"SMTP_MAX_CONNS", "abc"},
		{"SIGNUP_RATE_LIMIT", "-1"},
		{"SMTP_RATE", "-2"},
		{"DATABASE_URL", "mysql://localhost/twostep"},
		{"BASE_URL", "localhost:8080"},
		{"SMTP_URL", "smtp://mail.example.com?tls=ssl"},
		{"SEND_SCHEDULE", "every minute"},
	}
	for _, tt := range tests {
		t.Run(tt.variable+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCmd(t, map[string]string{tt.variable: tt.value}, "serve")
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "twostep: "+tt.variable+": ") {
				t.Errorf("stderr = %q, want one line starting %q", stderr, "twostep: "+tt.variable+": ")
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestAMissingOrUnknownCommandExitsWithStatus2AndPrintsTheUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantLast string
	}{
		{"an unknown command", []string{"frobnicate"}, `twostep: unknown command "frobnicate"`},
		{"no command at all", nil, "twostep: no command given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runCmd(t, nil, tt.args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if !strings.HasPrefix(stderr, "usage: twostep") || lines[len(lines)-1] != tt.wantLast {
				t.Errorf("stderr = %q, want the usage and then %q", stderr, tt.wantLast)
			}
		})
	}
}

// dbState is what migrate may change in a database.
type dbState struct {
	GooseRows, GooseVersions, MaxVersion int64
	Revisions, RevisedLessons, Lessons   int64
	SecretKey                            string
}

func state(t *testing.T, dbURL string) dbState {
	t.Helper()
	var s dbState
	err := connect(t, dbURL).QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM goose_db_version),
		       (SELECT count(DISTINCT version_id) FROM goose_db_version),
		       (SELECT max(version_id) FROM goose_db_version),
		       (SELECT count(*) FROM lesson_revisions),
		       (SELECT count(DISTINCT lesson) FROM lesson_revisions),
		       (SELECT count(*) FROM lessons),
		       (SELECT coalesce(max(value), '') FROM settings WHERE key = 'secret_key')`).
		Scan(&s.GooseRows, &s.GooseVersions, &s.MaxVersion, &s.Revisions, &s.RevisedLessons, &s.Lessons, &s.SecretKey)
	if err != nil {
		t.Fatalf("read database state: %v", err)
	}
	return s
}

// withDatabase is dbURL pointing at database name on the same server.
func withDatabase(t *testing.T, dbURL, name string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// absentDatabase returns the URL of a database that does not exist yet on
// the test server, dropped (if created) when the test ends, and the URL of
// a database to run administrative statements from.
func absentDatabase(t *testing.T) (dbURL, adminURL string) {
	t.Helper()
	adminURL = dbtest.URL(t)
	var b [6]byte
	rand.Read(b[:])
	name := "twostep_cmd_test_" + hex.EncodeToString(b[:])
	// Registered after dbtest's, so it runs first, while adminURL exists.
	t.Cleanup(func() { sql(t, adminURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return withDatabase(t, adminURL, name), adminURL
}

func sql(t *testing.T, dbURL, stmt string, args ...any) (n int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx) // not connect: sql also runs in Cleanup
	if strings.HasPrefix(stmt, "SELECT") {
		err = conn.QueryRow(ctx, stmt, args...).Scan(&n)
	} else {
		_, err = conn.Exec(ctx, stmt, args...)
	}
	if err != nil {
		t.Errorf("%s: %v", stmt, err)
	}
	return n
}

// addReader inserts an active reader, in UTC on Mondays at 8, who signed
// up and confirmed at since, on lesson, due at due: the subscriber and
// their schedule row (migration 00016), in one statement.
func addReader(t *testing.T, dbURL, email, name string, lesson int, due, since string) {
	t.Helper()
	sql(t, dbURL, `
		WITH s AS (
			INSERT INTO subscribers (email, name, status, time_zone, send_weekday, send_hour, consent_at, confirmed_at)
			VALUES ($1, $2, 'active', 'UTC', 1, 8, $5::timestamptz, $5::timestamptz) RETURNING id, status
		)
		INSERT INTO schedule (subscriber_id, lesson, due_at, active) SELECT id, $3::int, $4::timestamptz, status = 'active' FROM s`,
		email, name, lesson, due, since)
}

func TestMigrateRunTwiceSucceedsAndTheSecondRunChangesNothing(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t)
	env := map[string]string{"DATABASE_URL": dbURL}

	code, stdout, _ := runCmd(t, env, "migrate")
	if code != 0 || !strings.Contains(stdout, "database is up to date") {
		t.Fatalf("first migrate: exit status %d, stdout %q", code, stdout)
	}
	first := state(t, dbURL)
	if first.GooseRows == 0 || first.Revisions == 0 || first.Lessons == 0 || first.SecretKey == "" {
		t.Fatalf("first migrate left %+v: want migrations, imported lessons and a secret key", first)
	}

	if code, stdout, _ := runCmd(t, env, "migrate"); code != 0 || !strings.Contains(stdout, "database is up to date") {
		t.Fatalf("second migrate: exit status %d, stdout %q", code, stdout)
	}
	if second := state(t, dbURL); second != first {
		t.Fatalf("second migrate changed the database:\nbefore %+v\nafter  %+v", first, second)
	}
}

func TestTwoMigrationsStartedAtOnceOnANewDatabaseBothSucceed(t *testing.T) {
	t.Parallel()
	dbURL, adminURL := absentDatabase(t)
	name := strings.TrimPrefix(mustPath(t, dbURL), "/")
	// A plain CREATE DATABASE, not a copy of dbtest's migrated template, so
	// both processes really have every migration to apply.
	sql(t, adminURL, "CREATE DATABASE "+name)
	migrateTwoAtOnce(t, dbURL, dbURL, adminURL, name, nil)
}

// migrateTwoAtOnce runs two `migrate` through via on the new, empty
// database name at direct (via is direct, or a way through PgBouncer), and
// checks that each migration was applied once and each lesson imported
// once. clients is as for waitAtGate.
//
// Left alone, one process usually finishes the migrations before the other
// has started. So it holds the first table of the first migration open in
// a transaction on a direct connection: whoever gets that far waits there,
// and both are let go together.
func migrateTwoAtOnce(t *testing.T, direct, via, adminURL, name string, clients func() []string) {
	t.Helper()
	ctx := context.Background()
	tx, err := connect(t, direct).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "CREATE TABLE "+firstTable(t)+" (gate int)"); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	a := startCmd(t, dir, map[string]string{"DATABASE_URL": withApplicationName(t, via, "migrate-a")}, "migrate")
	b := startCmd(t, dir, map[string]string{"DATABASE_URL": withApplicationName(t, via, "migrate-b")}, "migrate")
	waitAtGate(t, adminURL, name, a, b, clients)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	if ca, cb := a.wait(t, time.Minute), b.wait(t, time.Minute); ca != 0 || cb != 0 {
		t.Fatalf("exit statuses %d and %d, want 0 and 0", ca, cb)
	}
	got, want := state(t, direct), state(t, adminURL) // adminURL is fully migrated by dbtest
	if got.GooseRows != want.GooseRows || got.GooseVersions != got.GooseRows || got.MaxVersion != want.MaxVersion {
		t.Errorf("goose_db_version: %d rows, %d versions, latest %d; want %d rows, each once, latest %d",
			got.GooseRows, got.GooseVersions, got.MaxVersion, want.GooseRows, want.MaxVersion)
	}
	if got.Revisions == 0 || got.Revisions != got.RevisedLessons || got.Lessons != got.RevisedLessons {
		t.Errorf("%d lesson revisions for %d lessons (%d in lessons): want exactly one each", got.Revisions, got.RevisedLessons, got.Lessons)
	}
}

// withApplicationName names the connections made through dbURL, so
// pg_stat_activity tells the processes apart.
func withApplicationName(t *testing.T, dbURL, name string) string {
	t.Helper()
	return withQueryParam(t, dbURL, "application_name", name)
}

// withQueryParam is dbURL with the query parameter key set to value.
func withQueryParam(t *testing.T, dbURL, key, value string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// firstTable is the first table the first migration creates.
func firstTable(t *testing.T) string {
	t.Helper()
	files, err := fs.Glob(twostep.Migrations, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	src, err := fs.ReadFile(twostep.Migrations, files[0])
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?i)CREATE TABLE\s+(?:IF NOT EXISTS\s+)?([a-z_][a-z0-9_]*)`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("%s creates no table", files[0])
	}
	return string(m[1])
}

// waitAtGate waits until both migrate processes are connected to database
// name and are stuck at the gate. With the migration lock working only the
// holder of the lock reaches the gate while the other retries the lock, so
// one waiter is enough once it has waited a second. clients, when not nil,
// gives the application_name of each connection the processes hold (through
// PgBouncer, a process waiting for a server connection has none in
// pg_stat_activity).
func waitAtGate(t *testing.T, adminURL, name string, a, b *proc, clients func() []string) {
	t.Helper()
	conn := connect(t, adminURL)
	deadline := time.Now().Add(30 * time.Second)
	var oneSince time.Time
	for {
		var names []string
		var waiting int
		err := conn.QueryRow(context.Background(), `
			SELECT coalesce(array_agg(application_name), '{}'), count(*) FILTER (WHERE wait_event_type = 'Lock')
			FROM pg_stat_activity WHERE datname = $1`, name).Scan(&names, &waiting)
		if err != nil {
			t.Fatal(err)
		}
		if clients != nil {
			names = clients()
		}
		seen := map[string]bool{}
		for _, n := range names {
			if n == "migrate-a" || n == "migrate-b" {
				seen[n] = true
			}
		}
		apps := len(seen)
		switch {
		case a.exited() || b.exited():
			return // the exit statuses tell what went wrong
		case apps == 2 && waiting >= 2:
			return
		case apps == 2 && waiting == 1:
			if oneSince.IsZero() {
				oneSince = time.Now()
			} else if time.Since(oneSince) > time.Second {
				return
			}
		default:
			oneSince = time.Time{}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the migrate processes did not reach the gate within 30s (%d connected, %d waiting)", apps, waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustPath(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

func TestMigrateCreatesTheDatabaseWhenItIsMissing(t *testing.T) {
	t.Parallel()
	dbURL, adminURL := absentDatabase(t)
	name := strings.TrimPrefix(mustPath(t, dbURL), "/")

	if code, _, stderr := runCmd(t, map[string]string{"DATABASE_URL": dbURL}, "migrate"); code != 0 {
		t.Fatalf("migrate: exit status %d\n%s", code, stderr)
	}
	if n := sql(t, adminURL, "SELECT count(*) FROM pg_database WHERE datname = $1", name); n != 1 {
		t.Fatalf("database %s was not created", name)
	}
	if s := state(t, dbURL); s.GooseRows == 0 || s.Revisions == 0 {
		t.Fatalf("created database is not migrated and synced: %+v", s)
	}
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// noRedirect shows the tests the 303s themselves.
var noRedirect = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// startServe starts `twostep serve` in dir, on a fresh database unless vars
// has a DATABASE_URL, and waits until /readyz answers 200. It returns the
// process and its base URL.
func startServe(t testing.TB, dir string, vars map[string]string) (*proc, string) {
	t.Helper()
	return serveBin(t, binary, dir, vars)
}

// serveBin is startServe running the executable bin.
func serveBin(t testing.TB, bin, dir string, vars map[string]string) (*proc, string) {
	t.Helper()
	addr := freeAddr(t)
	base := "http://" + addr
	if vars["DATABASE_URL"] == "" {
		vars["DATABASE_URL"] = dbtest.URL(t)
	}
	vars["LISTEN_ADDR"] = addr
	vars["BASE_URL"] = base
	p := startBin(t, bin, dir, vars, "serve")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p.exited() {
			t.Fatalf("serve exited with status %d before it was ready", p.cmd.ProcessState.ExitCode())
		}
		resp, err := noRedirect.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not answer 200 within 30s (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func subscribe(t *testing.T, base, email string) {
	t.Helper()
	form := url.Values{"email": {email}, "name": {"Ann Lee"}, "tz": {"Europe/Berlin"}, "website": {""}}
	resp, err := noRedirect.PostForm(base+"/subscribe", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /subscribe = %d, want 303", resp.StatusCode)
	}
}

// terminate sends SIGTERM and wants a clean exit within 10 s.
func terminate(t testing.TB, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("after SIGTERM serve exited with status %d, want 0", code)
	}
}

func TestServeSendsTheConfirmationOverSMTPWithinSecondsAndExitsCleanlyOnSIGTERM(t *testing.T) {
	t.Parallel()
	smtp := smtptest.Start(t)
	p, base := startServe(t, t.TempDir(), map[string]string{"SMTP_URL": "smtp://" + smtp.Addr + "?tls=none", "SEND_SCHEDULE": "@every 1s"})

	hc := exec.Command(binary, "healthcheck")
	hc.Env = []string{"LISTEN_ADDR=" + strings.TrimPrefix(base, "http://"), "PATH=" + os.Getenv("PATH")}
	if out, err := hc.CombinedOutput(); err != nil {
		t.Fatalf("healthcheck against a ready server: %v %s", err, out)
	}

	subscribe(t, base, "ann@example.com")
	if !smtp.WaitFor(1, 15*time.Second) {
		t.Fatal("the SMTP server received no confirmation within 15s of the signup")
	}
	m := smtp.Messages()[0]
	if !slices.Equal(m.To, []string{"ann@example.com"}) || !strings.Contains(m.Text(), base+"/confirm/") {
		t.Fatalf("confirmation went to %v with text:\n%s\nwant ann@example.com and a link to %s/confirm/…", m.To, m.Text(), base)
	}
	// Confirm: lesson 1 comes on the next delivery pass.
	confirm := regexp.MustCompile(regexp.QuoteMeta(base) + `/confirm/[A-Za-z0-9_-]+`).FindString(m.Text())
	resp, err := noRedirect.Post(confirm, "application/x-www-form-urlencoded", nil)
	// POST-redirect-GET: a 303 to the welcome page.
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %v %v", resp, err)
	}
	resp.Body.Close()
	if !smtp.WaitFor(2, 15*time.Second) {
		t.Fatal("lesson 1 did not arrive within 15s of confirming")
	}
	if got := smtp.Messages()[1].Header.Get("X-Twostep-Lesson"); got != "1" {
		t.Fatalf("second message is lesson %q, want 1", got)
	}
	terminate(t, p)
}

func TestServeWithoutSMTPWritesTheConfirmationIntoTheOutboxFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, base := startServe(t, dir, map[string]string{})

	subscribe(t, base, "bob@example.com")
	deadline := time.Now().Add(15 * time.Second)
	var files []string
	for len(files) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no .eml file in ./outbox within 15s of the signup")
		}
		time.Sleep(50 * time.Millisecond)
		files, _ = filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("bob@example.com")) || !bytes.Contains(raw, []byte("/confirm/")) {
		t.Fatalf("%s is not the confirmation for bob@example.com:\n%s", files[0], raw)
	}
	terminate(t, p)
}

func TestHealthcheckFailsWithNoServerListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(binary, "healthcheck")
	cmd.Env = []string{"LISTEN_ADDR=:" + strconv.Itoa(port), "PATH=" + os.Getenv("PATH")}
	if err := cmd.Run(); err == nil {
		t.Fatal("healthcheck passed with nothing listening")
	}
}
