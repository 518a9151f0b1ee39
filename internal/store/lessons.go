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
	ID        int64
	Lesson    int
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

// SyncLessons stores each file whose content changed since it was last
// imported as a new revision that becomes current, so every copy of the
// service sends the same text. Unchanged files do nothing, even when an
// admin's edit has since made another revision current. It returns how
// many revisions it added. Concurrent calls from several copies take turns.
func (db *DB) SyncLessons(ctx context.Context, files []LessonFile, now time.Time) (int, error) {
	added := 0
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7421002)`); err != nil {
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
			var id int64
			if err := tx.QueryRow(ctx, `
				INSERT INTO lesson_revisions (lesson, source, sha256, origin, created_at)
				VALUES ($1, $2, $3, 'file', $4) RETURNING id`,
				f.Number, string(f.Source), sum[:], now).Scan(&id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO lessons (number, revision_id, file_sha256, updated_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (number) DO UPDATE SET revision_id = $2, file_sha256 = $3, updated_at = $4`,
				f.Number, id, sum[:], now); err != nil {
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
		SELECT id, lesson, source, origin, author, created_at
		FROM lesson_revisions WHERE lesson = $1 ORDER BY id DESC`, n)
	if err != nil {
		return nil, fmt.Errorf("load revisions of lesson %d: %w", n, err)
	}
	revs, err := pgx.CollectRows(rows, scanRevision)
	if err != nil {
		return nil, fmt.Errorf("load revisions of lesson %d: %w", n, err)
	}
	return revs, nil
}

func scanRevision(r pgx.CollectableRow) (Revision, error) {
	var rev Revision
	var src string
	err := r.Scan(&rev.ID, &rev.Lesson, &src, &rev.Origin, &rev.Author, &rev.CreatedAt)
	rev.Source = []byte(src)
	return rev, err
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
		SELECT id, lesson, source, origin, author, created_at
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
