package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
	"github.com/twostep/twostep/internal/web"
)

// benchClients is how many signups are in flight at once, both through
// HTTP and in the bare-SQL ceiling.
const benchClients = 32

// benchPoolConns is the pool size of both sides: what the service runs
// with by default on this machine.
var benchPoolConns = store.DefaultMaxConns()

// BenchmarkSignup measures POST /subscribe under benchClients concurrent
// keep-alive clients against a real database, and, in the same run, the
// same rows written by bare SQL through a pgxpool at the same concurrency:
// the ceiling this machine's PostgreSQL sets. The gap is what HTTP, form
// parsing, validation and the store's Go code cost.
//
//	go test -run '^$' -bench BenchmarkSignup -benchtime 3000x ./internal/web/
func BenchmarkSignup(b *testing.B) {
	ctx := context.Background()
	srv := newBenchServer(b)
	// Both databases exist before anything is timed: CREATE DATABASE writes
	// WAL and would otherwise land in the middle of the measurement.
	ceilingPool := newCeilingPool(b)
	clients := make([]*http.Client, benchClients)
	for i := range clients {
		clients[i] = &http.Client{
			Transport: &http.Transport{MaxIdleConns: 4, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute},
			// The 303 is the answer; following it would measure another page.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       30 * time.Second,
		}
		defer clients[i].CloseIdleConnections()
	}
	// Open every keep-alive connection before timing, as a steady server has.
	benchParallel(b, benchClients, func(w int) error {
		resp, err := clients[w].Get(srv.URL + "/healthz")
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	})

	var failed atomic.Int64
	jobs := make(chan int)
	lat := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	for w := range benchClients {
		wg.Go(func() {
			for i := range jobs {
				start := time.Now()
				if err := benchPostSignup(clients[w], srv.URL, i); err != nil {
					if failed.Add(1) <= 5 {
						b.Errorf("signup %d: %v", i, err)
					}
					continue
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		})
	}
	start := time.Now()
	n := 0
	for b.Loop() {
		jobs <- n
		n++
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() > 0 {
		b.Fatalf("%d of %d signups failed", failed.Load(), n)
	}
	var got int
	if err := srv.db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM subscribers) + (SELECT count(*) FROM outbox WHERE kind = 'confirm')`).Scan(&got); err != nil {
		b.Fatal(err)
	}
	if got != 2*n {
		b.Fatalf("%d subscriber and outbox rows after %d signups, want %d", got, n, 2*n)
	}

	all := slices.Concat(lat...)
	slices.Sort(all)
	rate := float64(n) / elapsed.Seconds()
	p50, p99 := benchPercentile(all, 50), benchPercentile(all, 99)

	ceiling, ceilingLat := signupCeiling(b, ceilingPool, n)
	pct := 100 * rate / ceiling

	b.ReportMetric(rate, "signups/s")
	b.ReportMetric(benchMillis(p50), "p50-ms")
	b.ReportMetric(benchMillis(p99), "p99-ms")
	b.ReportMetric(ceiling, "ceiling-signups/s")
	b.ReportMetric(pct, "pct-of-ceiling")
	b.ReportMetric(benchMillis(benchPercentile(ceilingLat, 99)), "ceiling-p99-ms")
	verdict := "met"
	if pct < 60 || p99 >= 50*time.Millisecond {
		verdict = "NOT met"
	}
	b.Logf("signup: %.0f/s p50 %.1fms p99 %.1fms; ceiling %.0f/s (p50 %.1fms p99 %.1fms); %.1f%% of ceiling (target >= 60%%, p99 < 50ms: %s) [%d signups, %d clients]",
		rate, benchMillis(p50), benchMillis(p99), ceiling, benchMillis(benchPercentile(ceilingLat, 50)), benchMillis(benchPercentile(ceilingLat, 99)), pct, verdict, n, benchClients)
}

// benchServer is the real handler over a fresh database, with no rate limit.
type benchServer struct {
	*httptest.Server
	db *store.DB
}

func newBenchServer(b *testing.B) benchServer {
	b.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dbtest.WithConns(b, dbtest.URL(b), int(benchPoolConns)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	key, err := db.SecretKey(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	signer, err := token.NewSigner(key)
	if err != nil {
		b.Fatal(err)
	}
	s, err := web.New(db, signer, web.Options{
		Site:            web.Site{Title: "Bench", Language: "en", Lessons: 52, SendHour: 8},
		Templates:       twostep.Templates,
		SignupRateLimit: 0,
	})
	if err != nil {
		b.Fatal(err)
	}
	benchWarmPool(b, db.Pool)
	srv := httptest.NewServer(s.Handler())
	b.Cleanup(srv.Close)
	return benchServer{Server: srv, db: db}
}

func benchPostSignup(c *http.Client, base string, i int) error {
	form := url.Values{"email": {benchEmail(i)}, "name": {"Bench Reader"}, "tz": {"Europe/Berlin"}, "website": {""}}
	req, err := http.NewRequest("POST", base+"/subscribe", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "twostep-bench/1")
	req.Header.Set("Referer", base+"/")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	// Drained, so the connection goes back for reuse.
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("status %d, want 303", resp.StatusCode)
	}
	return nil
}

func benchEmail(i int) string { return fmt.Sprintf("reader-%07d@example.com", i) }

// newCeilingPool is a warm pgxpool over a second fresh database.
func newCeilingPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	pool, err := pgxpool.New(context.Background(), dbtest.WithConns(b, dbtest.URL(b), int(benchPoolConns)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	benchWarmPool(b, pool)
	return pool
}

// signupCeiling writes n signups as store.Signup does (subscriber, event
// and outbox row in one transaction each) with bare SQL, benchClients at a
// time. It returns signups per second and the sorted latencies.
func signupCeiling(b *testing.B, pool *pgxpool.Pool, n int) (float64, []time.Duration) {
	b.Helper()
	ctx := context.Background()
	var failed atomic.Int64
	jobs := make(chan int)
	lat := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	for w := range benchClients {
		wg.Go(func() {
			for i := range jobs {
				start := time.Now()
				if err := benchInsertSignup(ctx, pool, i); err != nil {
					if failed.Add(1) <= 5 {
						b.Errorf("ceiling insert %d: %v", i, err)
					}
					continue
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		})
	}
	start := time.Now()
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() > 0 {
		b.Fatalf("%d of %d ceiling inserts failed", failed.Load(), n)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return float64(n) / elapsed.Seconds(), all
}

// benchInsertSignup is the fastest bare way to store the same rows: the
// same single statement store.Signup runs for a new address (subscriber,
// event and outbox row in one implicit transaction), with the values the
// handler would pass, straight through the pool.
func benchInsertSignup(ctx context.Context, pool *pgxpool.Pool, i int) error {
	now := time.Now()
	var id int64
	return pool.QueryRow(ctx, store.SignupSQL,
		benchEmail(i), "Bench Reader", "Europe/Berlin", now, "127.0.0.1", "twostep-bench/1",
		"http://127.0.0.1/", web.ConsentVersion, nil, nil).Scan(&id)
}

// benchWarmPool opens benchClients connections, so neither side pays for
// connecting inside the timed part.
func benchWarmPool(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	n := min(benchClients, int(pool.Config().MaxConns))
	conns := make([]*pgxpool.Conn, n)
	benchParallel(b, n, func(i int) error {
		c, err := pool.Acquire(context.Background())
		conns[i] = c
		return err
	})
	for _, c := range conns {
		c.Release()
	}
}

// benchParallel runs f(0) … f(n-1) at once and fails b on the first error.
func benchParallel(b *testing.B, n int, f func(i int) error) {
	b.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchPercentile is the p-th percentile of sorted durations, nearest rank.
func benchPercentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

func benchMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
