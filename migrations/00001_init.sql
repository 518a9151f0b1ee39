-- +goose Up

-- settings keeps values the service generates once and every copy shares,
-- such as the token signing key when SECRET_KEY is unset.
CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscribers (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email                text NOT NULL,
    name                 text NOT NULL DEFAULT '',
    status               text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'active', 'paused', 'unsubscribed', 'bounced', 'completed')),
    time_zone            text NOT NULL DEFAULT 'UTC',
    -- The chosen slot; NULL until confirmation fills in the default.
    send_weekday         smallint CHECK (send_weekday BETWEEN 0 AND 6),
    send_hour            smallint CHECK (send_hour BETWEEN 0 AND 23),
    -- round counts restarts of the course, so a restarted reader can get
    -- lesson 1 again without breaking the once-per-lesson ledger.
    round                int NOT NULL DEFAULT 1,
    next_lesson          int NOT NULL DEFAULT 1 CHECK (next_lesson >= 1),
    next_due_at          timestamptz,
    last_sent_at         timestamptz,
    -- A pass that claims the subscriber holds it until this time; a crashed
    -- pass's claims come back when it passes.
    claimed_until        timestamptz,
    -- Bumped to revoke every link sent so far (erasure, address change).
    token_gen            int NOT NULL DEFAULT 1,
    -- The consent record.
    consent_method       text NOT NULL DEFAULT 'form' CHECK (consent_method IN ('form', 'import')),
    consent_at           timestamptz NOT NULL,
    consent_ip           text NOT NULL DEFAULT '',
    consent_user_agent   text NOT NULL DEFAULT '',
    consent_form_url     text NOT NULL DEFAULT '',
    consent_version      text NOT NULL DEFAULT '',
    confirmation_sent_at timestamptz,
    confirmed_at         timestamptz,
    unsubscribed_at      timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- One subscriber per address whatever its letter case.
CREATE UNIQUE INDEX subscribers_email_key ON subscribers (lower(email));

-- The delivery claim reads only active subscribers whose due time has come;
-- a partial index keeps that O(due) at any number of subscribers.
CREATE INDEX subscribers_due_idx ON subscribers (next_due_at) WHERE status = 'active';

-- The clean-up of unconfirmed signups.
CREATE INDEX subscribers_pending_idx ON subscribers (consent_at) WHERE status = 'pending';

-- events is each subscriber's history: signup, confirmation, status changes,
-- reader and admin actions. Erasure keeps rows without personal detail.
CREATE TABLE events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id bigint REFERENCES subscribers (id) ON DELETE SET NULL,
    kind          text NOT NULL,
    actor         text NOT NULL DEFAULT 'system',
    detail        jsonb NOT NULL DEFAULT '{}',
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_subscriber_idx ON events (subscriber_id, at);

-- outbox holds transactional mail (the confirmation) written in the same
-- transaction as the change that causes it, and sent by a worker.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id   bigint REFERENCES subscribers (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('confirm')),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,
    message_id      text NOT NULL DEFAULT '',
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'pending';

-- lessons points at the current revision of each lesson; every copy of the
-- service sends that text.
CREATE TABLE lesson_revisions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lesson     int NOT NULL CHECK (lesson >= 1),
    source     text NOT NULL,
    sha256     bytea NOT NULL,
    origin     text NOT NULL CHECK (origin IN ('file', 'admin', 'restore')),
    author     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lesson_revisions_lesson_idx ON lesson_revisions (lesson, id);

CREATE TABLE lessons (
    number      int PRIMARY KEY CHECK (number >= 1),
    revision_id bigint NOT NULL REFERENCES lesson_revisions (id),
    -- The hash of the file last imported, so an unchanged file does nothing
    -- even after an admin edit made another revision current.
    file_sha256 bytea,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- deliveries is the ledger: one row per (subscriber, round, lesson), written
-- as 'sending' before the SMTP transaction and finalised after it.
CREATE TABLE deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id   bigint REFERENCES subscribers (id) ON DELETE SET NULL,
    round           int NOT NULL DEFAULT 1,
    lesson          int NOT NULL CHECK (lesson >= 1),
    revision_id     bigint REFERENCES lesson_revisions (id),
    status          text NOT NULL
        CHECK (status IN ('sending', 'sent', 'retrying', 'failed', 'bounced')),
    attempts        int NOT NULL DEFAULT 0,
    due_at          timestamptz NOT NULL,
    lease_until     timestamptz,
    next_attempt_at timestamptz,
    message_id      text NOT NULL DEFAULT '',
    smtp_reply      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subscriber_id, round, lesson)
);
CREATE INDEX deliveries_open_idx ON deliveries (status) WHERE status IN ('sending', 'retrying', 'failed');
CREATE INDEX deliveries_sent_at_idx ON deliveries (sent_at);

-- +goose Down
DROP TABLE deliveries;
DROP TABLE lessons;
DROP TABLE lesson_revisions;
DROP TABLE outbox;
DROP TABLE events;
DROP TABLE subscribers;
DROP TABLE settings;
