package dbtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Bouncer is a running PgBouncer.
type Bouncer struct {
	// URL is the dbURL given to PgBouncer, through it.
	URL   string
	admin string // its admin console
}

// PgBouncer starts a real PgBouncer (Debian's pgbouncer) in transaction
// pooling mode in front of the server dbURL is on; its URL is dbURL with
// the host and port changed to PgBouncer's: same database, same query. It
// serves any database of that server with one server connection per
// database, which it lends to transaction after transaction of different
// clients, as in production but without luck: anything that leaves state
// on a server connection between transactions (a named prepared statement,
// a session advisory lock) is met by the next client. It is stopped when
// tb ends.
//
// A test that needs it fails, saying how to install it, when pgbouncer is
// not on PATH (nor in /usr/sbin): never a silent skip.
func PgBouncer(tb testing.TB, dbURL string) *Bouncer {
	tb.Helper()
	bin, err := pgBouncerBinary()
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	target, err := pgconn.ParseConfig(dbURL)
	if err != nil {
		tb.Fatalf("dbtest: parse %s: %v", dbURL, err)
	}
	dir := tb.TempDir()
	port, err := freePort()
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	server := fmt.Sprintf("host=%s port=%d user=%s", target.Host, target.Port, target.User)
	if target.Password != "" {
		server += " password=" + target.Password
	}
	// auth_type = any: clients are not authenticated, and every server
	// login is as the test server's role, like the trust auth of the test
	// server itself. The test server's role may use the admin console.
	ini := "[databases]\n* = " + server + "\n\n[pgbouncer]\n" +
		"listen_addr = 127.0.0.1\n" +
		"listen_port = " + strconv.Itoa(port) + "\n" +
		"unix_socket_dir =\n" +
		"auth_type = any\n" +
		"pool_mode = transaction\n" +
		"default_pool_size = 1\n" +
		"max_client_conn = 200\n" +
		"server_login_retry = 1\n" +
		"admin_users = " + target.User + "\n"
	conf := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(conf, []byte(ini), 0o600); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	args := []string{conf}
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root; it reads its configuration
		// before it switches user.
		args = []string{"-u", "nobody", conf}
	}
	cmd := exec.Command(bin, args...)
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("dbtest: start pgbouncer: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // its log says why it stopped
		close(done)
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // immediate shutdown
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if tb.Failed() {
			tb.Logf("pgbouncer log:\n%s", log.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			tb.Fatalf("dbtest: pgbouncer exited before it listened on %s:\n%s", addr, log.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("dbtest: pgbouncer did not listen on %s within 10s:\n%s", addr, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("dbtest: parse %s: %v", dbURL, err)
	}
	u.Host = addr
	admin := url.URL{Scheme: "postgres", User: url.User(target.User), Host: addr, Path: "/pgbouncer",
		RawQuery: "sslmode=disable&default_query_exec_mode=simple_protocol"}
	return &Bouncer{URL: u.String(), admin: admin.String()}
}

// Clients returns the application_name of each client connection to
// database that PgBouncer holds, whether or not it has been lent a server
// connection (PostgreSQL's pg_stat_activity shows only those that have).
func (b *Bouncer) Clients(ctx context.Context, database string) ([]string, error) {
	conn, err := pgx.Connect(ctx, b.admin)
	if err != nil {
		return nil, fmt.Errorf("connect to the pgbouncer console: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SHOW CLIENTS")
	if err != nil {
		return nil, fmt.Errorf("SHOW CLIENTS: %w", err)
	}
	defer rows.Close()
	col := map[string]int{}
	for i, f := range rows.FieldDescriptions() {
		col[f.Name] = i
	}
	db, okDB := col["database"]
	app, okApp := col["application_name"]
	if !okDB || !okApp {
		return nil, fmt.Errorf("SHOW CLIENTS has no database or application_name column")
	}
	var apps []string
	for rows.Next() {
		v := rows.RawValues()
		if string(v[db]) == database {
			apps = append(apps, string(v[app]))
		}
	}
	return apps, rows.Err()
}

// pgBouncerBinary finds pgbouncer: Debian installs it in /usr/sbin, which
// is not on every PATH.
func pgBouncerBinary() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer", nil
	}
	return "", fmt.Errorf("pgbouncer is not installed, and this test runs twostep through it: " +
		"apt-get install pgbouncer (.ci/run does)")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer is a bytes.Buffer that the process's output and the test may
// use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
