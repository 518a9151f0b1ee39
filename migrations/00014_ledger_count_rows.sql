-- +goose Up

-- ledger_counts (migration 00008) was kept by statement triggers over
-- transition tables. They ran for every statement that wrote the ledger,
-- the claim and the record of sent lessons included, and each run parsed
-- and planned its query afresh: about 20 µs a lesson sent
-- (BenchmarkLedgerPlans). The counts are now kept the way
-- subscriber_counts is (migration 00010):
--
-- * row triggers whose WHEN is checked before any function runs, so the
--   claim's 'sending' rows (never counted) cost nothing;
-- * the record of sent lessons (store.sentSQL) counts the rows it moves
--   from 'sending' to 'sent' itself, one delta per week, and says so by
--   setting twostep.ledger_counts to 'inline' for its transaction;
-- * deltas are appended to ledger_count_deltas, folded into ledger_counts
--   by counts_fold(), and readers add both up: exact whether or not a fold
--   has run, and a bulk write appends rows instead of updating one counter
--   once per row.
CREATE TABLE ledger_count_deltas (
    status text NOT NULL,
    week   timestamptz NOT NULL,
    d      bigint NOT NULL
);
-- As subscriber_count_deltas: vacuumed after every thousand dead rows.
ALTER TABLE ledger_count_deltas SET (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0);

-- +goose StatementBegin
CREATE FUNCTION ledger_counts_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status <> 'sending' THEN
        INSERT INTO ledger_count_deltas (status, week, d) VALUES (OLD.status, ledger_counts_week(OLD.status, OLD.sent_at), -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status <> 'sending' THEN
        INSERT INTO ledger_count_deltas (status, week, d) VALUES (NEW.status, ledger_counts_week(NEW.status, NEW.sent_at), 1);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_counts_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- TRUNCATE only, now.
    DELETE FROM ledger_count_deltas;
    DELETE FROM ledger_counts;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- counts_fold moves every delta of both rollups into its counts, in key
-- order (two folds at once cannot deadlock, and each delta moves once).
-- +goose StatementBegin
CREATE FUNCTION counts_fold() RETURNS void
LANGUAGE sql AS $$
    SELECT subscriber_counts_fold();
    WITH d AS (DELETE FROM ledger_count_deltas RETURNING status, week, d)
    INSERT INTO ledger_counts AS c (status, week, shard, n)
    SELECT status, week, 0, sum(d) FROM d GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (status, week, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
$$;
-- +goose StatementEnd

-- No write may slip between the old triggers and the new.
LOCK TABLE deliveries IN SHARE ROW EXCLUSIVE MODE;

DROP TRIGGER ledger_counts_insert ON deliveries;
DROP TRIGGER ledger_counts_update ON deliveries;
DROP TRIGGER ledger_counts_delete ON deliveries;

CREATE TRIGGER ledger_counts_insert AFTER INSERT ON deliveries
    FOR EACH ROW WHEN (NEW.status <> 'sending') EXECUTE FUNCTION ledger_counts_row();
CREATE TRIGGER ledger_counts_update AFTER UPDATE OF status, sent_at ON deliveries
    FOR EACH ROW WHEN ((OLD.status IS DISTINCT FROM NEW.status OR OLD.sent_at IS DISTINCT FROM NEW.sent_at)
        AND NOT (OLD.status = 'sending' AND current_setting('twostep.ledger_counts', true) IS NOT DISTINCT FROM 'inline'))
    EXECUTE FUNCTION ledger_counts_row();
CREATE TRIGGER ledger_counts_delete AFTER DELETE ON deliveries
    FOR EACH ROW WHEN (OLD.status <> 'sending') EXECUTE FUNCTION ledger_counts_row();

-- +goose Down
LOCK TABLE deliveries IN SHARE ROW EXCLUSIVE MODE;
SELECT counts_fold();
DROP TRIGGER ledger_counts_delete ON deliveries;
DROP TRIGGER ledger_counts_update ON deliveries;
DROP TRIGGER ledger_counts_insert ON deliveries;
DROP FUNCTION counts_fold();
DROP FUNCTION ledger_counts_row();
DROP TABLE ledger_count_deltas;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_counts_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ledger_counts AS c (status, week, shard, n)
        SELECT status, ledger_counts_week(status, sent_at), pg_backend_pid() % 8, count(*)
        FROM new_rows WHERE status <> 'sending'
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (status, week, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO ledger_counts AS c (status, week, shard, n)
        SELECT status, week, pg_backend_pid() % 8, sum(d)
        FROM (SELECT status, ledger_counts_week(status, sent_at) AS week, 1 AS d FROM new_rows WHERE status <> 'sending'
              UNION ALL
              SELECT status, ledger_counts_week(status, sent_at), -1 FROM old_rows WHERE status <> 'sending') x
        GROUP BY 1, 2 HAVING sum(d) <> 0 ORDER BY 1, 2
        ON CONFLICT (status, week, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO ledger_counts AS c (status, week, shard, n)
        SELECT status, ledger_counts_week(status, sent_at), pg_backend_pid() % 8, -count(*)
        FROM old_rows WHERE status <> 'sending'
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (status, week, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE -- TRUNCATE
        DELETE FROM ledger_counts;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_counts_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_counts_apply();
CREATE TRIGGER ledger_counts_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_counts_apply();
CREATE TRIGGER ledger_counts_delete AFTER DELETE ON deliveries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_counts_apply();
