package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Revision is one stored version of a lesson's file.
type Revision struct {
	ID     int64 // the key lessons and deliveries point at
	Lesson int
	// Number counts the lesson's revisions: 1 for its first, 2 for the
	// next. It is what the admin shows.
	Number    int
	Source    []byte
	Origin    string // "file", "admin" or "restore"
	Author    string
	CreatedAt time.Time
}

// LessonFile is a lesson as read from the course folder.
type LessonFile struct {
	Number int
	Source []byte
}

// lessonsLock is the transaction advisory lock every writer of lessons and
// their revisions takes, so that revision numbers and the current lesson
// change one writer at a time.
const lessonsLock = 7421002

// SyncLessons stores each file whose content changed since it was last
// imported as a new revision that becomes current, so every copy of the
// service sends the same text. Unchanged files do nothing, even when an
// admin's edit has since made another revision current. It returns how
// many revisions it added. Concurrent calls from several copies take turns.
func (db *DB) SyncLessons(ctx context.Context, files []LessonFile, now time.Time) (int, error) {
	added := 0
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lessonsLock); err != nil {
			return err
		}
		known := map[int][]byte{}
		rows, err := tx.Query(ctx, `SELECT number, file_sha256 FROM lessons`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n int
			var sum []byte
			if err := rows.Scan(&n, &sum); err != nil {
				return err
			}
			known[n] = sum
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, f := range files {
			sum := sha256.Sum256(f.Source)
			if old, ok := known[f.Number]; ok && bytes.Equal(old, sum[:]) {
				continue
			}
			rev := Revision{Lesson: f.Number, Source: f.Source, Origin: "file", CreatedAt: now}
			if err := insertRevision(ctx, tx, &rev, sum[:]); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO lessons (number, revision_id, file_sha256, updated_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (number) DO UPDATE SET revision_id = $2, file_sha256 = $3, updated_at = $4`,
				f.Number, rev.ID, sum[:], now); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sync lessons: %w", err)
	}
	return added, nil
}

// LessonRevisions returns every revision of lesson n, newest first.
func (db *DB) LessonRevisions(ctx context.Context, n int) ([]Revision, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT `+revisionColumns+`
		FROM lesson_revisions WHERE lesson = $1 ORDER BY number DESC`, n)
	if err != nil {
		return nil, fmt.Errorf("load revisions of lesson %d: %w", n, err)
	}
	revs, err := pgx.CollectRows(rows, scanRevision)
	if err != nil {
		return nil, fmt.Errorf("load revisions of lesson %d: %w", n, err)
	}
	return revs, nil
}

// revisionColumns lists what scanRevision reads, in order.
const revisionColumns = `id, lesson, number, source, origin, author, created_at`

func scanRevision(r pgx.CollectableRow) (Revision, error) {
	var rev Revision
	var src string
	err := r.Scan(revisionTargets(&rev, &src)...)
	rev.Source = []byte(src)
	return rev, err
}

func revisionTargets(rev *Revision, src *string) []any {
	return []any{&rev.ID, &rev.Lesson, &rev.Number, src, &rev.Origin, &rev.Author, &rev.CreatedAt}
}

// insertRevision stores rev, with the next number of its lesson, and sets
// its ID and Number. Callers hold the lessons' advisory lock (lessonsLock), so
// two inserts for one lesson never pick the same number.
func insertRevision(ctx context.Context, tx pgx.Tx, rev *Revision, sum []byte) error {
	return tx.QueryRow(ctx, `
		INSERT INTO lesson_revisions (lesson, number, source, sha256, origin, author, created_at)
		SELECT $1, COALESCE(max(number), 0) + 1, $2, $3, $4, $5, $6 FROM lesson_revisions WHERE lesson = $1
		RETURNING id, number`,
		rev.Lesson, string(rev.Source), sum, rev.Origin, rev.Author, rev.CreatedAt).Scan(&rev.ID, &rev.Number)
}

// CurrentRevisionIDs maps each lesson number to its current revision.
func (db *DB) CurrentRevisionIDs(ctx context.Context) (map[int]int64, error) {
	rows, err := db.Pool.Query(ctx, `SELECT number, revision_id FROM lessons`)
	if err != nil {
		return nil, fmt.Errorf("load current lesson revisions: %w", err)
	}
	out := map[int]int64{}
	var n int
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&n, &id}, func() error { out[n] = id; return nil }); err != nil {
		return nil, fmt.Errorf("load current lesson revisions: %w", err)
	}
	return out, nil
}

// Revisions returns the revisions with the given ids.
func (db *DB) Revisions(ctx context.Context, ids []int64) ([]Revision, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT `+revisionColumns+`
		FROM lesson_revisions WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("load lesson revisions: %w", err)
	}
	revs, err := pgx.CollectRows(rows, scanRevision)
	if err != nil {
		return nil, fmt.Errorf("load lesson revisions: %w", err)
	}
	return revs, nil
}
