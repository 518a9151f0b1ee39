-- +goose Up

-- reports holds every bounce and complaint reported after the SMTP session:
-- provider webhooks and the bounce mailbox. One row per provider event id,
-- so the same event delivered twice is acted on once.
CREATE TABLE reports (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider      text NOT NULL CHECK (provider IN ('ses', 'postmark', 'sendgrid', 'mailgun', 'generic', 'imap')),
    event_id      text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint')),
    email         text NOT NULL DEFAULT '',
    message_id    text NOT NULL DEFAULT '',
    reason        text NOT NULL DEFAULT '',
    -- What the report matched (by Message-ID, else by address) and what it did.
    subscriber_id bigint REFERENCES subscribers (id) ON DELETE SET NULL,
    lesson        int,
    outcome       text NOT NULL
        CHECK (outcome IN ('bounced', 'unsubscribed', 'counted', 'unmatched', 'no_change')),
    reported_at   timestamptz,
    received_at   timestamptz NOT NULL,
    UNIQUE (provider, event_id)
);
-- The admin's list, newest first, and the soft-bounce count per reader.
CREATE INDEX reports_received_idx ON reports (received_at);
CREATE INDEX reports_subscriber_idx ON reports (subscriber_id, received_at);
CREATE INDEX reports_soft_email_idx ON reports (lower(email), received_at) WHERE kind = 'soft';

-- suppressions are addresses never to be mailed again, whatever signs them
-- up or imports them, until the admin lifts them. Kept through erasure: it
-- is the record of a refusal, not of a subscription.
CREATE TABLE suppressions (
    email      text PRIMARY KEY CHECK (email = lower(email)),
    reason     text NOT NULL CHECK (reason IN ('hard', 'soft', 'complaint')),
    report_id  bigint REFERENCES reports (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL
);

-- Readers bounced before suppressions existed stay unmailed: their
-- addresses are suppressed from the start.
INSERT INTO suppressions (email, reason, created_at)
SELECT DISTINCT lower(email), 'hard', now() FROM subscribers WHERE status = 'bounced'
ON CONFLICT DO NOTHING;

-- replay_keys are one-time tokens (Mailgun's) already accepted: a request
-- carrying one again is refused.
CREATE TABLE replay_keys (
    provider    text NOT NULL,
    key         text NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (provider, key)
);
CREATE INDEX replay_keys_received_idx ON replay_keys (received_at);

-- Reports name the message they are about by its Message-ID.
CREATE INDEX deliveries_message_id_idx ON deliveries (message_id) WHERE message_id <> '';
CREATE INDEX outbox_message_id_idx ON outbox (message_id) WHERE message_id <> '';

-- +goose Down
DROP INDEX outbox_message_id_idx;
DROP INDEX deliveries_message_id_idx;
DROP TABLE replay_keys;
DROP TABLE suppressions;
DROP TABLE reports;
