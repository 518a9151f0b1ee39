package send_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/send"
	"github.com/twostep/twostep/internal/smtptest"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

func TestMain(m *testing.M) {
	if os.Getenv("TWOSTEP_CRASH_PASS") != "" {
		crashPassChild()
		return
	}
	dbtest.Main(m)
}

// fixture is the delivery engine over a fresh database and a real SMTP
// server, with a clock the test sets.
type fixture struct {
	t      testing.TB
	db     *store.DB
	smtp   *smtptest.Server
	engine *send.Engine
	signer *token.Signer

	mu  sync.Mutex
	now time.Time
}

var testMailOptions = mail.Options{ReplyTimeout: 3 * time.Second, DialTimeout: time.Second, HELO: "test"}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db := dbtest.New(t)
	return newFixtureOn(t, db, smtptest.Start(t))
}

func newFixtureOn(t testing.TB, db *store.DB, sink *smtptest.Server) *fixture {
	t.Helper()
	f := &fixture{t: t, db: db, smtp: sink, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	f.engine = newEngine(t, db, sink)
	f.signer = f.engine.Letters.Signer
	return f
}

// newEngine builds an engine like `serve` does, over the shipped course.
func newEngine(t testing.TB, db *store.DB, sink *smtptest.Server) *send.Engine {
	t.Helper()
	ctx := context.Background()
	c, problems := course.Load(twostep.Lessons)
	if len(problems) > 0 {
		t.Fatalf("shipped course: %v", problems)
	}
	lib := &course.Library{DB: db, Base: c}
	if _, err := lib.Sync(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	renderer, err := course.NewRenderer(twostep.Templates)
	if err != nil {
		t.Fatal(err)
	}
	key, err := db.SecretKey(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := token.NewSigner(key)
	return &send.Engine{
		DB: db, Library: lib,
		Letters: &letter.Letters{Course: c, Renderer: renderer, Signer: signer, BaseURL: "http://twostep.test", From: c.From},
		Open:    openerFor(sink),
		Log:     slog.New(slog.DiscardHandler),
		Conns:   4, Batch: 50, Lease: send.DefaultLease, PolicyPause: send.DefaultPolicyPause, GiveUp: send.DefaultGiveUp,
	}
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) set(t time.Time) {
	f.mu.Lock()
	f.now = t
	f.mu.Unlock()
}

func (f *fixture) advance(d time.Duration) { f.set(f.clock().Add(d)) }

func (f *fixture) pass() send.Summary {
	f.t.Helper()
	s, err := f.engine.Pass(context.Background(), f.clock)
	if err != nil {
		f.t.Fatalf("pass: %v", err)
	}
	return s
}

// addActive inserts a confirmed subscriber whose next lesson is due at due,
// with slot weekday/hour in zone tz.
func (f *fixture) addActive(email, tz string, weekday time.Weekday, hour int, due time.Time) int64 {
	f.t.Helper()
	var id int64
	err := f.db.Pool.QueryRow(context.Background(), `
		WITH s AS (
			INSERT INTO subscribers (email, name, status, time_zone, send_weekday, send_hour, consent_at, confirmed_at)
			VALUES ($1, 'Reader', 'active', $2, $3, $4, $5, $5) RETURNING id)
		INSERT INTO schedule (subscriber_id, lesson, due_at, active) SELECT id, 1, $5, true FROM s RETURNING subscriber_id`,
		email, tz, int(weekday), hour, due).Scan(&id)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// addMany inserts n active subscribers due at due, in one statement.
func addMany(t testing.TB, db *store.DB, n int, due time.Time) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(), `
		WITH s AS (
			INSERT INTO subscribers (email, name, status, time_zone, send_weekday, send_hour, consent_at, confirmed_at)
			SELECT 'reader' || g || '@example.com', 'Reader ' || g, 'active', 'Europe/Berlin', 1, 8, $2, $2
			FROM generate_series(1, $1) g
			RETURNING id)
		INSERT INTO schedule (subscriber_id, lesson, due_at, active) SELECT id, 1, $2, true FROM s`, n, due)
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) subscriber(id int64) *drip.Subscriber {
	f.t.Helper()
	s, err := f.db.Subscriber(context.Background(), id, 1)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func lessonHeader(m smtptest.Message) string { return m.Header.Get("X-Twostep-Lesson") }

func recipients(msgs []smtptest.Message) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		out[fmt.Sprint(m.To, lessonHeader(m))]++
	}
	return out
}

func openerFor(sink *smtptest.Server) mail.Opener {
	if sink == nil {
		return nil
	}
	return mail.NewOpener(sink.Config(), "", testMailOptions)
}
