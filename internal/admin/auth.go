package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/web"
)

// cookieName is the session cookie; it is sent only to /admin.
const cookieName = "twostep_admin"

type sessionKey struct{}

func sessionFrom(ctx context.Context) *store.AdminSession {
	s, _ := ctx.Value(sessionKey{}).(*store.AdminSession)
	return s
}

type loginData struct {
	Email string
	Next  string
}

func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "login", page{Title: "Sign in", Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}})
}

// login checks the email and password. The password is always compared,
// even for an unknown email, and both comparisons take constant time, so
// the answer's timing tells nothing. Past the failure limit nothing is
// compared at all: 429.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	if err := httpx.ParseForm(r, maxForm); err != nil {
		h.fail(w, r, err)
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	data := loginData{Email: email, Next: next}

	check := func() bool {
		pwOK := bcrypt.CompareHashAndPassword(h.hash, []byte(password)) == nil
		emailOK := subtle.ConstantTimeCompare([]byte(strings.ToLower(email)), []byte(h.email)) == 1
		return pwOK && emailOK
	}
	result, err := h.db.LoginAttempt(r.Context(), store.Login{IP: web.ClientIP(r), Account: email, At: h.now(),
		Since: h.now().Add(-failureWindow), MaxFailures: maxFailures, Check: check})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch result {
	case store.LoginLimited:
		w.Header().Set("Retry-After", strconv.Itoa(int(failureWindow.Seconds())))
		h.render(w, r, http.StatusTooManyRequests, "login", page{Title: "Sign in",
			Error: "Too many failed sign-ins. Please wait 15 minutes and try again.", Data: data})
		return
	case store.LoginFailed:
		// The account typed is kept as given (it may not be the admin's),
		// made printable and short; attempts past the limit are refused
		// without a comparison and are not written, so a flood cannot
		// fill the log.
		if err := h.db.Audit(r.Context(), store.AuditEntry{At: h.now(), Actor: drip.Truncate(strings.ToValidUTF8(email, "?"), 254),
			Action: "session.sign_in_failed", SubjectType: "session", IP: web.ClientIP(r)}); err != nil {
			h.log.Error("audit failed sign-in", "err", err)
		}
		h.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in",
			Error: "That email and password do not match.", Data: data})
		return
	}

	// A fresh session id at every sign-in: an id planted before sign-in
	// (session fixation) never becomes a signed-in one.
	var old []byte
	if c, err := r.Cookie(cookieName); err == nil {
		old = hashID(c.Value)
	}
	id, err := newSessionID()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	now := h.now()
	s := store.AdminSession{IDHash: hashID(id), Email: h.email, CreatedAt: now, ExpiresAt: now.Add(idleTimeout),
		IP: web.ClientIP(r), UserAgent: drip.Truncate(r.UserAgent(), 300)}
	if err := h.db.CreateAdminSession(r.Context(), s, old); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.db.Audit(r.Context(), store.AuditEntry{At: now, Actor: h.email, Action: "session.sign_in",
		SubjectType: "session", IP: web.ClientIP(r)}); err != nil {
		h.log.Error("audit sign-in", "err", err)
	}
	h.setCookie(w, r, id)
	redirect(w, r, next)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	if err := h.db.DeleteAdminSession(r.Context(), s.IDHash); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.db.Audit(r.Context(), store.AuditEntry{At: h.now(), Actor: s.Email, Action: "session.sign_out",
		SubjectType: "session", IP: web.ClientIP(r)}); err != nil {
		h.log.Error("audit sign-out", "err", err)
	}
	h.setCookie(w, r, "")
	redirect(w, r, "/admin/login")
}

// requireSession lets through only requests with a live session of the
// configured admin; others go to the sign-in page, which brings them back.
func (h *handler) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.session(r)
		if errors.Is(err, drip.ErrNotFound) {
			target := "/admin/login"
			if r.Method == http.MethodGet {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			redirect(w, r, target)
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	})
}

// session loads the request's session, extending its idle expiry at most
// once a minute so that reading pages does not write on every request.
func (h *handler) session(r *http.Request) (*store.AdminSession, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, drip.ErrNotFound
	}
	now := h.now()
	s, err := h.db.AdminSessionByHash(r.Context(), hashID(c.Value), now)
	if err != nil {
		return nil, err
	}
	// A session of an earlier ADMIN_EMAIL is not this admin's.
	if subtle.ConstantTimeCompare([]byte(s.Email), []byte(h.email)) != 1 {
		return nil, drip.ErrNotFound
	}
	if now.Sub(s.LastSeenAt) > time.Minute {
		if err := h.db.TouchAdminSession(r.Context(), s.IDHash, now, now.Add(idleTimeout), sessionMaxAge); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// setCookie sets the session cookie, or deletes it when value is empty.
// Max-Age rather than Expires: the browser's clock need not agree with ours.
// Secure when BASE_URL is https or the request came over TLS, directly or
// through a trusted proxy that said so (web.IsHTTPS).
func (h *handler) setCookie(w http.ResponseWriter, r *http.Request, value string) {
	c := &http.Cookie{Name: cookieName, Value: value, Path: "/admin", HttpOnly: true, Secure: h.secure || web.IsHTTPS(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(sessionMaxAge.Seconds())}
	if value == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func newSessionID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashID(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}

// safeNext keeps the after-sign-in redirect inside the admin: a next of
// "//evil.example" or "https://evil.example" becomes the dashboard.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/admin") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n") {
		return "/admin/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/admin/"
	}
	return next
}
