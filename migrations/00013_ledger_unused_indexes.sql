-- +goose Up

-- Two indexes of the ledger that no query reads any more: the dashboard
-- counts from ledger_counts (migration 00008) and lists open deliveries
-- along deliveries_open_updated_idx. Each cost every lesson sent an index
-- entry or two: the claim's 'sending' row went into both (sent_at NULL is
-- indexed too), the record of the send into deliveries_sent_at_idx again.
DROP INDEX deliveries_open_idx;
DROP INDEX deliveries_sent_at_idx;

-- +goose Down
CREATE INDEX deliveries_sent_at_idx ON deliveries (sent_at);
CREATE INDEX deliveries_open_idx ON deliveries (status) WHERE status IN ('sending', 'retrying', 'failed');
