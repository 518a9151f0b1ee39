package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// wrkThreads is the start of each wrk script: every thread gets its number
// as the global tid, so the addresses it posts are its own.
const wrkThreads = `
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
`

// signupScript is wrk's Lua: every request a form post of a new address.
const signupScript = wrkThreads + `
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
// same run is pgbench, a third process, running store.SignupSQL (the
// one statement a signup is) at the same concurrency on a fresh database.
//
// Beside the rates it reports the CPU each part spent per signup: serve,
// serve's PostgreSQL backends, wrk, and this process (the SMTP sink); for
// the ceiling, pgbench's backends and pgbench. With -serve-profile, serve
// writes its Go CPU profile there; with -confirmations=false the outbox
// sends nothing (see the flag). With -twostep-bin it runs that executable
// instead of this tree's, so a build of another commit and this one can be
// measured alternately by the same wrk against the same ceiling.
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
	bin, newDB := binary, dbtest.URL
	if *twostepBin != "" {
		// Another commit's schema is not this one's: it migrates its own.
		bin, newDB = *twostepBin, dbtest.EmptyURL
	}
	for b.Loop() {
		arr := newArrivals(sink)
		dbURL := newDB(b)
		vars := map[string]string{
			"DATABASE_URL":      dbURL,
			"SMTP_URL":          "smtp://" + sink.Addr + "?tls=none",
			"SIGNUP_RATE_LIMIT": "0",
			"SEND_SCHEDULE":     "@every 1h",
		}
		if *serveProfile != "" {
			vars[cpuProfileVar] = *serveProfile
		}
		// Without confirmations serve's SMTP server is a port that takes
		// connections and never answers: each of the outbox's connections
		// waits for a greeting (15 s, longer than the run), so the outbox
		// neither sends nor, as against a closed port, claims and hands
		// back a batch for each signup. Closed after the run, it refuses,
		// so every version's outbox stops and serve can.
		var pit *tarpit
		if !*confirmations {
			pit = startTarpit(b)
			vars["SMTP_URL"] = "smtp://" + pit.addr() + "?tls=none"
		}
		if *serveDBParams != "" {
			sep := "?"
			if strings.Contains(dbURL, "?") {
				sep = "&"
			}
			vars["DATABASE_URL"] = dbURL + sep + *serveDBParams
		}
		p, base := serveBin(b, bin, dir, vars)
		// A short warm-up: connections open, plans cached, as on a server
		// that has been up a while.
		start := time.Now()
		warm := runWrk(b, script, base, "warm", 2*time.Second)
		sent0, serveCPU, selfCPU := arr.count(), procCPU(p.cmd.Process.Pid), ownCPU()
		pg := watchBackends(b, dbURL)
		w := runWrk(b, script, base, "run", *benchDuration)
		pgCPU := pg.stop()
		serveCPU, selfCPU = procCPU(p.cmd.Process.Pid)-serveCPU, ownCPU()-selfCPU
		sent := arr.count() - sent0
		if pit != nil {
			pit.close()
		}
		if w.errors+warm.errors > 0 {
			b.Fatalf("wrk saw %d non-2xx/3xx responses or socket errors", w.errors+warm.errors)
		}
		// Every answered request stored a signup: the server did the work.
		stored := countRows(b, dbURL, `SELECT count(*) FROM subscribers`)
		if stored < warm.requests+w.requests {
			b.Fatalf("%d requests answered, %d subscribers stored", warm.requests+w.requests, stored)
		}
		// A signup is done when its confirmation arrives: what the outbox
		// did not send during the run it sends now, with no new signups.
		var endToEnd float64
		if *confirmations {
			for deadline := time.Now().Add(2 * time.Minute); arr.count() < stored && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			switch {
			case arr.count() >= stored:
				endToEnd = float64(stored) / arr.last().Sub(start).Seconds()
			case *twostepBin == "":
				b.Fatalf("%d of %d confirmations arrived within 2 minutes of the run", arr.count(), stored)
			default:
				// Older outboxes sent one mail at a time: what they had
				// not sent by then is left unsent, and said so.
				b.Logf("only %d of %d confirmations arrived within 2 minutes of the run", arr.count(), stored)
			}
		}
		terminate(b, p) // idle during the ceiling's run; its profile is written on exit
		c := runPgbench(b, ceilingURL, dir, *benchDuration)
		perSignup := func(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }
		b.ReportMetric(w.rate, "signups/s")
		b.ReportMetric(w.p50, "p50-ms")
		b.ReportMetric(w.p99, "p99-ms")
		b.ReportMetric(c.rate, "ceiling-signups/s")
		b.ReportMetric(c.p50, "ceiling-p50-ms")
		b.ReportMetric(c.p99, "ceiling-p99-ms")
		b.ReportMetric(100*w.rate/c.rate, "pct-of-ceiling")
		if *confirmations {
			b.ReportMetric(100*float64(sent)/float64(w.requests), "pct-confirmations-sent")
			if endToEnd > 0 {
				b.ReportMetric(endToEnd, "confirmed-signups/s")
			}
		}
		b.ReportMetric(perSignup(serveCPU, w.requests), "serve-µs/signup")
		b.ReportMetric(perSignup(pgCPU, w.requests), "pg-µs/signup")
		b.ReportMetric(perSignup(c.serverCPU, c.requests), "ceiling-pg-µs/signup")
		b.Logf("signups %.0f/s p50 %.1f ms p99 %.1f ms; bare SQL (pgbench) %.0f/s p50 %.1f ms p99 %.1f ms; %.0f %% of the ceiling (%d conns, %s)",
			w.rate, w.p50, w.p99, c.rate, c.p50, c.p99, 100*w.rate/c.rate, *benchConns, *benchDuration)
		if *confirmations {
			b.Logf("confirmations sent during the run: %d for %d signups (%.0f %%)", sent, w.requests, 100*float64(sent)/float64(w.requests))
			if endToEnd > 0 {
				b.Logf("all %d signups with their confirmation sent: %.0f/s, first request to last mail", stored, endToEnd)
			}
		} else {
			b.Logf("confirmations held back: the outbox's SMTP server never answered")
		}
		b.Logf("CPU µs per signup: serve %.0f, its PostgreSQL backends %.0f, wrk %.0f, sink %.0f; ceiling: PostgreSQL %.0f, pgbench %.0f",
			perSignup(serveCPU, w.requests), perSignup(pgCPU, w.requests), perSignup(w.clientCPU, w.requests), perSignup(selfCPU, w.requests),
			perSignup(c.serverCPU, c.requests), perSignup(c.clientCPU, c.requests))
	}
}

var (
	serveProfile  = flag.String("serve-profile", "", "BenchmarkSignupExternal: file for serve's Go CPU profile")
	confirmations = flag.Bool("confirmations", true, "BenchmarkSignupExternal: send the confirmations during the run; false points serve at an SMTP port that never answers, so the outbox sends nothing and the signup path runs alone, as the outbox of earlier versions (94 mails/s) nearly left it")
	serveDBParams = flag.String("serve-db-params", "", "BenchmarkSignupExternal: parameters added to serve's DATABASE_URL, e.g. pool_max_conns=16")
	twostepBin    = flag.String("twostep-bin", "", "BenchmarkSignupExternal: the twostep executable to serve, e.g. one built at an older commit, instead of this tree's; it gets an empty database and migrates it itself")
)

// tarpit is a local port that takes connections and never answers them.
type tarpit struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

// startTarpit listens until close or the end of b.
func startTarpit(b *testing.B) *tarpit {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	t := &tarpit{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.mu.Lock()
			t.conns = append(t.conns, c)
			t.mu.Unlock()
		}
	}()
	b.Cleanup(t.close)
	return t
}

func (t *tarpit) addr() string { return t.ln.Addr().String() }

// close stops listening and drops the connections taken.
func (t *tarpit) close() {
	t.ln.Close()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.conns {
		c.Close()
	}
	t.conns = nil
}

// procCPU is the user and system CPU time process pid has used so far; 0
// once it has gone.
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's name, which is in parentheses and
	// may hold spaces: utime and stime are the 12th and 13th.
	s := string(raw)
	fs := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fs) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fs[11], 10, 64)
	st, _ := strconv.ParseInt(fs[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every
// Linux this runs on.
const clockTicks = 100

// ownCPU is this process's CPU time so far: in the benchmarks, mostly the
// SMTP sink's.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendWatch adds up the CPU time of the PostgreSQL backends connected
// to one database while it runs: backends that come and go with their
// clients take their CPU time with them, so it reads it every 100 ms (and
// misses at most the last 100 ms of each), looking for new backends every
// second.
type backendWatch struct {
	stopped chan struct{}
	total   chan time.Duration
}

func watchBackends(b *testing.B, dbURL string) *backendWatch {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	pids := func() []int {
		rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
		if err != nil {
			return nil
		}
		pids, _ := pgx.CollectRows(rows, pgx.RowTo[int])
		return pids
	}
	first, last := map[int]time.Duration{}, map[int]time.Duration{}
	for _, pid := range pids() {
		first[pid] = procCPU(pid)
		last[pid] = first[pid]
	}
	w := &backendWatch{stopped: make(chan struct{}), total: make(chan time.Duration)}
	go func() {
		defer conn.Close(ctx)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		known := slices.Collect(maps.Keys(last))
		for n := 1; ; n++ {
			select {
			case <-w.stopped:
				var d time.Duration
				for pid, c := range last {
					d += c - first[pid] // first is 0 for a backend that started meanwhile
				}
				w.total <- d
				return
			case <-tick.C:
			}
			if n%10 == 0 {
				known = pids()
			}
			for _, pid := range known {
				if c := procCPU(pid); c > 0 {
					last[pid] = c
				}
			}
		}
	}()
	return w
}

// stop ends the watch and returns the CPU time the backends used during it.
func (w *backendWatch) stop() time.Duration {
	close(w.stopped)
	return <-w.total
}

// load is what a load generator measured.
type load struct {
	rate, p50, p99 float64 // per second; milliseconds
	errors         int
	requests       int
	clientCPU      time.Duration // the load generator's own
	serverCPU      time.Duration // the PostgreSQL backends' (pgbench only)
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
	cmd := exec.Command("wrk", "-t2", "-c"+strconv.Itoa(*benchConns), "-d"+d.String(), "--latency", "--timeout", "10s",
		"-s", script, base, "--", run)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	s := string(out)
	l := load{clientCPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
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

// runPgbench runs store.SignupSQL with pgbench at the same
// concurrency, prepared (as pgx runs it), for d.
func runPgbench(b *testing.B, dbURL, dir string, d time.Duration) load {
	b.Helper()
	vals := map[string]string{
		"1": "('p' || :n::text || '@bench.example')", "2": "'Bench Reader'", "3": "'Europe/Berlin'",
		"4": "now()", "5": "'127.0.0.1'", "6": "'twostep-bench/1'", "7": "'http://127.0.0.1/'", "8": "'bench'", "9": "NULL", "10": "NULL",
	}
	stmt := regexp.MustCompile(`\$(\d+)`).ReplaceAllStringFunc(store.SignupSQL, func(p string) string { return vals[p[1:]] })
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
	pg := watchBackends(b, dbURL)
	out, err := cmd.CombinedOutput()
	serverCPU := pg.stop()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`).FindStringSubmatch(string(out))
	if m == nil {
		b.Fatalf("pgbench printed no tps:\n%s", out)
	}
	l := load{clientCPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), serverCPU: serverCPU}
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
	l.requests = len(lat)
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

var (
	burstRate     = flag.Int("burst-rate", 1000, "signups per second in BenchmarkConfirmationBurst")
	burstDuration = flag.Duration("burst-duration", 30*time.Second, "length of the signup burst")
	drainN        = flag.Int("drain-n", 10000, "queued confirmations and due readers in the drain phase")
)

// burstScript paces each of wrk's connections so that together they post
// the rate given as its first argument.
const burstScript = wrkThreads + `
local n, run, pause = 0, "", 0
function init(args)
  run = args[1]
  pause = tonumber(args[2])
end
function delay()
  return pause
end
function request()
  n = n + 1
  local body = "email=" .. run .. "-" .. tid .. "-" .. n .. "%40bench.example&tz=UTC&website="
  return wrk.format("POST", "/subscribe", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
`

// arrivals records when the sink was handed each recipient.
type arrivals struct {
	mu    sync.Mutex
	at    map[string]time.Time
	times map[string]int // how often each recipient arrived
}

func newArrivals(sink *smtptest.Server) *arrivals {
	a := &arrivals{at: map[string]time.Time{}, times: map[string]int{}}
	sink.SetHook(func(ev smtptest.Event) error {
		if ev.Stage == smtptest.StageRcpt {
			now := time.Now()
			a.mu.Lock()
			a.at[ev.To] = now
			a.times[ev.To]++
			a.mu.Unlock()
		}
		return nil
	})
	return a
}

// twice counts the recipients that arrived more than once.
func (a *arrivals) twice() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.times {
		if c > 1 {
			n++
		}
	}
	return n
}

// last is when the latest recipient arrived.
func (a *arrivals) last() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	var last time.Time
	for _, t := range a.at {
		if t.After(last) {
			last = t
		}
	}
	return last
}

func (a *arrivals) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at)
}

// rate is how many recipients with prefix arrived per second, first to last.
func (a *arrivals) rate(prefix string) (float64, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var first, last time.Time
	n := 0
	for to, t := range a.at {
		if !strings.HasPrefix(to, prefix) {
			continue
		}
		n++
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	if n < 2 {
		return 0, n
	}
	return float64(n-1) / last.Sub(first).Seconds(), n
}

// BenchmarkConfirmationBurst measures how soon confirmations arrive while
// signups pour in, and how fast the outbox drains a backlog next to how
// fast a delivery pass sends, all as a user would run it: `twostep serve`
// and `twostep send` as processes, wrk as the load generator, an
// in-process SMTP sink that timestamps each recipient it is handed.
//
// Phase 1: wrk posts -burst-rate signups per second for -burst-duration;
// each confirmation's latency is its arrival at the sink minus the time
// the server stored the signup (consent_at).
// Phase 2: -drain-n queued confirmations and -drain-n due readers on a
// fresh database, sent by one `twostep send`: the outbox's drain rate and
// the pass's rate, first arrival to last, on the same sink in the same run.
//
//	go test ./cmd/twostep/ -run '^$' -bench BenchmarkConfirmationBurst -benchtime 1x
func BenchmarkConfirmationBurst(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Fatal("wrk is needed: apt-get install -y wrk")
	}
	ctx := context.Background()
	dir := b.TempDir()
	script := filepath.Join(dir, "burst.lua")
	if err := os.WriteFile(script, []byte(burstScript), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		// Phase 1: latency during a burst.
		sink := smtptest.Start(b)
		sink.Discard()
		arr := newArrivals(sink)
		vars := map[string]string{"SMTP_URL": "smtp://" + sink.Addr + "?tls=none", "SIGNUP_RATE_LIMIT": "0", "SEND_SCHEDULE": "@every 1h"}
		p, base := startServe(b, dir, vars)
		conns := 64
		pause := conns * 1000 / *burstRate
		out, err := exec.Command("wrk", "-t2", "-c"+strconv.Itoa(conns), "-d"+burstDuration.String(), "--timeout", "10s",
			"-s", script, base, "--", "burst", strconv.Itoa(pause)).CombinedOutput()
		if err != nil {
			b.Fatalf("wrk: %v\n%s", err, out)
		}
		m := wrkRate.FindStringSubmatch(string(out))
		if m == nil {
			b.Fatalf("wrk printed no rate:\n%s", out)
		}
		posted, _ := strconv.ParseFloat(m[1], 64)
		stored := countRows(b, vars["DATABASE_URL"], `SELECT count(*) FROM subscribers`)
		deadline := time.Now().Add(2 * time.Minute)
		for arr.count() < stored && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		terminate(b, p)
		conn, err := pgx.Connect(ctx, vars["DATABASE_URL"])
		if err != nil {
			b.Fatal(err)
		}
		rows, err := conn.Query(ctx, `SELECT email, consent_at FROM subscribers`)
		if err != nil {
			b.Fatal(err)
		}
		var lat []float64
		within := 0
		arr.mu.Lock()
		for rows.Next() {
			var email string
			var at time.Time
			if err := rows.Scan(&email, &at); err != nil {
				b.Fatal(err)
			}
			got, ok := arr.at[email]
			if !ok {
				continue
			}
			d := got.Sub(at).Seconds()
			lat = append(lat, d)
			if d <= 5 {
				within++
			}
		}
		arr.mu.Unlock()
		rows.Close()
		conn.Close(ctx)
		if len(lat) < stored {
			b.Errorf("%d of %d confirmations arrived within 2 minutes of the burst", len(lat), stored)
		}
		if len(lat) == 0 {
			b.Fatal("no confirmation arrived")
		}
		slices.Sort(lat)

		// Phase 2: drain rate and pass rate, one `twostep send`.
		sink2 := smtptest.Start(b)
		sink2.Discard()
		arr2 := newArrivals(sink2)
		dbURL := dbtest.URL(b)
		seedDrain(b, dbURL, *drainN)
		send := startCmd(b, dir, map[string]string{"DATABASE_URL": dbURL, "SMTP_URL": "smtp://" + sink2.Addr + "?tls=none"}, "send")
		if code := send.wait(b, 10*time.Minute); code != 0 {
			b.Fatalf("twostep send exited %d:\n%s", code, send.stderr.String())
		}
		drain, nc := arr2.rate("c")
		pass, nl := arr2.rate("l")
		if nc != *drainN || nl != *drainN {
			b.Fatalf("send delivered %d confirmations and %d lessons, want %d of each", nc, nl, *drainN)
		}

		p50, p99 := lat[len(lat)*50/100], lat[len(lat)*99/100]
		b.ReportMetric(posted, "signups/s")
		b.ReportMetric(p50, "p50-s")
		b.ReportMetric(p99, "p99-s")
		b.ReportMetric(100*float64(within)/float64(len(lat)), "pct-within-5s")
		b.ReportMetric(drain, "drain-msgs/s")
		b.ReportMetric(pass, "pass-msgs/s")
		b.ReportMetric(100*drain/pass, "drain-pct-of-pass")
		b.Logf("burst: %.0f signups/s for %s; signup-to-mail p50 %.2f s, p99 %.2f s, %.1f %% within 5 s; outbox drain %.0f msgs/s vs pass %.0f msgs/s = %.0f %%",
			posted, *burstDuration, p50, p99, 100*float64(within)/float64(len(lat)), drain, pass, 100*drain/pass)
	}
}

// seedDrain queues n confirmations (recipients c…) and makes n readers due
// for lesson 2 (recipients l…).
func seedDrain(b *testing.B, dbURL string, n int) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`WITH s AS (
			INSERT INTO subscribers (email, time_zone, consent_at, confirmation_sent_at)
			SELECT 'c' || g || '@bench.example', 'UTC', now(), now() FROM generate_series(1, $1) g RETURNING id)
		INSERT INTO outbox (subscriber_id, kind, next_attempt_at) SELECT id, 'confirm', now() - interval '1 second' FROM s`,
		`WITH s AS (
			INSERT INTO subscribers (email, status, time_zone, send_weekday, send_hour, consent_at, confirmed_at)
			SELECT 'l' || g || '@bench.example', 'active', 'UTC', 1, 8, now() - interval '8 days', now() - interval '8 days'
			FROM generate_series(1, $1) g RETURNING id, status)
		INSERT INTO schedule (subscriber_id, lesson, due_at, active) SELECT id, 2, now() - interval '1 minute', status = 'active' FROM s`,
		`INSERT INTO deliveries (subscriber_id, round, lesson, status, attempts, due_at, sent_at)
		SELECT id, 1, 1, 'sent', 1, now() - interval '7 days', now() - interval '7 days' FROM subscribers WHERE status = 'active'`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, n)
		}
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

var copiesN = flag.Int("copies-n", 20000, "due readers in BenchmarkCopies")

// BenchmarkCopies runs one delivery pass over -copies-n due readers with
// 1, 2 and 4 copies of `twostep send` started together on one database,
// into one sink, and reports each run's rate (first arrival to last) and
// how many readers got their lesson twice (always 0: the ledger and the
// SKIP LOCKED claims share the work). Each copy runs its own pool and its
// own SMTP_MAX_CONNS connections.
//
//	go test ./cmd/twostep/ -run '^$' -bench BenchmarkCopies -benchtime 1x
func BenchmarkCopies(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		for _, copies := range []int{1, 2, 4} {
			sink := smtptest.Start(b)
			sink.Discard()
			arr := newArrivals(sink)
			dbURL := dbtest.URL(b)
			seedDrain(b, dbURL, *copiesN)
			// The confirmations are not this benchmark's: drop them.
			countRows(b, dbURL, `WITH d AS (DELETE FROM outbox RETURNING 1) SELECT count(*) FROM d`)
			vars := map[string]string{"DATABASE_URL": dbURL, "SMTP_URL": "smtp://" + sink.Addr + "?tls=none"}
			procs := make([]*proc, copies)
			for i := range procs {
				procs[i] = startCmd(b, dir, vars, "send")
			}
			for _, p := range procs {
				if code := p.wait(b, 10*time.Minute); code != 0 {
					b.Fatalf("twostep send exited %d:\n%s", code, p.stderr.String())
				}
			}
			rate, n := arr.rate("l")
			if n != *copiesN || arr.twice() != 0 {
				b.Fatalf("%d copies: %d of %d readers got their lesson, %d twice", copies, n, *copiesN, arr.twice())
			}
			b.ReportMetric(rate, fmt.Sprintf("msgs/s-%d-copies", copies))
			b.Logf("%d copies: %.0f msgs/s, %d readers, none twice", copies, rate, n)
		}
	}
}
