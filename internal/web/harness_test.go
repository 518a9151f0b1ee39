package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/send"
	"github.com/twostep/twostep/internal/smtptest"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
	"github.com/twostep/twostep/internal/web"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// harness is the service in-process: a fresh database, a real SMTP server,
// the HTTP handler and the outbox sender, with a clock the test controls.
type harness struct {
	t      *testing.T
	db     *store.DB
	smtp   *smtptest.Server
	srv    *httptest.Server
	outbox *send.Outbox
	engine *send.Engine
	signer *token.Signer

	mu  sync.Mutex
	now time.Time
}

type harnessOpts struct {
	rateLimit int
	trusted   []netip.Prefix // TRUSTED_PROXIES
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, db: dbtest.New(t), smtp: smtptest.Start(t), now: time.Date(2026, 3, 3, 15, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	c, problems := course.Load(twostep.Lessons)
	if len(problems) > 0 {
		t.Fatalf("shipped course: %v", problems)
	}
	renderer, err := course.NewRenderer(twostep.Templates)
	if err != nil {
		t.Fatal(err)
	}
	key, err := h.db.SecretKey(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	h.signer, _ = token.NewSigner(key)
	letters := &letter.Letters{Course: c, Renderer: renderer, Signer: h.signer, BaseURL: "http://twostep.test", From: c.From}
	lib := &course.Library{DB: h.db, Base: c}
	if _, err := lib.Sync(ctx, h.clock()); err != nil {
		t.Fatal(err)
	}
	h.engine = &send.Engine{
		DB: h.db, Library: lib, Letters: letters, Log: slog.New(slog.DiscardHandler), Open: mailOpener(h.smtp),
		Conns: 2, Batch: 50, Lease: send.DefaultLease, PolicyPause: send.DefaultPolicyPause, GiveUp: send.DefaultGiveUp,
	}
	h.outbox = &send.Outbox{DB: h.db, Letters: letters, Log: slog.New(slog.DiscardHandler), Poll: time.Hour,
		Open: mailOpener(h.smtp), Clock: h.clock}
	s, err := web.New(h.db, h.signer, web.Options{
		Site:            web.Site{Title: c.Title, Tagline: c.Tagline, Language: c.Language, Lessons: c.LessonCount, SendHour: c.SendHour},
		Templates:       twostep.Templates,
		SignupRateLimit: o.rateLimit,
		Clock:           h.clock,
		Lessons:         &letter.Pages{Library: lib, Letters: letters},
		TrustedProxies:  o.trusted,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(s.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) set(t time.Time) {
	h.mu.Lock()
	h.now = t
	h.mu.Unlock()
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

// client never follows redirects, so tests see the 303s.
var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (h *harness) post(path string, form url.Values, header ...string) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func (h *harness) get(path string) *http.Response {
	h.t.Helper()
	resp, err := client.Get(h.srv.URL + path)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func (h *harness) flush() send.FlushResult {
	h.t.Helper()
	res, err := h.outbox.Flush(context.Background(), nil)
	if err != nil {
		h.t.Fatalf("flush outbox: %v", err)
	}
	return res
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (h *harness) count(sql string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

var linkRe = regexp.MustCompile(`http://twostep\.test(/(confirm|unsubscribe|preferences|tried|email)/[A-Za-z0-9_-]+(/[0-9]+)?)`)

// link finds the path of the first link of kind in a raw message.
func link(t *testing.T, m smtptest.Message, kind string) string {
	raw := m.Text()
	t.Helper()
	for _, m := range linkRe.FindAllStringSubmatch(string(raw), -1) {
		if m[2] == kind {
			return m[1]
		}
	}
	t.Fatalf("no %s link in message text:\n%s", kind, raw)
	return ""
}

func mailOpener(s *smtptest.Server) mail.Opener {
	return mail.NewOpener(s.Config(), "", mail.Options{ReplyTimeout: 5 * time.Second, DialTimeout: time.Second, HELO: "test"})
}

// postRedirectGet posts form to path as a browser would, insists on
// POST-redirect-GET (a 303, so that a reload cannot resubmit), and returns
// the page the redirect leads to.
func (h *harness) postRedirectGet(path string, form url.Values) *http.Response {
	h.t.Helper()
	resp := h.post(path, form)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || loc == "" {
		h.t.Fatalf("POST %s answered %d %q, want a 303 to a page", path, resp.StatusCode, loc)
	}
	return h.get(loc)
}
