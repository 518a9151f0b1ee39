-- +goose Up

-- A signup writes every index of subscribers, so each must earn its place.
-- Addresses had two: the unique one on lower(email), in the database's
-- collation, and the admin search's on (lower(email) COLLATE "C"), which a
-- LIKE prefix and keyset pages can walk. One index in "C" does both: its
-- equality is byte equality, as that of every deterministic collation is,
-- so it holds the same addresses unique. ON CONFLICT (lower(email)) finds
-- it as its arbiter; a lookup by address names the collation
-- (store.byAddress) so that it can use it.
CREATE UNIQUE INDEX subscribers_email_c_key ON subscribers ((lower(email) COLLATE "C"));
DROP INDEX subscribers_email_key;
DROP INDEX subscribers_email_c_idx;
ALTER INDEX subscribers_email_c_key RENAME TO subscribers_email_key;

-- The same checks, each list one array constant: PostgreSQL reads every
-- CHECK of a table afresh for each INSERT statement, and folds an IN list
-- of constants into an array each time; an array constant is read once
-- and needs no folding.
ALTER TABLE subscribers DROP CONSTRAINT subscribers_status_check,
    ADD CONSTRAINT subscribers_status_check
        CHECK (status = ANY ('{pending,active,paused,unsubscribed,bounced,completed}'::text[]));
ALTER TABLE subscribers DROP CONSTRAINT subscribers_consent_method_check,
    ADD CONSTRAINT subscribers_consent_method_check CHECK (consent_method = ANY ('{form,import}'::text[]));
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check,
    ADD CONSTRAINT outbox_status_check CHECK (status = ANY ('{pending,sent,failed}'::text[]));
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check CHECK (kind = ANY ('{confirm,email_change,email_changed,graduation,link}'::text[]));

-- +goose Down
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('confirm', 'email_change', 'email_changed', 'graduation', 'link'));
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check,
    ADD CONSTRAINT outbox_status_check CHECK (status IN ('pending', 'sent', 'failed'));
ALTER TABLE subscribers DROP CONSTRAINT subscribers_consent_method_check,
    ADD CONSTRAINT subscribers_consent_method_check CHECK (consent_method IN ('form', 'import'));
ALTER TABLE subscribers DROP CONSTRAINT subscribers_status_check,
    ADD CONSTRAINT subscribers_status_check
        CHECK (status IN ('pending', 'active', 'paused', 'unsubscribed', 'bounced', 'completed'));

ALTER INDEX subscribers_email_key RENAME TO subscribers_email_c_key;
CREATE UNIQUE INDEX subscribers_email_key ON subscribers (lower(email));
CREATE INDEX subscribers_email_c_idx ON subscribers ((lower(email) COLLATE "C"));
DROP INDEX subscribers_email_c_key;
