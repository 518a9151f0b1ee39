package admin_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/admin"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/smtptest"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const (
	adminEmail    = "owner@example.com"
	adminPassword = "correct horse battery staple"
)

// harness is the admin in-process over a fresh database, mounted at /admin
// as the service mounts it, with a real SMTP server and a clock the test
// controls.
type harness struct {
	t       testing.TB
	db      *store.DB
	smtp    *smtptest.Server
	srv     *httptest.Server
	library *course.Library
	course  *course.Course
	letters *letter.Letters
	open    mail.Opener
	client  *http.Client // keeps cookies; never follows redirects
	admin   http.Handler // the admin handler h.srv serves at /admin

	mu  sync.Mutex
	now time.Time
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, db: dbtest.New(t), smtp: smtptest.Start(t), now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	c, problems := course.Load(twostep.Lessons)
	if len(problems) > 0 {
		t.Fatalf("shipped course: %v", problems)
	}
	h.course = c
	h.library = &course.Library{DB: h.db, Base: c}
	if _, err := h.library.Sync(ctx, h.clock()); err != nil {
		t.Fatal(err)
	}
	renderer, err := course.NewRenderer(twostep.Templates)
	if err != nil {
		t.Fatal(err)
	}
	key, err := h.db.SecretKey(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := token.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	h.letters = &letter.Letters{Course: c, Renderer: renderer, Signer: signer, BaseURL: "http://twostep.test", From: c.From}
	h.open = mail.NewOpener(h.smtp.Config(), "", mail.Options{ReplyTimeout: 5 * time.Second, DialTimeout: time.Second, HELO: "test"})
	handler, err := admin.New(ctx, admin.Deps{
		DB:        h.db,
		Library:   h.library,
		Letters:   h.letters,
		Open:      h.open,
		Templates: twostep.Templates, Lessons: twostep.Lessons,
		AdminEmail: adminEmail, AdminPassword: adminPassword,
		BaseURL: &url.URL{Scheme: "http", Host: "twostep.test"},
		Log:     slog.New(slog.DiscardHandler),
		Clock:   h.clock,
		// The cheapest cost keeps the many sign-ins of the tests fast.
		BcryptCost: bcrypt.MinCost,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.admin = handler
	r := chi.NewRouter()
	r.Mount("/admin", handler)
	h.srv = httptest.NewServer(r)
	t.Cleanup(h.srv.Close)
	h.client = newClient()
	return h
}

func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

// do sends a request with h's client; header holds name, value pairs.
func (h *harness) do(c *http.Client, method, path string, body io.Reader, contentType string, header ...string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func (h *harness) get(path string, header ...string) *http.Response {
	h.t.Helper()
	return h.do(h.client, "GET", path, nil, "", header...)
}

func (h *harness) post(path string, form url.Values, header ...string) *http.Response {
	h.t.Helper()
	return h.do(h.client, "POST", path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", header...)
}

// login signs h's client in and fails the test unless it worked.
func (h *harness) login() {
	h.t.Helper()
	resp := h.post("/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/" {
		h.t.Fatalf("sign-in answered %d %q, want 303 to /admin/", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func body(t testing.TB, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func drain(r *http.Response) {
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
}

// page GETs path, wants 200 and returns the body.
func (h *harness) page(path string) string {
	h.t.Helper()
	resp := h.get(path)
	b := body(h.t, resp)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s = %d, want 200:\n%s", path, resp.StatusCode, b)
	}
	return b
}

func (h *harness) count(sql string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (h *harness) exec(sql string, args ...any) {
	h.t.Helper()
	if _, err := h.db.Pool.Exec(context.Background(), sql, args...); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
}

// addSubscriber inserts an active subscriber on lesson next, due at due.
func (h *harness) addSubscriber(email, name string, next int, due time.Time) int64 {
	h.t.Helper()
	var id int64
	err := h.db.Pool.QueryRow(context.Background(), `
		WITH s AS (
			INSERT INTO subscribers (email, name, status, time_zone, send_weekday, send_hour, consent_at, confirmed_at)
			VALUES ($1, $2, 'active', 'Europe/Berlin', 1, 8, $4, $4) RETURNING id, status
		), p AS (
			INSERT INTO schedule (subscriber_id, lesson, due_at, active) SELECT id, $3, $4, status = 'active' FROM s
		)
		SELECT id FROM s`,
		email, name, next, due).Scan(&id)
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func templatesFS() fs.FS { return twostep.Templates }

// lessonSource is the current text of lesson n and its revision id.
func (h *harness) lessonSource(n int) (string, int64) {
	h.t.Helper()
	ids, err := h.db.CurrentRevisionIDs(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	revs, err := h.db.Revisions(context.Background(), []int64{ids[n]})
	if err != nil || len(revs) != 1 {
		h.t.Fatalf("no lesson %d (%v)", n, err)
	}
	return string(revs[0].Source), revs[0].ID
}

// hour is short for building due times.
const hour = time.Hour

// between returns the text of s after the first from, up to the next to.
func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	before, _, _ := strings.Cut(after, to)
	return before
}
