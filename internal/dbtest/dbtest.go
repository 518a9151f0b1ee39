// Package dbtest gives each test its own freshly migrated PostgreSQL
// database, dropped when the test ends.
//
// The server comes from TEST_DATABASE_URL, else the local server
// (postgres://postgres@127.0.0.1:5432). Where none answers but initdb and
// pg_ctl are installed, a throwaway cluster is started in a temporary folder
// and stopped by Main. Otherwise the test fails saying how to get one.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/store"
)

const localURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// server is the URL of the maintenance database of the server tests use,
// found once per test binary.
type server struct {
	once    sync.Once
	url     string
	err     error
	cleanup func()
}

var srv server

// Main runs the package's tests, stops a throwaway cluster if one was
// started, and exits. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without the exit, for a TestMain with its own clean-up.
func Run(m *testing.M) int {
	code := m.Run()
	if srv.cleanup != nil {
		srv.cleanup()
	}
	return code
}

func (s *server) get() (string, error) {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
			s.url, s.err = u, ping(ctx, u)
			return
		}
		if ping(ctx, localURL) == nil {
			s.url = localURL
			return
		}
		s.url, s.cleanup, s.err = startCluster()
	})
	return s.url, s.err
}

func ping(ctx context.Context, u string) error {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// startCluster runs initdb and pg_ctl in a temporary folder.
func startCluster() (string, func(), error) {
	initdb, err1 := exec.LookPath("initdb")
	pgctl, err2 := exec.LookPath("pg_ctl")
	if err1 != nil || err2 != nil {
		return "", nil, fmt.Errorf("no PostgreSQL answers at %s and initdb/pg_ctl are not installed: "+
			"set TEST_DATABASE_URL, start a local server, or install PostgreSQL (apt-get install postgresql)", localURL)
	}
	dir, err := os.MkdirTemp("", "twostep-pg-")
	if err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(initdb, "-D", data, "-U", "postgres", "--auth=trust").CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := "-p " + strconv.Itoa(port) + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=off"
	if out, err := exec.Command(pgctl, "-D", data, "-o", opts, "-w", "-l", filepath.Join(dir, "log"), "start").CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	stop := func() {
		exec.Command(pgctl, "-D", data, "-m", "immediate", "stop").Run()
		os.RemoveAll(dir)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), stop, nil
}

// URL creates a fresh migrated database for tb and returns its URL; the
// database is dropped when tb ends.
func URL(tb testing.TB) string {
	tb.Helper()
	base, err := srv.get()
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	ctx := context.Background()
	tmpl, err := template(ctx, base)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	return create(tb, base, "TEMPLATE "+tmpl)
}

// EmptyURL creates a fresh database with no tables for tb and returns its
// URL, for a twostep built at another commit to migrate itself; the
// database is dropped when tb ends.
func EmptyURL(tb testing.TB) string {
	tb.Helper()
	base, err := srv.get()
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	return create(tb, base, "TEMPLATE template0")
}

// create makes a database on the server at base, CREATE DATABASE … opts,
// dropped when tb ends.
func create(tb testing.TB, base, opts string) string {
	tb.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "twostep_test_" + hex.EncodeToString(b[:])
	if err := exec1(context.Background(), base, "CREATE DATABASE "+name+" "+opts); err != nil {
		tb.Fatalf("dbtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		_ = exec1(context.Background(), base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDatabase(base, name)
}

// New returns a store over a fresh migrated database for tb.
func New(tb testing.TB) *store.DB {
	tb.Helper()
	return Open(tb, URL(tb))
}

// WithConns is the database URL raw with a pool of at most conns
// connections (pgx's pool_max_conns).
func WithConns(tb testing.TB, raw string, conns int) string {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(conns))
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a store over the database at url, closed when tb ends.
func Open(tb testing.TB, url string) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	tb.Cleanup(db.Close)
	return db
}

// template returns a database with every migration applied, created once
// per set of migration files and shared by all test binaries through
// CREATE DATABASE … TEMPLATE, which copies it far faster than migrating.
func template(ctx context.Context, base string) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(twostep.Migrations, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(twostep.Migrations, p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	name := "twostep_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	// Parallel test binaries take turns building the template.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7421)"); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(7421)")
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	build := name + "_build"
	conn.Exec(ctx, "DROP DATABASE IF EXISTS "+build+" WITH (FORCE)")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+build); err != nil {
		return "", err
	}
	db, err := store.Open(ctx, withDatabase(base, build))
	if err != nil {
		return "", err
	}
	err = db.Migrate(ctx, twostep.Migrations, slog.New(slog.DiscardHandler))
	db.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+build+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}

func exec1(ctx context.Context, base, sql string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func withDatabase(base, name string) string {
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}
