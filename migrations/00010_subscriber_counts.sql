-- +goose Up

-- subscriber_counts is the dashboard's view of subscribers, kept exact by
-- the writes that change them, as ledger_counts is of the ledger:
-- subscribers by status and next lesson. Counting subscribers on every
-- view cost O(subscribers): 1.5 s at 1,000,000. Pending signups are not
-- counted here: they are few (unconfirmed ones are deleted after a while),
-- subscribers_pending_idx counts them, and leaving them out keeps the
-- signup, the busiest write of all, free of any trigger.
--
-- A change is first written as a delta, one row per changed subscriber,
-- to subscriber_count_deltas (append-only: writers never wait for each
-- other, and a bulk change of a million rows appends a million small rows
-- instead of updating one counter a million times in one transaction).
-- subscriber_counts_fold() moves the deltas into the counts; a reader adds
-- both up, so the counts are exact whether or not a fold has run.
CREATE TABLE subscriber_counts (
    status text NOT NULL,
    lesson int NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (status, lesson)
);

CREATE TABLE subscriber_count_deltas (
    status text NOT NULL,
    lesson int NOT NULL,
    d      bigint NOT NULL
);
-- Readers scan the deltas whole: every fold leaves its rows dead, and
-- autovacuum is to clear them after every thousand or so, however small
-- the table looks.
ALTER TABLE subscriber_count_deltas SET (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0);

-- +goose StatementBegin
CREATE FUNCTION subscriber_counts_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status <> 'pending' THEN
        INSERT INTO subscriber_count_deltas (status, lesson, d) VALUES (OLD.status, OLD.next_lesson, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status <> 'pending' THEN
        INSERT INTO subscriber_count_deltas (status, lesson, d) VALUES (NEW.status, NEW.next_lesson, 1);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION subscriber_counts_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM subscriber_count_deltas;
    DELETE FROM subscriber_counts;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- subscriber_counts_fold moves every delta into the counts, in key order
-- (two folds at once cannot deadlock, and each delta is moved once).
-- +goose StatementBegin
CREATE FUNCTION subscriber_counts_fold() RETURNS void
LANGUAGE sql AS $$
    WITH d AS (DELETE FROM subscriber_count_deltas RETURNING status, lesson, d)
    INSERT INTO subscriber_counts AS c (status, lesson, n)
    SELECT status, lesson, sum(d) FROM d GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (status, lesson) DO UPDATE SET n = c.n + EXCLUDED.n
$$;
-- +goose StatementEnd

-- No write may slip between the backfill and the triggers.
LOCK TABLE subscribers IN SHARE ROW EXCLUSIVE MODE;

-- Row triggers whose WHEN is checked before any function runs: a signup,
-- and an update that moves neither status nor lesson (a preference, a
-- token), cost nothing here. So does the pass's record of lessons sent
-- (store.sentSQL), the one update that runs for every lesson: it writes
-- its own deltas, one per (status, lesson) it moves readers from or to,
-- and says so by setting twostep.subscriber_counts to 'inline' for its
-- transaction.
CREATE TRIGGER subscriber_counts_insert AFTER INSERT ON subscribers
    FOR EACH ROW WHEN (NEW.status <> 'pending') EXECUTE FUNCTION subscriber_counts_row();
CREATE TRIGGER subscriber_counts_update AFTER UPDATE OF status, next_lesson ON subscribers
    FOR EACH ROW WHEN ((OLD.status IS DISTINCT FROM NEW.status OR OLD.next_lesson IS DISTINCT FROM NEW.next_lesson)
        AND current_setting('twostep.subscriber_counts', true) IS DISTINCT FROM 'inline')
    EXECUTE FUNCTION subscriber_counts_row();
CREATE TRIGGER subscriber_counts_delete AFTER DELETE ON subscribers
    FOR EACH ROW WHEN (OLD.status <> 'pending') EXECUTE FUNCTION subscriber_counts_row();
CREATE TRIGGER subscriber_counts_truncate AFTER TRUNCATE ON subscribers
    FOR EACH STATEMENT EXECUTE FUNCTION subscriber_counts_truncate();

INSERT INTO subscriber_counts (status, lesson, n)
SELECT status, next_lesson, count(*) FROM subscribers WHERE status <> 'pending' GROUP BY 1, 2;

-- +goose Down
DROP TRIGGER subscriber_counts_truncate ON subscribers;
DROP TRIGGER subscriber_counts_delete ON subscribers;
DROP TRIGGER subscriber_counts_update ON subscribers;
DROP TRIGGER subscriber_counts_insert ON subscribers;
DROP FUNCTION subscriber_counts_fold();
DROP FUNCTION subscriber_counts_truncate();
DROP FUNCTION subscriber_counts_row();
DROP TABLE subscriber_count_deltas;
DROP TABLE subscriber_counts;
