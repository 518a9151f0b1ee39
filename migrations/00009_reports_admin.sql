-- +goose Up

-- The dashboard counts bounces and complaints per lesson: an index-only
-- scan of this index, however many reports there are.
CREATE INDEX reports_lesson_kind_idx ON reports (lesson, kind);
-- The suppression list is searched by address prefix and ordered by
-- address: the C collation lets LIKE 'prefix%' and the ORDER BY use one
-- index range (the primary key's collation cannot).
CREATE INDEX suppressions_email_c_idx ON suppressions ((email COLLATE "C"));

-- +goose Down
DROP INDEX suppressions_email_c_idx;
DROP INDEX reports_lesson_kind_idx;
