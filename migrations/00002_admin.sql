-- +goose Up

-- admin_accounts keeps a bcrypt hash of the configured admin password, so
-- that a copy starting with a different ADMIN_PASSWORD can tell the password
-- changed and revoke every session.
CREATE TABLE admin_accounts (
    email         text PRIMARY KEY, -- lower case
    password_hash bytea NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- admin_sessions are the signed-in browsers, shared by every copy. Only the
-- SHA-256 of the cookie's value is stored: a leaked table opens no session.
CREATE TABLE admin_sessions (
    id_hash      bytea PRIMARY KEY,
    email        text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX admin_sessions_expires_idx ON admin_sessions (expires_at);

-- admin_login_attempts is the sign-in rate limit, kept here so that every
-- copy counts the same failures.
CREATE TABLE admin_login_attempts (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at    timestamptz NOT NULL,
    ip    text NOT NULL,
    email text NOT NULL, -- as typed, lower case
    ok    boolean NOT NULL
);
CREATE INDEX admin_login_attempts_ip_idx ON admin_login_attempts (ip, at) WHERE NOT ok;
CREATE INDEX admin_login_attempts_email_idx ON admin_login_attempts (email, at) WHERE NOT ok;
CREATE INDEX admin_login_attempts_at_idx ON admin_login_attempts (at);

-- admin_audit is every admin action: who, what, when, and the state before
-- and after. It holds no personal data beyond the actor, so an erasure
-- leaves it whole.
CREATE TABLE admin_audit (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL,
    subject_type text NOT NULL,
    subject_id   bigint,
    before       jsonb,
    after        jsonb,
    ip           text NOT NULL DEFAULT ''
);
CREATE INDEX admin_audit_subject_idx ON admin_audit (subject_type, subject_id, id);

-- Subscriber search. An email search is a prefix match ordered by address:
-- the C collation lets LIKE 'prefix%' and the ORDER BY use one index range.
CREATE INDEX subscribers_email_c_idx ON subscribers ((lower(email) COLLATE "C"));
-- The unfiltered list and the status filter page newest first by id.
CREATE INDEX subscribers_status_id_idx ON subscribers (status, id);
-- The lesson filter (with or without a status), and the dashboard funnel.
CREATE INDEX subscribers_lesson_idx ON subscribers (next_lesson, status, id);

-- +goose Down
DROP INDEX subscribers_lesson_idx;
DROP INDEX subscribers_status_id_idx;
DROP INDEX subscribers_email_c_idx;
DROP TABLE admin_audit;
DROP TABLE admin_login_attempts;
DROP TABLE admin_sessions;
DROP TABLE admin_accounts;
