package main

import (
	"bufio"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/smtptest"
	"github.com/twostep/twostep/internal/store"
)

var (
	benchDuration = flag.Duration("load-duration", 10*time.Second, "how long the external load generator runs")
	benchConns    = flag.Int("load-conns", 32, "concurrent connections of the external load generator")
)

// signupScript is wrk's Lua: every request a form post of a new address.
const signupScript = `
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
local run = ""
function init(args)
  run = args[1]
end
function request()
  n = n + 1
  local body = "email=" .. run .. "-" .. tid .. "-" .. n .. "%40bench.example&name=Bench+Reader&tz=Europe%2FBerlin&website="
  return wrk.format("POST", "/subscribe", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
`

// BenchmarkSignupExternal measures POST /subscribe the way a user would:
// `twostep serve` is its own process, with its confirmation outbox sending
// to an SMTP sink, and wrk, another process, posts new addresses over
// -load-conns keep-alive connections for -load-duration. The ceiling in the
// same run is pgbench, a third process, running store.SignupStatement (the
// one statement a signup is) at the same concurrency on a fresh database.
//
//	go test -run '^$' -bench BenchmarkSignupExternal -benchtime 1x ./cmd/twostep/
func BenchmarkSignupExternal(b *testing.B) {
	for _, tool := range []string{"wrk", "pgbench"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s is needed: apt-get install -y wrk postgresql-client", tool)
		}
	}
	sink := smtptest.Start(b)
	sink.Discard()
	dir := b.TempDir()
	script := filepath.Join(dir, "signup.lua")
	if err := os.WriteFile(script, []byte(signupScript), 0o600); err != nil {
		b.Fatal(err)
	}
	ceilingURL := dbtest.URL(b) // created before anything is timed
	for b.Loop() {
		vars := map[string]string{
			"SMTP_URL":          "smtp://" + sink.Addr + "?tls=none",
			"SIGNUP_RATE_LIMIT": "0",
			"SEND_SCHEDULE":     "@every 1h",
		}
		_, base := startServe(b, dir, vars)
		// A short warm-up: connections open, plans cached, as on a server
		// that has been up a while.
		warm := runWrk(b, script, base, "warm", 2*time.Second)
		w := runWrk(b, script, base, "run", *benchDuration)
		if w.errors+warm.errors > 0 {
			b.Fatalf("wrk saw %d non-2xx/3xx responses or socket errors", w.errors+warm.errors)
		}
		// Every answered request stored a signup: the server did the work.
		if n := countRows(b, vars["DATABASE_URL"], `SELECT count(*) FROM subscribers`); n < warm.requests+w.requests {
			b.Fatalf("%d requests answered, %d subscribers stored", warm.requests+w.requests, n)
		}
		p := runPgbench(b, ceilingURL, dir, *benchDuration)
		b.ReportMetric(w.rate, "signups/s")
		b.ReportMetric(w.p50, "p50-ms")
		b.ReportMetric(w.p99, "p99-ms")
		b.ReportMetric(p.rate, "ceiling-signups/s")
		b.ReportMetric(p.p50, "ceiling-p50-ms")
		b.ReportMetric(p.p99, "ceiling-p99-ms")
		b.ReportMetric(100*w.rate/p.rate, "pct-of-ceiling")
		b.Logf("signups %.0f/s p50 %.1f ms p99 %.1f ms; bare SQL (pgbench) %.0f/s p50 %.1f ms p99 %.1f ms; %.0f %% of the ceiling (%d conns, %s)",
			w.rate, w.p50, w.p99, p.rate, p.p50, p.p99, 100*w.rate/p.rate, *benchConns, *benchDuration)
	}
}

// load is what a load generator measured.
type load struct {
	rate, p50, p99 float64 // per second; milliseconds
	errors         int
	requests       int
}

var (
	wrkRate    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkPct     = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkCount   = regexp.MustCompile(`(\d+) requests in`)
	wrkErrors  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSockets = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// runWrk posts new addresses for d; run makes them unlike any other run's.
func runWrk(b *testing.B, script, base, run string, d time.Duration) load {
	b.Helper()
	out, err := exec.Command("wrk", "-t2", "-c"+strconv.Itoa(*benchConns), "-d"+d.String(), "--latency", "--timeout", "10s",
		"-s", script, base, "--", run).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	s := string(out)
	var l load
	m := wrkRate.FindStringSubmatch(s)
	if m == nil {
		b.Fatalf("wrk printed no rate:\n%s", s)
	}
	l.rate, _ = strconv.ParseFloat(m[1], 64)
	for _, m := range wrkPct.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if m[1] == "50" {
			l.p50 = v
		} else {
			l.p99 = v
		}
	}
	if m := wrkCount.FindStringSubmatch(s); m != nil {
		l.requests, _ = strconv.Atoi(m[1])
	}
	if l.p50 == 0 || l.p99 == 0 || l.requests == 0 {
		b.Fatalf("wrk printed no latency distribution or count:\n%s", s)
	}
	if m := wrkErrors.FindStringSubmatch(s); m != nil {
		l.errors, _ = strconv.Atoi(m[1])
	}
	if m := wrkSockets.FindStringSubmatch(s); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			l.errors += n
		}
	}
	return l
}

// runPgbench runs store.SignupStatement with pgbench at the same
// concurrency, prepared (as pgx runs it), for d.
func runPgbench(b *testing.B, dbURL, dir string, d time.Duration) load {
	b.Helper()
	vals := map[string]string{
		"1": "('p' || :n::text || '@bench.example')", "2": "'Bench Reader'", "3": "'Europe/Berlin'",
		"4": "now()", "5": "'127.0.0.1'", "6": "'twostep-bench/1'", "7": "'http://127.0.0.1/'", "8": "'bench'",
	}
	stmt := regexp.MustCompile(`\$(\d)`).ReplaceAllStringFunc(store.SignupStatement, func(p string) string { return vals[p[1:]] })
	// pgbench reads one statement per line.
	stmt = strings.Join(strings.Fields(stmt), " ")
	script := filepath.Join(dir, "signup.sql")
	if err := os.WriteFile(script, []byte("\\set n random(1, 9000000000000)\n"+stmt+";\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	logs := filepath.Join(dir, "pgbench")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("pgbench", "-n", "-M", "prepared", "-c", strconv.Itoa(*benchConns), "-j", "2",
		"-T", strconv.Itoa(int(d.Seconds())), "-f", script, "-l", "--log-prefix", filepath.Join(logs, "log"), dbURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`).FindStringSubmatch(string(out))
	if m == nil {
		b.Fatalf("pgbench printed no tps:\n%s", out)
	}
	var l load
	l.rate, _ = strconv.ParseFloat(m[1], 64)
	var lat []float64
	files, _ := filepath.Glob(filepath.Join(logs, "log*"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			// client_id transaction_no time_us script_no time_epoch time_us
			if fs := strings.Fields(sc.Text()); len(fs) >= 3 {
				us, _ := strconv.ParseFloat(fs[2], 64)
				lat = append(lat, us/1000)
			}
		}
		fh.Close()
	}
	if len(lat) == 0 {
		b.Fatal("pgbench wrote no per-transaction log")
	}
	slices.Sort(lat)
	l.p50, l.p99 = lat[len(lat)*50/100], lat[len(lat)*99/100]
	// Every transaction stored its rows: the ceiling did the same work.
	if n := countRows(b, dbURL, `SELECT count(*) FROM outbox`); n < len(lat)*99/100 {
		b.Fatalf("pgbench ran %d transactions but stored %d signups", len(lat), n)
	}
	return l
}

func countRows(b *testing.B, dbURL, query string) int {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

