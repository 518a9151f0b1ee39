-- +goose Up

-- Revisions are numbered within their lesson (1, 2, 3 …): that number is
-- what the admin shows, and the id stays the key that lessons and
-- deliveries point at. The number is stored rather than computed with
-- row_number() OVER (PARTITION BY lesson ORDER BY id) when read: it never
-- changes once given, so the audit log and the subscriber timeline record
-- it when they are written and still agree with the history page later,
-- and a revision is found by (lesson, number) through the unique index.
-- Every insert takes the next number of its lesson under the lessons'
-- advisory lock (store.insertRevision); the unique key backs that up.
ALTER TABLE lesson_revisions ADD COLUMN number int;
UPDATE lesson_revisions r SET number = n.number
FROM (SELECT id, row_number() OVER (PARTITION BY lesson ORDER BY id) AS number FROM lesson_revisions) n
WHERE n.id = r.id;
ALTER TABLE lesson_revisions ALTER COLUMN number SET NOT NULL;
ALTER TABLE lesson_revisions ADD CONSTRAINT lesson_revisions_lesson_number_key UNIQUE (lesson, number);

-- Entries written so far name revisions by id; they now read as the
-- number within the lesson, like every new entry. Lesson entries are
-- about lesson subject_id; a resend names its lesson in its detail.
UPDATE admin_audit a SET before = jsonb_set(a.before, '{revision}', to_jsonb(r.number))
FROM lesson_revisions r
WHERE a.subject_type = 'lesson' AND jsonb_typeof(a.before->'revision') = 'number' AND r.id = (a.before->>'revision')::bigint;
UPDATE admin_audit a SET after = jsonb_set(a.after, '{revision}', to_jsonb(r.number))
FROM lesson_revisions r
WHERE a.action IN ('lesson.save', 'lesson.restore', 'lesson.test_send', 'subscriber.resend')
  AND jsonb_typeof(a.after->'revision') = 'number' AND r.id = (a.after->>'revision')::bigint;
UPDATE admin_audit a SET after = jsonb_set(a.after, '{restored_from}', to_jsonb(r.number))
FROM lesson_revisions r
WHERE a.action = 'lesson.restore' AND jsonb_typeof(a.after->'restored_from') = 'number' AND r.id = (a.after->>'restored_from')::bigint;
UPDATE events e SET detail = jsonb_set(e.detail, '{revision}', to_jsonb(r.number))
FROM lesson_revisions r
WHERE e.kind = 'admin.resend' AND jsonb_typeof(e.detail->'revision') = 'number' AND r.id = (e.detail->>'revision')::bigint;

-- signup_pending is a new signup of a known address (pending or
-- unsubscribed) waiting for its confirmation: the consent record and the
-- name, zone and slot the form carried. Confirm makes it the row's; until
-- then the row keeps what its owner last consented to, so someone who
-- types another person's address changes nothing of theirs.
ALTER TABLE subscribers ADD COLUMN signup_pending jsonb;

-- +goose Down
ALTER TABLE subscribers DROP COLUMN signup_pending;
UPDATE events e SET detail = jsonb_set(e.detail, '{revision}', to_jsonb(r.id))
FROM lesson_revisions r
WHERE e.kind = 'admin.resend' AND jsonb_typeof(e.detail->'revision') = 'number'
  AND r.lesson = (e.detail->>'lesson')::int AND r.number = (e.detail->>'revision')::int;
UPDATE admin_audit a SET after = jsonb_set(a.after, '{restored_from}', to_jsonb(r.id))
FROM lesson_revisions r
WHERE a.action = 'lesson.restore' AND jsonb_typeof(a.after->'restored_from') = 'number'
  AND r.lesson = a.subject_id AND r.number = (a.after->>'restored_from')::int;
UPDATE admin_audit a SET after = jsonb_set(a.after, '{revision}', to_jsonb(r.id))
FROM lesson_revisions r
WHERE a.action IN ('lesson.save', 'lesson.restore', 'lesson.test_send') AND jsonb_typeof(a.after->'revision') = 'number'
  AND r.lesson = a.subject_id AND r.number = (a.after->>'revision')::int;
UPDATE admin_audit a SET after = jsonb_set(a.after, '{revision}', to_jsonb(r.id))
FROM lesson_revisions r
WHERE a.action = 'subscriber.resend' AND jsonb_typeof(a.after->'revision') = 'number'
  AND r.lesson = (a.after->>'lesson')::int AND r.number = (a.after->>'revision')::int;
UPDATE admin_audit a SET before = jsonb_set(a.before, '{revision}', to_jsonb(r.id))
FROM lesson_revisions r
WHERE a.subject_type = 'lesson' AND jsonb_typeof(a.before->'revision') = 'number'
  AND r.lesson = a.subject_id AND r.number = (a.before->>'revision')::int;
ALTER TABLE lesson_revisions DROP COLUMN number;
