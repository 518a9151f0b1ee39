package send_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	gomail "github.com/wneessen/go-mail"

	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/send"
	"github.com/twostep/twostep/internal/smtptest"
	"github.com/twostep/twostep/internal/store"
)

// Flags of the delivery benchmarks (docs/BENCHMARKS.md), e.g.
//
//	go test -run '^$' -bench BenchmarkPass -benchtime 1x ./internal/send/ -subscribers 100000
//
// The flags go after the package: go test hands flags it does not know, and
// everything after them, to the test binary.
var (
	benchSubscribers = flag.Int("subscribers", 10_000, "due subscribers in BenchmarkPass")
	benchConns       = flag.Int("conns", 8, "SMTP connections in BenchmarkPass, for the engine and the bare go-mail ceiling alike")
	benchPool        = flag.Int("pool", 0, "PostgreSQL connections in BenchmarkPass's pgx pool; 0 = pgx's default, max(4, GOMAXPROCS), as in production")
	benchSMTPDelay   = flag.Duration("smtp-delay", 0, "how long both sinks in BenchmarkPass wait before accepting each message, as a remote relay would")
)

// BenchmarkPass times one full delivery pass over -subscribers due readers
// into an in-process SMTP sink over -conns connections, and in the same run
// the ceiling: a bare go-mail loop sending the same rendered lessons over
// the same number of persistent connections to the same kind of sink, with
// no database, rendering or bookkeeping. pct-of-ceiling is how close the
// engine comes to that.
//
// Every iteration is one pass over freshly seeded subscribers (the seeding,
// the ceiling and its rendering are outside the timer), so ns/op is the
// duration of a pass; -benchtime 1x runs exactly one.
//
// p99-ms is the SMTP transaction as a worker sees it: a wrapper around the
// engine's mail.Transport times each Send (MAIL FROM to the reply after
// DATA, plus go-mail's RSET). It does not include the ledger writes around
// it; their cost shows in msgs/s.
//
// cpu-us/msg is the CPU time of the test process (engine, sink, runtime)
// plus the pass's PostgreSQL backends per message, ceiling-cpu-us/msg that
// of the bare loop and its sink. On a machine both saturate, pct-of-ceiling
// is about their ratio, and they move much less than the rates when other
// processes load the machine.
//
// peak-RSS-MB is VmHWM of the whole test process (test binary, both sinks,
// pgx pool) after the pass. The high-water mark is reset before each pass
// where Linux allows it (/proc/self/clear_refs), else it is the process's
// lifetime peak and only the first run in a process means anything: run
// the 100,000 case in a process of its own either way.
//
// A CPU profile of it (-test.cpuprofile) tells the two sides apart by
// their labels: side=pass or side=bare, and part=sender (the engine, or the
// bare loop) or part=sink, e.g. `go tool pprof -tagfocus side=bare -top`.
func BenchmarkPass(b *testing.B) {
	n, conns := *benchSubscribers, *benchConns
	if n < 1 || conns < 1 {
		b.Fatalf("-subscribers %d -conns %d: both must be positive", n, conns)
	}
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	due := now.Add(-time.Minute)

	db := benchDB(b, *benchPool)
	var sink, ceilingSink *smtptest.Server
	labelled(ctx, "pass", "sink", func() { sink = benchSink(b, *benchSMTPDelay) })
	labelled(ctx, "bare", "sink", func() { ceilingSink = benchSink(b, *benchSMTPDelay) })
	// As `serve` configures it, but for the sink and the flags.
	e := newEngine(b, db, sink)
	e.Conns, e.Batch = conns, send.DefaultBatch
	e.Metrics = send.NewMetrics(prometheus.NewRegistry())
	open := e.Open
	cur, err := e.Library.Current(ctx)
	if err != nil {
		b.Fatal(err)
	}

	var (
		runs                   int
		passTook, ceilingTook  time.Duration
		passCPU, ceilingCPU    time.Duration
		passMem, ceilingMem    procUse
		passPG                 time.Duration
		sends, gaps, ceilSends []time.Duration
		peakMB                 float64
		peakReset              = true
	)
	for b.Loop() {
		b.StopTimer()
		seedDue(b, db, n, due)
		peakReset = resetPeakRSS() && peakReset
		times := &sendTimes{}
		e.Open = times.wrap(open)
		accepted := sink.Accepted()
		cpu, pg, mem := processCPU(), backendCPU(b, db), procNow()
		b.StartTimer()

		start := time.Now()
		var sum send.Summary
		labelled(ctx, "pass", "sender", func() { sum, err = e.Pass(ctx, clock) })
		took := time.Since(start)

		b.StopTimer()
		passCPU += processCPU() - cpu
		passMem = passMem.add(procNow().since(mem))
		passPG += backendCPU(b, db).since(pg)
		peakMB = max(peakMB, peakRSSMB(b))
		if err != nil {
			b.Fatalf("pass: %v", err)
		}
		if got := sink.Accepted() - accepted; sum.Sent != n || got != int64(n) {
			b.Fatalf("pass %v; the sink accepted %d; want %d sent", sum, got, n)
		}
		runs++
		passTook += took
		s, g := times.all()
		sends, gaps = append(sends, s...), append(gaps, g...)

		msgs := renderAgain(b, e, cur, n, due, now)
		// Settle what the pass left (dead rows, WAL) so autovacuum and the
		// checkpointer do not share the two cores with the ceiling.
		settle(b, db, "subscribers", "schedule", "deliveries")
		accepted = ceilingSink.Accepted()
		cpu, mem = processCPU(), procNow()
		var cs []time.Duration
		labelled(ctx, "bare", "sender", func() { took, cs = bareGoMail(b, ceilingSink, msgs, conns) })
		ceilingCPU += processCPU() - cpu
		ceilingMem = ceilingMem.add(procNow().since(mem))
		if got := ceilingSink.Accepted() - accepted; got != int64(n) {
			b.Fatalf("the bare go-mail loop delivered %d of %d", got, n)
		}
		ceilingTook += took
		ceilSends = append(ceilSends, cs...)
		b.StartTimer()
	}

	total := float64(n * runs)
	rate := total / passTook.Seconds()
	ceiling := total / ceilingTook.Seconds()
	p99 := quantile(sends, 0.99)
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(peakMB, "peak-RSS-MB")
	b.ReportMetric(ceiling, "ceiling-msgs/s")
	b.ReportMetric(100*rate/ceiling, "pct-of-ceiling")
	b.ReportMetric(float64((passCPU+passPG).Microseconds())/total, "cpu-us/msg")
	b.ReportMetric(float64(ceilingCPU.Microseconds())/total, "ceiling-cpu-us/msg")
	b.ReportMetric(float64(passMem.bytes)/1024/total, "alloc-KB/msg")
	b.ReportMetric(float64(ceilingMem.bytes)/1024/total, "ceiling-alloc-KB/msg")
	peakNote := ""
	if !peakReset {
		peakNote = " (process lifetime peak: /proc/self/clear_refs refused the reset)"
	}
	b.Logf("pass: %d msgs, %.0f/s, p99 %.1fms, peak RSS %.0f MB%s; bare go-mail %.0f/s; %.1f%% of ceiling (target >= 80%%)",
		n, rate, ms(p99), peakMB, peakNote, ceiling, 100*rate/ceiling)
	b.Logf("per message: SMTP send p50 %.2fms (bare go-mail p50 %.2fms, p99 %.1fms); between two sends on one connection p50 %.2fms p99 %.1fms; "+
		"CPU: test process %.0fµs and its PostgreSQL backends %.0fµs (bare go-mail %.0fµs)",
		ms(quantile(sends, 0.5)), ms(quantile(ceilSends, 0.5)), ms(quantile(ceilSends, 0.99)),
		ms(quantile(gaps, 0.5)), ms(quantile(gaps, 0.99)),
		float64(passCPU.Microseconds())/total, float64(passPG.Microseconds())/total, float64(ceilingCPU.Microseconds())/total)
	b.Logf("test process heap: %.1f KB allocated a message, %d collections, GC CPU %.0fµs a message "+
		"(bare go-mail %.1f KB, %d, %.0fµs: its heap holds every message it sends, so it collects far less often)",
		float64(passMem.bytes)/1024/total, passMem.gcs, float64(passMem.gcCPU.Microseconds())/total,
		float64(ceilingMem.bytes)/1024/total, ceilingMem.gcs, float64(ceilingMem.gcCPU.Microseconds())/total)
	b.Logf("test process threads: %.2f sleeps and %.2f preemptions by the kernel a message (bare go-mail %.2f and %.2f)",
		float64(passMem.slept)/total, float64(passMem.descheduled)/total,
		float64(ceilingMem.slept)/total, float64(ceilingMem.descheduled)/total)
}

// procUse is what the test process allocated, how many times it collected
// garbage, the CPU the collector spent (the runtime's estimate), and how
// often its threads went to sleep (voluntary context switches: a thread
// with nothing to run, waking again costs a system call) or were
// descheduled by the kernel.
type procUse struct {
	bytes              uint64
	gcs                uint32
	gcCPU              time.Duration
	slept, descheduled int64
}

func procNow() procUse {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	u := procUse{bytes: m.TotalAlloc, gcs: m.NumGC}
	if s[0].Value.Kind() == metrics.KindFloat64 {
		u.gcCPU = time.Duration(s[0].Value.Float64() * float64(time.Second))
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.slept, u.descheduled = ru.Nvcsw, ru.Nivcsw
	}
	return u
}

func (u procUse) since(before procUse) procUse {
	return procUse{u.bytes - before.bytes, u.gcs - before.gcs, u.gcCPU - before.gcCPU,
		u.slept - before.slept, u.descheduled - before.descheduled}
}

func (u procUse) add(o procUse) procUse {
	return procUse{u.bytes + o.bytes, u.gcs + o.gcs, u.gcCPU + o.gcCPU, u.slept + o.slept, u.descheduled + o.descheduled}
}

// BenchmarkPassWithoutSMTP is BenchmarkPass with a transport that accepts
// every message at once without writing it anywhere: what is left is the
// engine's own work per message — claim, render, ledger — and its CPU,
// split between the test process and PostgreSQL. It explains the gap
// between BenchmarkPass and its ceiling. Its peak-RSS-MB is the engine's
// memory over a pass of -subscribers due readers: BenchmarkPass cannot
// report it at a million, because its ceiling renders every message
// before the bare loop sends them and holds them all.
//
//	go test -run '^$' -bench BenchmarkPassWithoutSMTP -benchtime 1x -count 3 ./internal/send/
func BenchmarkPassWithoutSMTP(b *testing.B) {
	n := *benchSubscribers
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	db := benchDB(b, *benchPool)
	e := newEngine(b, db, nil)
	e.Conns, e.Batch = *benchConns, send.DefaultBatch
	e.Open = func() mail.Transport { return acceptAll{} }
	var took, goCPU, pgCPU time.Duration
	var peakMB float64
	for b.Loop() {
		b.StopTimer()
		seedDue(b, db, n, now.Add(-time.Minute))
		resetPeakRSS()
		cpu, pg := processCPU(), backendCPU(b, db)
		b.StartTimer()
		start := time.Now()
		sum, err := e.Pass(ctx, clock)
		took += time.Since(start)
		b.StopTimer()
		goCPU += processCPU() - cpu
		pgCPU += backendCPU(b, db).since(pg)
		peakMB = max(peakMB, peakRSSMB(b))
		if err != nil || sum.Sent != n {
			b.Fatalf("pass %v: %v; want %d sent", sum, err, n)
		}
		b.StartTimer()
	}
	total := float64(n * b.N)
	b.ReportMetric(total/took.Seconds(), "msgs/s")
	b.ReportMetric(float64(goCPU.Microseconds())/total, "go-cpu-us/msg")
	b.ReportMetric(float64(pgCPU.Microseconds())/total, "pg-cpu-us/msg")
	b.ReportMetric(peakMB, "peak-RSS-MB")
}

// labelled runs f with the profiler labels side and part, which the
// goroutines f starts inherit: a sink's connections, a pass's workers.
func labelled(ctx context.Context, side, part string, f func()) {
	pprof.Do(ctx, pprof.Labels("side", side, "part", part), func(context.Context) { f() })
}

// acceptAll is a Transport that accepts every message without reading it.
type acceptAll struct{}

func (acceptAll) Send(context.Context, *gomail.Msg) (string, error) { return "250 2.0.0 accepted", nil }
func (acceptAll) Close() error                                      { return nil }

// benchSink is an SMTP sink that counts messages without keeping them and
// accepts each after delay.
func benchSink(b *testing.B, delay time.Duration) *smtptest.Server {
	b.Helper()
	s := smtptest.Start(b)
	s.Discard()
	if delay > 0 {
		s.SetHook(func(ev smtptest.Event) error {
			if ev.Stage == smtptest.StageData {
				time.Sleep(delay)
			}
			return nil
		})
	}
	return s
}

// benchDB is a fresh database whose pool holds conns connections (0: the
// pgx default).
func benchDB(b *testing.B, conns int) *store.DB {
	b.Helper()
	if conns == 0 {
		return dbtest.New(b)
	}
	return dbtest.Open(b, dbtest.WithConns(b, dbtest.URL(b), conns))
}

// seedDue replaces every subscriber with n active readers whose first
// lesson is due at due, vacuumed and analysed as a settled table would be,
// and checkpoints so no checkpoint of the seeding lands inside the pass.
func seedDue(b *testing.B, db *store.DB, n int, due time.Time) {
	b.Helper()
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `TRUNCATE subscribers, deliveries RESTART IDENTITY CASCADE`); err != nil {
		b.Fatal(err)
	}
	addMany(b, db, n, due)
	settle(b, db, "subscribers", "schedule")
}

// settle vacuums and analyses tables and checkpoints, as a database at rest
// would be.
func settle(b *testing.B, db *store.DB, tables ...string) {
	b.Helper()
	for _, sql := range []string{`VACUUM ANALYZE ` + strings.Join(tables, ", "), `CHECKPOINT`} {
		if _, err := db.Pool.Exec(context.Background(), sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
}

// renderAgain renders the messages the pass just sent, with the engine's
// Letters: the pass moved every reader on to lesson 2, so the ledger is
// emptied, they are put back on lesson 1, and claimed the way the pass
// claimed them.
func renderAgain(b *testing.B, e *send.Engine, cur *course.Current, n int, due, now time.Time) []*gomail.Msg {
	b.Helper()
	ctx := context.Background()
	db := e.DB.(*store.DB)
	if _, err := db.Pool.Exec(ctx, `DELETE FROM deliveries`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE schedule SET lesson = 1, due_at = $1, lease_until = NULL, attempts = 0`, due); err != nil {
		b.Fatal(err)
	}
	claims, err := e.DB.ClaimAndBegin(ctx, now, n, now, now.Add(time.Hour))
	if err != nil || len(claims) != n {
		b.Fatalf("claimed %d of %d again: %v", len(claims), n, err)
	}
	subs := make([]*drip.Subscriber, len(claims))
	for i, c := range claims {
		subs[i] = c.Sub
	}
	msgs := make([]*gomail.Msg, len(subs))
	for i, sub := range subs {
		msgs[i], _, err = e.Letters.Lesson(cur.Course, cur.Course.Lesson(sub.NextLesson), sub, now)
		if err != nil {
			b.Fatal(err)
		}
	}
	return msgs
}

// bareGoMail sends msgs over conns go-mail clients, dialled with the options
// mail.SMTPConn dials with, each taking the next message the moment it is
// done. It returns the wall time from the first dial to the last QUIT and
// the time of each Send.
func bareGoMail(b *testing.B, sink *smtptest.Server, msgs []*gomail.Msg, conns int) (time.Duration, []time.Duration) {
	b.Helper()
	cfg := sink.Config()
	o := testMailOptions
	var next atomic.Int64
	lat := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			c, err := gomail.NewClient(cfg.Host,
				gomail.WithPort(cfg.Port),
				gomail.WithTimeout(o.ReplyTimeout),
				gomail.WithHELO(o.HELO),
				gomail.WithoutNoop(),
				gomail.WithTLSPolicy(gomail.NoTLS),
				gomail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
					d := net.Dialer{Timeout: o.DialTimeout}
					return d.DialContext(ctx, network, addr)
				}))
			if err == nil {
				err = c.DialWithContext(context.Background())
			}
			if err != nil {
				b.Errorf("bare go-mail: %v", err)
				return
			}
			defer c.Close()
			for i := next.Add(1) - 1; i < int64(len(msgs)); i = next.Add(1) - 1 {
				t := time.Now()
				if err := c.Send(msgs[i]); err != nil {
					b.Errorf("bare go-mail: %v", err)
					return
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	return time.Since(start), slices.Concat(lat...)
}

// sendTimes collects the timings of every Transport a pass opens.
type sendTimes struct {
	mu sync.Mutex
	ts []*timedTransport
}

func (s *sendTimes) wrap(open mail.Opener) mail.Opener {
	return func() mail.Transport {
		t := &timedTransport{Transport: open()}
		s.mu.Lock()
		s.ts = append(s.ts, t)
		s.mu.Unlock()
		return t
	}
}

// all returns every Send's duration and every gap between two Sends on one
// transport; call it once the pass has returned.
func (s *sendTimes) all() (sends, gaps []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.ts {
		sends = append(sends, t.sends...)
		gaps = append(gaps, t.gaps...)
	}
	return sends, gaps
}

// timedTransport times each Send of the transport it wraps. Like the
// transport, it belongs to one worker, so it needs no lock.
type timedTransport struct {
	mail.Transport
	sends []time.Duration
	// gaps run from the end of one Send to the start of the next: the
	// worker's ledger writes, rendering and wait for a claim.
	gaps []time.Duration
	last time.Time
}

func (t *timedTransport) Send(ctx context.Context, m *gomail.Msg) (string, error) {
	start := time.Now()
	if !t.last.IsZero() {
		t.gaps = append(t.gaps, start.Sub(t.last))
	}
	reply, err := t.Transport.Send(ctx, m)
	t.last = time.Now()
	t.sends = append(t.sends, t.last.Sub(start))
	return reply, err
}

// resetPeakRSS collects garbage, returns it to the OS and resets the
// process's VmHWM to its current RSS (Linux 4.0+), so the next peakRSSMB
// covers only what follows. It reports whether the reset was allowed.
func resetPeakRSS() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSSMB is the process's VmHWM in MB.
func peakRSSMB(b *testing.B) float64 {
	b.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatalf("peak RSS: %v", err)
	}
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.Atoi(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))))
			if err != nil {
				b.Fatalf("peak RSS %q: %v", line, err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatal("peak RSS: no VmHWM in /proc/self/status")
	return 0
}

// processCPU is the user and system CPU time the test process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pgCPU is the CPU time each PostgreSQL backend of a database has used.
type pgCPU map[int]time.Duration

// backendCPU reads the CPU time of db's backends from /proc (the server is
// local); nil where that is not possible. Shared processes (WAL writer,
// checkpointer) are not included.
func backendCPU(b *testing.B, db *store.DB) pgCPU {
	b.Helper()
	rows, err := db.Pool.Query(context.Background(),
		`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	out := pgCPU{}
	for _, pid := range pids {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
		if err != nil {
			return nil
		}
		// Fields 14 and 15, utime and stime, in clock ticks (USER_HZ, 100
		// on Linux), counted after the parenthesised command name.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			return nil
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[int(pid)] = time.Duration(u+s) * 10 * time.Millisecond
	}
	return out
}

// since is the CPU time the backends used after before was read.
func (c pgCPU) since(before pgCPU) time.Duration {
	var d time.Duration
	for pid, t := range c {
		d += t - before[pid]
	}
	return d
}

// quantile is the q-quantile of ds (nearest rank); ds is sorted in place.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(int(q*float64(len(ds))), len(ds)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkClaim times the claim every pass runs — 500 due readers taken
// and leased, in one statement — among 100,000
// and among 1,000,000 subscribers, 1% of them due in both: a claim that
// costs about the same in both is O(due), not O(subscribers). After each
// claim (outside ms/claim, inside ns/op) the claimed readers move a month
// ahead and the next 500 come due, so every iteration claims the same kind
// of work. The seeding runs once per -count.
//
//	go test -run '^$' -bench BenchmarkClaim -benchtime 100x -count 3 ./internal/send/
func BenchmarkClaim(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchClaim(b, n) })
	}
}

func benchClaim(b *testing.B, n int) {
	const batch = 500
	ctx := context.Background()
	db := dbtest.New(b)
	newEngine(b, db, nil) // imports the lessons the ledger rows point at
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	seedSubscribers(b, db, n, now)
	settle(b, db, "subscribers", "schedule", "deliveries")

	var claims []time.Duration
	ids := make([]int64, 0, batch)
	for b.Loop() {
		start := time.Now()
		got, err := db.ClaimAndBegin(ctx, now, batch, now, now.Add(time.Minute))
		claims = append(claims, time.Since(start))
		if err != nil || len(got) != batch {
			b.Fatalf("claimed %d of %d: %v", len(got), batch, err)
		}
		ids = ids[:0]
		for _, c := range got {
			if c.Attempt == nil {
				b.Fatalf("subscriber %d claimed without a lesson", c.Sub.ID)
			}
			ids = append(ids, c.Sub.ID)
		}
		// As if sent: the claimed readers are due again in a month, and the
		// next 500 come due, so every claim finds 1% due and new readers,
		// as a week of passes would.
		if _, err := db.Pool.Exec(ctx, `UPDATE schedule SET due_at = $2::timestamptz + interval '30 days', lease_until = NULL WHERE subscriber_id = ANY($1)`, ids, now); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, `
			UPDATE schedule SET due_at = $1::timestamptz - interval '1 minute'
			WHERE subscriber_id IN (SELECT subscriber_id FROM schedule WHERE active AND due_at > $1 ORDER BY due_at LIMIT $2)`, now, batch); err != nil {
			b.Fatal(err)
		}
	}
	var sum time.Duration
	for _, d := range claims {
		sum += d
	}
	b.ReportMetric(ms(sum)/float64(len(claims)), "ms/claim")
	b.ReportMetric(ms(quantile(claims, 0.99)), "p99-ms/claim")
	b.Logf("claim of %d among %d subscribers (%d due), leases included: mean %.2fms, p50 %.2fms, p99 %.2fms over %d claims",
		batch, n, n/100, ms(sum)/float64(len(claims)), ms(quantile(claims, 0.5)), ms(quantile(claims, 0.99)), len(claims))
}

// seedSubscribers fills db with n active subscribers on lesson 2, of whom
// 1% are due at now and the rest over the next week, each with lesson 1 in
// the ledger as sent, and analyses both tables.
func seedSubscribers(t testing.TB, db *store.DB, n int, now time.Time) {
	t.Helper()
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `
		WITH s AS (
			INSERT INTO subscribers (email, status, time_zone, send_weekday, send_hour, consent_at)
			SELECT 'r' || g || '@example.com', 'active', 'UTC', 1, 8, $1
			FROM generate_series(1, $2) g
			RETURNING id)
		INSERT INTO schedule (subscriber_id, lesson, due_at, active)
		SELECT id, 2, CASE WHEN id % 100 = 0 THEN $1::timestamptz - interval '1 minute' ELSE $1::timestamptz + (id % 10000) * interval '1 minute' END, true
		FROM s`, now, n)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Pool.Exec(ctx, `
		INSERT INTO deliveries (subscriber_id, round, lesson, status, attempts, due_at, sent_at, created_at, updated_at)
		SELECT id, 1, 1, 'sent', 1, $1::timestamptz - interval '7 days', $1::timestamptz - interval '7 days',
			$1::timestamptz - interval '7 days', $1::timestamptz - interval '7 days'
		FROM subscribers`, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `ANALYZE subscribers, schedule, deliveries`); err != nil {
		t.Fatal(err)
	}
}
