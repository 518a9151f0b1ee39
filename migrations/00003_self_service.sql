-- +goose Up

-- Reader self-service: timed pauses, "next lesson now" once a day, address
-- changes that wait for confirmation.
ALTER TABLE subscribers
    ADD COLUMN paused_until  timestamptz,
    ADD COLUMN next_now_at   timestamptz,
    ADD COLUMN pending_email text,
    -- When the pending address was asked for: a confirmation link is only
    -- good for the latest request.
    ADD COLUMN pending_email_at timestamptz;

-- Timed pauses end on their own; the pass looks for them here.
CREATE INDEX subscribers_paused_idx ON subscribers (paused_until) WHERE status = 'paused';

-- Transactional mail may go to an address other than the subscriber's
-- current one (the new address of an address change).
ALTER TABLE outbox ADD COLUMN recipient text NOT NULL DEFAULT '';
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('confirm', 'email_change', 'email_changed', 'graduation'));

-- tried records that a reader tried a lesson's "Try this week" action.
-- Erasure keeps the row without the subscriber, so the counts stay.
CREATE TABLE tried (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id bigint REFERENCES subscribers (id) ON DELETE SET NULL,
    round         int NOT NULL,
    lesson        int NOT NULL CHECK (lesson >= 1),
    at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subscriber_id, round, lesson)
);
CREATE INDEX tried_lesson_idx ON tried (lesson);

-- +goose Down
DROP TABLE tried;
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('confirm'));
ALTER TABLE outbox DROP COLUMN recipient;
DROP INDEX subscribers_paused_idx;
ALTER TABLE subscribers DROP COLUMN paused_until, DROP COLUMN next_now_at, DROP COLUMN pending_email, DROP COLUMN pending_email_at;
