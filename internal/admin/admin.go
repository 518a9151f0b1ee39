// Package admin is the course owner's side of twostep: sign-in, the lesson
// editor with a live preview of the real email, subscribers and their
// history, CSV import and export, the dashboard and the audit log. Every
// route is listed in routes; every page is a template under
// templates/web/admin/, rendered on the server.
package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/web"
)

// Store is what the admin needs of the database, and all it may do
// there; the CSV import and export take their own one-method interfaces.
type Store interface {
	// Sign-in and sessions.
	AdminPasswordHash(ctx context.Context, email string) ([]byte, error)
	SetAdminPassword(ctx context.Context, email string, hash []byte, now time.Time) error
	LoginAttempt(ctx context.Context, l store.Login) (store.LoginResult, error)
	CreateAdminSession(ctx context.Context, s store.AdminSession, replaces []byte) error
	AdminSessionByHash(ctx context.Context, idHash []byte, now time.Time) (*store.AdminSession, error)
	TouchAdminSession(ctx context.Context, idHash []byte, now, expires time.Time, maxAge time.Duration) error
	DeleteAdminSession(ctx context.Context, idHash []byte) error
	// The audit log.
	Audit(ctx context.Context, e store.AuditEntry) error
	AuditLog(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, bool, error)
	// The dashboard and deliveries.
	LoadDashboard(ctx context.Context, now time.Time, weeks int) (*store.Dashboard, error)
	DueByLesson(ctx context.Context, until time.Time) (map[int]int, error)
	RetryDelivery(ctx context.Context, id int64, a store.AdminAction) error
	// Lessons and their revisions.
	LessonStates(ctx context.Context) ([]store.LessonState, error)
	LessonRevisions(ctx context.Context, n int) ([]store.Revision, error)
	LessonRevision(ctx context.Context, n, number int) (store.Revision, error)
	Revisions(ctx context.Context, ids []int64) ([]store.Revision, error)
	SaveLessonRevision(ctx context.Context, e store.LessonEdit) (rev store.Revision, changed bool, err error)
	// Subscribers.
	SearchSubscribers(ctx context.Context, q store.SubscriberQuery) (store.SubscriberPage, error)
	SubscriberByID(ctx context.Context, id int64) (*drip.Subscriber, error)
	Suppressed(ctx context.Context, email string) (bool, error)
	SubscriberByEmail(ctx context.Context, email string) (*drip.Subscriber, error)
	Timeline(ctx context.Context, id int64) ([]store.TimelineEntry, error)
	Change(ctx context.Context, ref store.Ref, c drip.Change, a store.AdminAction) (*drip.Subscriber, error)
	RecordResend(ctx context.Context, r store.Resend) error
	// ReceivedLessons is what may be resent: only lessons the reader has had.
	ReceivedLessons(ctx context.Context, id int64) ([]store.Received, error)
	EraseSubscriber(ctx context.Context, id int64, a store.AdminAction) error
	// Bounces, complaints and the suppression list.
	Reports(ctx context.Context, q store.ReportQuery) (store.ReportPage, error)
	ReportsByLesson(ctx context.Context) (map[int]store.LessonReports, error)
	Suppressions(ctx context.Context, q store.SuppressionQuery) (store.SuppressionPage, error)
	LiftSuppression(ctx context.Context, email string, a store.AdminAction) error
	Importer
	Exporter
}

// Importer adds subscribers from a CSV import.
type Importer interface {
	ImportSubscribers(ctx context.Context, next func() (store.ImportRow, bool, error), a store.AdminAction) (store.ImportCounts, error)
}

// Exporter streams subscribers for a CSV export.
type Exporter interface {
	ExportSubscribers(ctx context.Context, f store.SubscriberFilter, fn func(store.ExportRow) error) error
}

// Deps is what the admin needs from the rest of the service.
type Deps struct {
	DB      Store
	Library *course.Library // the current lesson revisions
	Letters *letter.Letters // renders lessons as subscribers get them
	Open    mail.Opener     // for test sends and resends
	// Templates is the templates folder; the admin's pages are web/admin/*.html.
	Templates fs.FS
	// Lessons is the course folder, for course.yaml in the lesson export.
	Lessons                   fs.FS
	AdminEmail, AdminPassword string
	// BaseURL decides whether cookies are Secure (https).
	BaseURL *url.URL
	Log     *slog.Logger
	// Clock is the wall clock (nil: time.Now).
	Clock clock.Clock
	// BcryptCost is the cost of the password hash; 0 means bcrypt.DefaultCost.
	BcryptCost int
}

// Session lifetimes: a session ends after idleTimeout without a request,
// and sessionMaxAge after sign-in whatever happens.
const (
	idleTimeout   = 12 * time.Hour
	sessionMaxAge = 7 * 24 * time.Hour
)

// Sign-in limits: at most maxFailures wrong passwords per client IP and per
// account within failureWindow.
const (
	maxFailures   = 5
	failureWindow = 15 * time.Minute
)

// Body limits: forms and lesson sources are small; a CSV upload is not.
const (
	maxForm   = 1 << 20
	maxUpload = 512 << 20
)

// handler holds what the admin's handlers share.
type handler struct {
	d      Deps
	db     Store
	log    *slog.Logger
	now    func() time.Time
	pages  httpx.Pages
	hash   []byte // bcrypt hash of the admin password; the password itself is not kept
	email  string // lower case
	secure bool
}

// New returns the admin's HTTP handler, to be mounted at /admin. When
// ADMIN_EMAIL and ADMIN_PASSWORD are unset the admin is disabled: New logs
// so and returns a nil handler and a nil error, and /admin answers 404.
//
// The password is hashed with bcrypt here and kept only as that hash. When
// it differs from the password of the last start (on any copy), every
// session is revoked.
func New(ctx context.Context, d Deps) (http.Handler, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.AdminEmail == "" || d.AdminPassword == "" {
		d.Log.Info("admin disabled: set ADMIN_EMAIL and ADMIN_PASSWORD to enable /admin")
		return nil, nil
	}
	if d.BcryptCost == 0 {
		d.BcryptCost = bcrypt.DefaultCost
	}
	pages, err := httpx.ParsePages(d.Templates, "web/admin", funcs, "login", "dashboard", "lessons", "lesson", "history",
		"subscribers", "subscriber", "import", "audit", "error", "reports", "suppressions")
	if err != nil {
		return nil, err
	}
	h := &handler{d: d, db: d.DB, log: d.Log, now: d.Clock.Now, pages: pages,
		email: strings.ToLower(d.AdminEmail), secure: d.BaseURL != nil && d.BaseURL.Scheme == "https"}
	if err := h.setPassword(ctx, d.AdminPassword); err != nil {
		return nil, err
	}
	return h.routes(), nil
}

// setPassword hashes the configured password and, when it is not the one
// stored at the last start, stores it and revokes every session.
func (h *handler) setPassword(ctx context.Context, password string) error {
	stored, err := h.db.AdminPasswordHash(ctx, h.email)
	switch {
	case errors.Is(err, drip.ErrNotFound):
	case err != nil:
		return err
	case bcrypt.CompareHashAndPassword(stored, []byte(password)) == nil:
		h.hash = stored // unchanged: no second bcrypt at every start
		return nil
	default:
		h.log.Info("admin password changed: every admin session is signed out")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), h.d.BcryptCost)
	if err != nil {
		return fmt.Errorf("hash ADMIN_PASSWORD: %w", err)
	}
	h.hash = hash
	return h.db.SetAdminPassword(ctx, h.email, hash, h.now())
}

// routes lists every admin route. Cross-origin protection comes first, so a
// cross-site unsafe request is refused whether or not it carries a session.
func (h *handler) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(adminHeaders)

	r.Get("/login", h.loginPage)
	r.With(httpx.LimitBody(maxForm)).Post("/login", h.login)

	r.Group(func(r chi.Router) {
		r.Use(h.requireSession)
		r.With(httpx.LimitBody(maxForm)).Post("/logout", h.logout)

		r.Get("/", h.dashboard)
		r.With(httpx.LimitBody(maxForm)).Post("/deliveries/{id}/retry", h.retryDelivery)

		r.Get("/lessons", h.lessons)
		r.Get("/lessons/export.zip", h.exportLessons)
		r.Get("/lessons/{n}", h.lessonEditor)
		r.With(httpx.LimitBody(maxForm)).Post("/lessons/{n}", h.saveLesson)
		r.With(httpx.LimitBody(maxForm)).Post("/lessons/{n}/preview", h.previewLesson)
		r.Get("/lessons/{n}/history", h.lessonHistory)
		r.With(httpx.LimitBody(maxForm)).Post("/lessons/{n}/restore", h.restoreLesson)
		r.With(httpx.LimitBody(maxForm)).Post("/lessons/{n}/test", h.testSend)

		r.Get("/subscribers", h.subscribers)
		r.Get("/subscribers/export.csv", h.exportSubscribers)
		r.Get("/subscribers/import", h.importPage)
		r.With(httpx.LimitBody(maxUpload)).Post("/subscribers/import", h.importSubscribers)
		r.Get("/subscribers/{id}", h.subscriber)
		r.With(httpx.LimitBody(maxForm)).Post("/subscribers/{id}/{action}", h.subscriberAction)

		r.Get("/reports", h.reports)
		r.Get("/suppressions", h.suppressions)
		r.With(httpx.LimitBody(maxForm)).Post("/suppressions/lift", h.liftSuppression)

		r.Get("/audit", h.audit)
	})

	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusNotFound, "error", page{Title: "Not found", Data: errorData{Message: "There is no admin page at this address."}})
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusForbidden, "error", page{Title: "Request refused",
			Data: errorData{Message: "This request came from another site, so nothing was changed."}})
	}))
	return cop.Handler(r)
}

const adminCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; " +
	"connect-src 'self'; frame-src 'self' about:; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// adminHeaders keeps admin pages out of caches, search engines and frames.
// The content security policy replaces the public pages' one: the editor
// fetches its preview from the server (connect-src) and shows the email in
// a sandboxed frame (frame-src); nothing is loaded from elsewhere.
func adminHeaders(next http.Handler) http.Handler {
	secure := httpx.SecurityHeaders(adminCSP)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Robots-Tag", "noindex, nofollow")
		secure.ServeHTTP(w, r)
	})
}

// page is what every admin template gets; Data is the page's own.
type page struct {
	Title  string
	Nav    string // the section to highlight
	Admin  string // the signed-in admin; empty on the sign-in page
	Flash  string
	Error  string
	Data   any
	Status int
}

type errorData struct{ Message string }

// render writes an admin page with status (see httpx.Pages.Render).
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if s := sessionFrom(r.Context()); s != nil {
		p.Admin = s.Email
	}
	p.Status = status
	if err := h.pages.Render(w, status, name, p); err != nil {
		h.log.Error("render admin page", "page", name, "err", err)
	}
}

// action is who does what from where, and when, for the store's audit
// entries.
func (h *handler) action(r *http.Request) store.AdminAction {
	a := store.AdminAction{IP: web.ClientIP(r), At: h.now()}
	if s := sessionFrom(r.Context()); s != nil {
		a.Actor = s.Email
	}
	return a
}

// redirect answers a form post with 303 to path.
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// idCursor is the id a list page starts before, under key in q: 0 (the
// first page) when missing or not an id.
func idCursor(q url.Values, key string) int64 {
	if id, ok := parseID(q.Get(key)); ok {
		return id
	}
	return 0
}

// nextPage is the link to the page after this one: path with the list's
// filters v and cursor under key; "" when cursor is "" (no page follows).
func nextPage(path string, v url.Values, key, cursor string) string {
	if cursor == "" {
		return ""
	}
	v.Set(key, cursor)
	return path + "?" + v.Encode()
}

// parseID reads a positive database id.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}
