-- +goose Up

-- schedule is where each reader is in the course: round, next lesson, when
-- it is due, when the last one went out, and the lease of a pass sending it
-- now. It was five columns of the wide subscribers row, and every lesson
-- sent wrote a new version of that row and an entry in each of its five
-- indexes (its due time and lesson are indexed, so no update could be HOT);
-- the claim also wrote a 'sending' ledger row that the record then wrote
-- again. Now the claim is a lease on this narrow row (an in-place, HOT
-- update: nothing it changes is indexed), and the record inserts the ledger
-- row once, as it ends, and moves this row on: three index entries here
-- instead of five there, and one ledger row version instead of two
-- (BenchmarkLedger).
--
-- A subscriber without a row here (a signup not yet confirmed) is on lesson
-- 1 of round 1 and due never: signups, the busiest write of all, insert
-- nothing here. Every subscriber who is not pending has one (a pending one
-- may too: one imported, or changed before confirming): the triggers below
-- add it, at lesson 1, when a subscriber is written with or changed to
-- another status without one. A row is deleted only with its subscriber.
CREATE TABLE schedule (
    subscriber_id bigint PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
    round         int NOT NULL DEFAULT 1,
    lesson        int NOT NULL DEFAULT 1 CHECK (lesson >= 1),
    due_at        timestamptz,
    -- active is subscribers.status = 'active', kept by the trigger
    -- subscriber_status_counts, so that the partial indexes below hold only
    -- active readers, as subscribers_due_idx did.
    active        boolean NOT NULL DEFAULT false,
    last_sent_at  timestamptz,
    -- A pass that claimed the lesson holds it until lease_until; after
    -- that another pass may claim it again. attempts counts the tries of
    -- the current lesson, this one included.
    lease_until   timestamptz,
    attempts      int NOT NULL DEFAULT 0 CHECK (attempts >= 0)
) WITH (fillfactor = 50); -- room on each page for a whole page of leases to be HOT
CREATE INDEX schedule_due_idx ON schedule (due_at) WHERE active;
-- The admin's search by lesson, newest first.
CREATE INDEX schedule_lesson_idx ON schedule (lesson, subscriber_id);

-- No write may slip in between the copy and the new triggers.
LOCK TABLE subscribers, deliveries IN SHARE ROW EXCLUSIVE MODE;

-- A lesson being sent by a copy of the old version (a 'sending' ledger row)
-- keeps its lease here, and is tried again by the new version once the
-- lease ends, its attempt counted.
INSERT INTO schedule (subscriber_id, round, lesson, due_at, active, last_sent_at, lease_until, attempts)
SELECT s.id, s.round, s.next_lesson, s.next_due_at, s.status = 'active', s.last_sent_at,
       CASE WHEN d.status = 'sending' THEN d.lease_until END, COALESCE(d.attempts, 0)
FROM subscribers s
LEFT JOIN deliveries d ON d.subscriber_id = s.id AND d.round = s.round AND d.lesson = s.next_lesson
    AND d.status IN ('retrying', 'sending');
UPDATE deliveries SET status = 'retrying', lease_until = NULL WHERE status = 'sending';

-- The dashboard's subscriber counts (migration 00010) count a reader under
-- (status, lesson) when they have a schedule row and are not pending: the
-- same readers as before, since every subscriber has a row now. Triggers on
-- each table keep them, each reading the other table's half:
--   - a status change or a delete, on subscribers (the delete before the
--     row goes, while its schedule row is still there to read);
--   - a new schedule row or a lesson change, on schedule, except when the
--     writer keeps the counts itself (the pass's record, for readers still
--     active: see store.sentSQL).
-- A status change writes the schedule row too (its active flag), so a
-- status change and a lesson change of one reader always wait for each
-- other: the one that comes second reads what the first wrote.
DROP TRIGGER subscriber_counts_insert ON subscribers;
DROP TRIGGER subscriber_counts_update ON subscribers;
DROP TRIGGER subscriber_counts_delete ON subscribers;
DROP FUNCTION subscriber_counts_row();

-- +goose StatementBegin
CREATE FUNCTION subscriber_status_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    l int;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT lesson INTO l FROM schedule WHERE subscriber_id = OLD.id;
        IF FOUND AND OLD.status <> 'pending' THEN
            INSERT INTO subscriber_count_deltas (status, lesson, d) VALUES (OLD.status, l, -1);
        END IF;
        RETURN OLD;
    END IF;
    UPDATE schedule SET active = NEW.status = 'active' WHERE subscriber_id = NEW.id RETURNING lesson INTO l;
    IF NOT FOUND THEN
        IF NEW.status <> 'pending' THEN
            -- schedule_counts counts the new row.
            INSERT INTO schedule (subscriber_id, active) VALUES (NEW.id, NEW.status = 'active');
        END IF;
        RETURN NULL;
    END IF;
    IF OLD.status <> 'pending' THEN
        INSERT INTO subscriber_count_deltas (status, lesson, d) VALUES (OLD.status, l, -1);
    END IF;
    IF NEW.status <> 'pending' THEN
        INSERT INTO subscriber_count_deltas (status, lesson, d) VALUES (NEW.status, l, 1);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION schedule_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    st text;
BEGIN
    SELECT status INTO st FROM subscribers WHERE id = NEW.subscriber_id;
    IF st IS NULL OR st = 'pending' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO subscriber_count_deltas (status, lesson, d) VALUES (st, OLD.lesson, -1);
    END IF;
    INSERT INTO subscriber_count_deltas (status, lesson, d) VALUES (st, NEW.lesson, 1);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION subscriber_place() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO schedule (subscriber_id, active) VALUES (NEW.id, NEW.status = 'active')
    ON CONFLICT (subscriber_id) DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Checked before any function runs: a signup costs nothing here.
CREATE TRIGGER subscriber_place AFTER INSERT ON subscribers
    FOR EACH ROW WHEN (NEW.status <> 'pending') EXECUTE FUNCTION subscriber_place();
CREATE TRIGGER subscriber_status_counts AFTER UPDATE OF status ON subscribers
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION subscriber_status_counts();
CREATE TRIGGER subscriber_status_counts_delete BEFORE DELETE ON subscribers
    FOR EACH ROW EXECUTE FUNCTION subscriber_status_counts();
CREATE TRIGGER schedule_counts_insert AFTER INSERT ON schedule
    FOR EACH ROW EXECUTE FUNCTION schedule_counts();
CREATE TRIGGER schedule_counts_update AFTER UPDATE OF lesson ON schedule
    FOR EACH ROW WHEN (OLD.lesson IS DISTINCT FROM NEW.lesson
        AND (NOT NEW.active OR current_setting('twostep.subscriber_counts', true) IS DISTINCT FROM 'inline'))
    EXECUTE FUNCTION schedule_counts();
CREATE TRIGGER schedule_counts_truncate AFTER TRUNCATE ON schedule
    FOR EACH STATEMENT EXECUTE FUNCTION subscriber_counts_truncate();

ALTER TABLE subscribers DROP COLUMN round, DROP COLUMN next_lesson, DROP COLUMN next_due_at, DROP COLUMN last_sent_at;

-- The pass's record counts the lessons it writes itself (store.sentSQL),
-- as it does the subscribers it moves: the two statement triggers an upsert
-- fires cost more than the record's own statement did.
DROP TRIGGER ledger_counts_insert ON deliveries;
DROP TRIGGER ledger_counts_update ON deliveries;
CREATE TRIGGER ledger_counts_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('twostep.ledger_counts', true) IS DISTINCT FROM 'inline')
    EXECUTE FUNCTION ledger_counts_apply();
CREATE TRIGGER ledger_counts_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('twostep.ledger_counts', true) IS DISTINCT FROM 'inline')
    EXECUTE FUNCTION ledger_counts_apply();

-- The ledger's foreign key to subscribers made every lesson recorded lock
-- the reader's wide row (FOR KEY SHARE: a WAL record and a dirtied page)
-- in a trigger of its own. The record already holds the reader's schedule
-- row, which an erasure must delete (ON DELETE CASCADE) and so waits for;
-- every other writer of the ledger locks the subscriber first. What the key
-- did on delete, these triggers do: a subscriber who goes leaves ledger rows
-- that name no one, as before.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_subscriber_id_fkey;

-- +goose StatementBegin
CREATE FUNCTION subscribers_gone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE deliveries SET subscriber_id = NULL WHERE subscriber_id IS NOT NULL;
    ELSE
        -- By key, whatever the planner guesses of gone: never a scan of
        -- the ledger.
        UPDATE deliveries SET subscriber_id = NULL WHERE subscriber_id = ANY (ARRAY(SELECT id FROM gone));
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER subscribers_gone AFTER DELETE ON subscribers
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION subscribers_gone();
CREATE TRIGGER subscribers_gone_truncate AFTER TRUNCATE ON subscribers
    FOR EACH STATEMENT EXECUTE FUNCTION subscribers_gone();

-- +goose Down
LOCK TABLE subscribers, schedule, deliveries IN SHARE ROW EXCLUSIVE MODE;
DROP TRIGGER ledger_counts_insert ON deliveries;
DROP TRIGGER ledger_counts_update ON deliveries;
CREATE TRIGGER ledger_counts_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_counts_apply();
CREATE TRIGGER ledger_counts_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_counts_apply();
DROP TRIGGER subscribers_gone_truncate ON subscribers;
DROP TRIGGER subscribers_gone ON subscribers;
DROP FUNCTION subscribers_gone();
UPDATE deliveries d SET subscriber_id = NULL WHERE NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.id = d.subscriber_id);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_subscriber_id_fkey
    FOREIGN KEY (subscriber_id) REFERENCES subscribers (id) ON DELETE SET NULL;
ALTER TABLE subscribers ADD COLUMN round int NOT NULL DEFAULT 1, ADD COLUMN next_lesson int NOT NULL DEFAULT 1 CHECK (next_lesson >= 1),
    ADD COLUMN next_due_at timestamptz, ADD COLUMN last_sent_at timestamptz;
UPDATE subscribers s SET round = p.round, next_lesson = p.lesson, next_due_at = p.due_at, last_sent_at = p.last_sent_at
FROM schedule p WHERE p.subscriber_id = s.id;
DROP TRIGGER schedule_counts_truncate ON schedule;
DROP TRIGGER schedule_counts_update ON schedule;
DROP TRIGGER schedule_counts_insert ON schedule;
DROP TRIGGER subscriber_status_counts_delete ON subscribers;
DROP TRIGGER subscriber_status_counts ON subscribers;
DROP TRIGGER subscriber_place ON subscribers;
DROP FUNCTION subscriber_place();
DROP FUNCTION schedule_counts();
DROP FUNCTION subscriber_status_counts();
DROP TABLE schedule;
CREATE INDEX subscribers_due_idx ON subscribers (next_due_at) WHERE status = 'active';
CREATE INDEX subscribers_lesson_idx ON subscribers (next_lesson, status, id);

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

CREATE TRIGGER subscriber_counts_insert AFTER INSERT ON subscribers
    FOR EACH ROW WHEN (NEW.status <> 'pending') EXECUTE FUNCTION subscriber_counts_row();
CREATE TRIGGER subscriber_counts_update AFTER UPDATE OF status, next_lesson ON subscribers
    FOR EACH ROW WHEN ((OLD.status IS DISTINCT FROM NEW.status OR OLD.next_lesson IS DISTINCT FROM NEW.next_lesson)
        AND current_setting('twostep.subscriber_counts', true) IS DISTINCT FROM 'inline')
    EXECUTE FUNCTION subscriber_counts_row();
CREATE TRIGGER subscriber_counts_delete AFTER DELETE ON subscribers
    FOR EACH ROW WHEN (OLD.status <> 'pending') EXECUTE FUNCTION subscriber_counts_row();
