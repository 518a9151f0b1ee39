-- +goose Up

-- A pass no longer marks the subscribers it claims: the 'sending' ledger
-- row written in the same statement is the claim, with its lease in
-- deliveries.lease_until, and a due subscriber with such a row is not
-- claimed again until the lease ends. Claiming 10,000 due readers wrote
-- about 13 MB of WAL for claimed_until alone (most of those updates could
-- not stay on their page and touched every index); now a claim writes
-- only the ledger rows.
ALTER TABLE subscribers DROP COLUMN claimed_until;

-- +goose Down
ALTER TABLE subscribers ADD COLUMN claimed_until timestamptz;
