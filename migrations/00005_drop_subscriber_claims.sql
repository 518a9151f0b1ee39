-- +goose Up

-- A pass no longer marks the subscribers it claims: the 'sending' ledger
-- row written in the same statement is the claim, with its lease in
-- deliveries.lease_until, and a due subscriber with such a row is not
-- claimed again until the lease ends. Claiming 10,000 due readers wrote
-- about 13 MB of WAL for claimed_until alone (most of those updates could
-- not stay on their page and touched every index); now a claim only locks
-- the subscriber rows for its statement (no new row versions, no index
-- entries) and writes the ledger rows.
ALTER TABLE subscribers DROP COLUMN claimed_until;

-- +goose Down
ALTER TABLE subscribers ADD COLUMN claimed_until timestamptz;
