// Package web serves twostep's pages: signup, confirmation, unsubscribe,
// health and metrics. Every route is listed in routes.go.
package web

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// Site is what the pages say about the course.
type Site struct {
	Title    string
	Tagline  string
	Language string
	Lessons  int
	SendHour int // default local hour of delivery
}

// Options configure a Server.
type Options struct {
	Site            Site
	Templates       fs.FS // the templates folder; pages are under web/
	SignupRateLimit int   // per client IP per minute; 0 = off
	Registry        *prometheus.Registry
	Log             *slog.Logger
	// Nudge, when set, is called after a signup queued mail, so the outbox
	// worker sends it now instead of at its next poll.
	Nudge func()
	// Clock is the wall clock (nil: time.Now).
	Clock clock.Clock
	// Lessons serves the reader's lesson pages.
	Lessons Lessons
	// Admin, when set, is mounted at /admin.
	Admin http.Handler
	// Webhooks, when set, serves POST /webhooks/{provider}.
	Webhooks http.Handler
	// TrustedProxies are the reverse proxies whose forwarding headers name
	// the client (see clientip.go); empty: every header is ignored.
	TrustedProxies []netip.Prefix
}

// Store is what the reader's pages need of the database, and all they may
// do there.
type Store interface {
	Ping(ctx context.Context) error
	Signup(ctx context.Context, s drip.Signup) (queued bool, err error)
	Subscriber(ctx context.Context, id int64, gen int) (*drip.Subscriber, error)
	Confirm(ctx context.Context, id int64, gen int, defaultWeekday time.Weekday, defaultHour int, now time.Time) (*drip.Subscriber, error)
	// Change is every change of the reader's standing (see drip.Apply).
	Change(ctx context.Context, ref store.Ref, c drip.Change, a store.AdminAction) (*drip.Subscriber, error)
	SetSchedule(ctx context.Context, id int64, gen int, slot drip.Slot, now time.Time) (*drip.Subscriber, error)
	SetName(ctx context.Context, id int64, gen int, name string, now time.Time) (*drip.Subscriber, error)
	RequestEmailChange(ctx context.Context, id int64, gen int, newEmail string, now time.Time) (*drip.Subscriber, error)
	ConfirmEmailChange(ctx context.Context, id int64, gen int, now time.Time) (*drip.Subscriber, error)
	Tried(ctx context.Context, id int64, gen int, n int, now time.Time) error
	ReceivedLessons(ctx context.Context, id int64) ([]store.Received, error)
	HasReceived(ctx context.Context, id int64, n int) (bool, error)
	Export(ctx context.Context, s *drip.Subscriber) (*store.DataExport, error)
	Erase(ctx context.Context, id int64, gen int, actor string) error
}

// Server holds what the handlers share.
type Server struct {
	db      Store
	signer  *token.Signer
	opts    Options
	pages   httpx.Pages
	log     *slog.Logger
	metrics *metrics
}

// MaxBody is the largest request body any form accepts.
const MaxBody = 64 << 10

// ConsentVersion names the wording of the consent text on the signup form;
// it is stored with every signup. Change it whenever the text changes.
const ConsentVersion = "2026-11-v1"

// New parses the page templates and returns a Server.
func New(db Store, signer *token.Signer, opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	pages, err := httpx.ParsePages(opts.Templates, "web", nil, "signup", "check_inbox", "confirm", "confirmed", "unsubscribe",
		"unsubscribed", "error", "preferences", "my_lessons", "lesson", "tried", "tried_done", "confirm_email")
	if err != nil {
		return nil, err
	}
	return &Server{db: db, signer: signer, opts: opts, pages: pages, log: opts.Log, metrics: newMetrics(opts.Registry)}, nil
}

// page is the data every page template gets.
type page struct {
	Site    Site
	NoIndex bool
	// Page-specific fields; unused ones stay empty.
	Form     signupForm
	Error    string
	Consent  string
	Email    string
	Action   string
	Heading  string
	Message  string
	Weekday  string
	Hour     string
	TimeZone string
	Prefs    prefs
	// The signup form's choices, and the check-your-inbox page's suggestion.
	Weekdays []time.Weekday
	Hours    []int
	Suggest  string
}

// render writes page name with status (see httpx.Pages.Render).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Site = s.opts.Site
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if p.NoIndex {
		h.Set("X-Robots-Tag", "noindex, nofollow")
	}
	if err := s.pages.Render(w, status, name, p); err != nil {
		s.log.Error("render page", "page", name, "err", err)
	}
}

// redactPath hides tokens from logs.
func redactPath(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) > 2 {
		for i := 2; i < len(parts); i++ {
			parts[i] = "…"
		}
	}
	return strings.Join(parts, "/")
}
