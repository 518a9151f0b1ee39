-- +goose Up

-- 'link' is the "here is your link" mail: a reader who is already
-- subscribed and signs up again gets their preferences link instead of a
-- confirmation (which doubles as lost-link recovery).
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('confirm', 'email_change', 'email_changed', 'graduation', 'link'));

-- Signing up again counts the signup mails an address got in the last 24
-- hours.
CREATE INDEX outbox_subscriber_idx ON outbox (subscriber_id, created_at);

-- +goose Down
DROP INDEX outbox_subscriber_idx;
DELETE FROM outbox WHERE kind = 'link';
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('confirm', 'email_change', 'email_changed', 'graduation'));
