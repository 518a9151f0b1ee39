package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

func TestSettingThePasswordStoresItsHashAndSignsEverySessionOut(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	if _, err := db.AdminPasswordHash(ctx, "owner@example.com"); !errors.Is(err, drip.ErrNotFound) {
		t.Fatalf("before any password: %v, want drip.ErrNotFound", err)
	}
	if err := db.SetAdminPassword(ctx, "Owner@Example.com", []byte("hash-1"), now); err != nil {
		t.Fatal(err)
	}
	if got, err := db.AdminPasswordHash(ctx, "OWNER@example.com"); err != nil || !bytes.Equal(got, []byte("hash-1")) {
		t.Fatalf("hash = %q, %v; want hash-1 whatever the letter case", got, err)
	}
	s := store.AdminSession{IDHash: []byte("session-1"), Email: "owner@example.com", CreatedAt: now, ExpiresAt: now.Add(time.Hour), IP: "192.0.2.1", UserAgent: "test"}
	if err := db.CreateAdminSession(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.SetAdminPassword(ctx, "owner@example.com", []byte("hash-2"), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.AdminPasswordHash(ctx, "owner@example.com"); !bytes.Equal(got, []byte("hash-2")) {
		t.Fatalf("hash after the change = %q, want hash-2", got)
	}
	if _, err := db.AdminSessionByHash(ctx, s.IDHash, now.Add(2*time.Minute)); !errors.Is(err, drip.ErrNotFound) {
		t.Fatalf("the session survived a password change: %v", err)
	}
	if n := count(t, db, `SELECT count(*) FROM admin_accounts`); n != 1 {
		t.Fatalf("%d accounts, want the one updated", n)
	}
}

func TestASessionLivesUntilItsIdleExpiryNeverPastItsMaxAgeAndEndsOnSignOut(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	const maxAge = 7 * 24 * time.Hour
	s := store.AdminSession{IDHash: []byte("s1"), Email: "owner@example.com", CreatedAt: now, ExpiresAt: now.Add(12 * time.Hour), IP: "192.0.2.1", UserAgent: "firefox"}
	if err := db.CreateAdminSession(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	got, err := db.AdminSessionByHash(ctx, s.IDHash, now.Add(time.Hour))
	if err != nil || got.Email != s.Email || got.IP != s.IP || got.UserAgent != s.UserAgent || !got.ExpiresAt.Equal(s.ExpiresAt) || !got.LastSeenAt.Equal(now) {
		t.Fatalf("session = %+v, %v", got, err)
	}
	if _, err := db.AdminSessionByHash(ctx, s.IDHash, now.Add(13*time.Hour)); !errors.Is(err, drip.ErrNotFound) {
		t.Fatalf("an idle session past its expiry: %v, want drip.ErrNotFound", err)
	}

	// Activity moves the idle expiry on, but never past created_at + maxAge.
	seen := now.Add(11 * time.Hour)
	if err := db.TouchAdminSession(ctx, s.IDHash, seen, seen.Add(12*time.Hour), maxAge); err != nil {
		t.Fatal(err)
	}
	got, _ = db.AdminSessionByHash(ctx, s.IDHash, now.Add(13*time.Hour))
	if got == nil || !got.LastSeenAt.Equal(seen) || !got.ExpiresAt.Equal(seen.Add(12*time.Hour)) {
		t.Fatalf("after a touch: %+v", got)
	}
	late := now.Add(maxAge - time.Hour)
	if err := db.TouchAdminSession(ctx, s.IDHash, late, late.Add(12*time.Hour), maxAge); err != nil {
		t.Fatal(err)
	}
	if got, _ = db.AdminSessionByHash(ctx, s.IDHash, late); got == nil || !got.ExpiresAt.Equal(now.Add(maxAge)) {
		t.Fatalf("a touch near the end moved the expiry to %v, want the max age %v", got, now.Add(maxAge))
	}

	// A new sign-in replaces the old session and sweeps expired ones.
	old := store.AdminSession{IDHash: []byte("expired"), Email: "owner@example.com", CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-24 * time.Hour)}
	if err := db.CreateAdminSession(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	fresh := store.AdminSession{IDHash: []byte("s2"), Email: "owner@example.com", CreatedAt: now.Add(time.Hour), ExpiresAt: now.Add(13 * time.Hour)}
	if err := db.CreateAdminSession(ctx, fresh, s.IDHash); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM admin_sessions`); n != 1 {
		t.Fatalf("%d sessions after a sign-in that replaces one, want only the new one", n)
	}
	if err := db.DeleteAdminSession(ctx, fresh.IDHash); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AdminSessionByHash(ctx, fresh.IDHash, now.Add(2*time.Hour)); !errors.Is(err, drip.ErrNotFound) {
		t.Fatalf("a signed-out session: %v", err)
	}
}

func TestSignInsAreCheckedUntilTheFailureLimitPerIPOrAccountAndEachIsRecorded(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	attempt := func(ip, account string, at time.Time, right bool) (store.LoginResult, bool) {
		t.Helper()
		checked := false
		res, err := db.LoginAttempt(ctx, store.Login{IP: ip, Account: account, At: at, Since: at.Add(-15 * time.Minute), MaxFailures: 3,
			Check: func() bool { checked = true; return right }})
		if err != nil {
			t.Fatal(err)
		}
		return res, checked
	}
	if res, checked := attempt("192.0.2.1", "owner@example.com", now, true); res != store.LoginOK || !checked {
		t.Fatalf("the right password: %v (checked %v)", res, checked)
	}
	for i := range 3 {
		if res, _ := attempt("192.0.2.1", "owner@example.com", now.Add(time.Duration(i)*time.Second), false); res != store.LoginFailed {
			t.Fatalf("wrong password %d: %v", i+1, res)
		}
	}
	// The limit is reached: the password is not even compared.
	if res, checked := attempt("192.0.2.1", "someone@example.com", now.Add(time.Minute), true); res != store.LoginLimited || checked {
		t.Fatalf("from the same IP: %v (checked %v), want limited and not checked", res, checked)
	}
	if res, checked := attempt("198.51.100.7", "OWNER@example.com", now.Add(time.Minute), true); res != store.LoginLimited || checked {
		t.Fatalf("for the same account from elsewhere: %v (checked %v), want limited", res, checked)
	}
	if res, _ := attempt("198.51.100.7", "other@example.com", now.Add(time.Minute), true); res != store.LoginOK {
		t.Fatalf("another account from another IP: %v, want ok", res)
	}
	// Once the window has passed, the account may try again.
	if res, _ := attempt("192.0.2.1", "owner@example.com", now.Add(20*time.Minute), true); res != store.LoginOK {
		t.Fatalf("after the window: %v, want ok", res)
	}
	if n := count(t, db, `SELECT count(*) FROM admin_login_attempts WHERE NOT ok`); n != 3 {
		t.Fatalf("%d failures recorded, want 3 (limited attempts are not counted as failures)", n)
	}
	// A day later the old rows are trimmed by the next attempt.
	attempt("192.0.2.1", "owner@example.com", now.Add(25*time.Hour), true)
	if n := count(t, db, `SELECT count(*) FROM admin_login_attempts`); n != 1 {
		t.Fatalf("%d attempts kept a day later, want only the newest", n)
	}
}
