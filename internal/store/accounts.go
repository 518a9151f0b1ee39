package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// AdminPasswordHash returns the stored bcrypt hash of the admin password
// for email, or drip.ErrNotFound when none is stored yet.
func (db *DB) AdminPasswordHash(ctx context.Context, email string) ([]byte, error) {
	var hash []byte
	err := db.Pool.QueryRow(ctx, `SELECT password_hash FROM admin_accounts WHERE email = lower($1)`, email).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, drip.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load admin password hash: %w", err)
	}
	return hash, nil
}

// SetAdminPassword stores a new password hash for email and revokes every
// admin session in the same transaction: a changed password signs everyone
// out, on every copy.
func (db *DB) SetAdminPassword(ctx context.Context, email string, hash []byte, now time.Time) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO admin_accounts (email, password_hash, updated_at) VALUES (lower($1), $2, $3)
			ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = EXCLUDED.updated_at`,
			email, hash, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM admin_sessions`)
		return err
	})
	if err != nil {
		return fmt.Errorf("store admin password: %w", err)
	}
	return nil
}

// AdminSession is a signed-in browser.
type AdminSession struct {
	IDHash     []byte // SHA-256 of the cookie value
	Email      string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	IP         string
	UserAgent  string
}

// CreateAdminSession stores a new session and, in the same transaction,
// deletes the one it replaces (replaces may be nil) and sessions that
// have expired.
func (db *DB) CreateAdminSession(ctx context.Context, s AdminSession, replaces []byte) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE id_hash = $1 OR expires_at < $2`, replaces, s.CreatedAt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO admin_sessions (id_hash, email, created_at, last_seen_at, expires_at, ip, user_agent)
			VALUES ($1, $2, $3, $3, $4, $5, $6)`,
			s.IDHash, s.Email, s.CreatedAt, s.ExpiresAt, s.IP, s.UserAgent)
		return err
	})
	if err != nil {
		return fmt.Errorf("create admin session: %w", err)
	}
	return nil
}

// AdminSessionByHash returns the unexpired session whose id hashes to
// idHash, or drip.ErrNotFound.
func (db *DB) AdminSessionByHash(ctx context.Context, idHash []byte, now time.Time) (*AdminSession, error) {
	s := AdminSession{IDHash: idHash}
	err := db.Pool.QueryRow(ctx, `
		SELECT email, created_at, last_seen_at, expires_at, ip, user_agent
		FROM admin_sessions WHERE id_hash = $1 AND expires_at > $2`, idHash, now).
		Scan(&s.Email, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.IP, &s.UserAgent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, drip.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load admin session: %w", err)
	}
	return &s, nil
}

// TouchAdminSession records activity and moves the idle expiry to expires,
// never past the session's absolute end (created_at + maxAge).
func (db *DB) TouchAdminSession(ctx context.Context, idHash []byte, now, expires time.Time, maxAge time.Duration) error {
	_, err := db.Pool.Exec(ctx, `
		UPDATE admin_sessions SET last_seen_at = $2, expires_at = LEAST($3, created_at + make_interval(secs => $4))
		WHERE id_hash = $1`, idHash, now, expires, maxAge.Seconds())
	if err != nil {
		return fmt.Errorf("touch admin session: %w", err)
	}
	return nil
}

// DeleteAdminSession ends one session (sign-out).
func (db *DB) DeleteAdminSession(ctx context.Context, idHash []byte) error {
	if _, err := db.Pool.Exec(ctx, `DELETE FROM admin_sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("delete admin session: %w", err)
	}
	return nil
}

// LoginResult is how a sign-in attempt ended.
type LoginResult int

// The ends of a sign-in attempt.
const (
	LoginFailed  LoginResult = iota // wrong email or password; counted
	LoginOK                         // right; counted as a success
	LoginLimited                    // too many failures in the window; not checked
)

// Login is one sign-in attempt.
type Login struct {
	IP, Account string
	At          time.Time
	// Failures since Since count towards MaxFailures.
	Since       time.Time
	MaxFailures int
	// Check compares the password; it runs only when not limited.
	Check func() bool
}

// LoginAttempt runs l.Check unless the IP or the account already has
// l.MaxFailures failed sign-ins since l.Since, and records the outcome.
// Advisory locks on the IP and the account, always taken in that order,
// make concurrent attempts from several copies count one at a time, so no
// burst gets past the limit.
func (db *DB) LoginAttempt(ctx context.Context, l Login) (LoginResult, error) {
	now, ip, account, since, maxFailures, check := l.At, l.IP, l.Account, l.Since, l.MaxFailures, l.Check
	result := LoginFailed
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('twostep-admin-login-ip:' || $1, 0)),
			pg_advisory_xact_lock(hashtextextended('twostep-admin-login-account:' || lower($2), 0))`, ip, account); err != nil {
			return err
		}
		var byIP, byAccount int
		if err := tx.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM admin_login_attempts WHERE NOT ok AND ip = $1 AND at > $3),
			       (SELECT count(*) FROM admin_login_attempts WHERE NOT ok AND email = lower($2) AND at > $3)`,
			ip, account, since).Scan(&byIP, &byAccount); err != nil {
			return err
		}
		if byIP >= maxFailures || byAccount >= maxFailures {
			result = LoginLimited
			return nil
		}
		if check() {
			result = LoginOK
		}
		// Rows older than a day count for nothing; trimming here keeps the
		// table small without a separate job.
		if _, err := tx.Exec(ctx, `DELETE FROM admin_login_attempts WHERE at < $1`, now.Add(-24*time.Hour)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO admin_login_attempts (at, ip, email, ok) VALUES ($1, $2, lower($3), $4)`,
			now, ip, account, result == LoginOK)
		return err
	})
	if err != nil {
		return LoginFailed, fmt.Errorf("record sign-in attempt: %w", err)
	}
	return result, nil
}
