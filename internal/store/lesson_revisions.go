package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// LessonState is where a lesson stands: its current revision and when
// the lesson last changed.
type LessonState struct {
	Number    int
	Revision  Revision
	UpdatedAt time.Time
}

// LessonStates returns the state of every lesson, by number.
func (db *DB) LessonStates(ctx context.Context) ([]LessonState, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT l.number, l.updated_at, r.id, r.lesson, r.number, r.source, r.origin, r.author, r.created_at
		FROM lessons l JOIN lesson_revisions r ON r.id = l.revision_id
		ORDER BY l.number`)
	if err != nil {
		return nil, fmt.Errorf("load lesson states: %w", err)
	}
	states, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LessonState, error) {
		var s LessonState
		var src string
		err := r.Scan(append([]any{&s.Number, &s.UpdatedAt}, revisionTargets(&s.Revision, &src)...)...)
		s.Revision.Source = []byte(src)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("load lesson states: %w", err)
	}
	return states, nil
}

// DueByLesson counts the active subscribers due before until, by the
// lesson they will get. It reads the partial index schedule_due_idx.
func (db *DB) DueByLesson(ctx context.Context, until time.Time) (map[int]int, error) {
	return db.countByLesson(ctx, "count due subscribers by lesson", `
		SELECT lesson, count(*) FROM schedule
		WHERE active AND due_at < $1
		GROUP BY lesson`, until)
}

// LessonRevision returns revision number (counted within the lesson) of
// lesson n, or drip.ErrNotFound.
func (db *DB) LessonRevision(ctx context.Context, n, number int) (Revision, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT `+revisionColumns+`
		FROM lesson_revisions WHERE lesson = $1 AND number = $2`, n, number)
	if err != nil {
		return Revision{}, fmt.Errorf("load revision %d of lesson %d: %w", number, n, err)
	}
	rev, err := pgx.CollectExactlyOneRow(rows, scanRevision)
	if errors.Is(err, pgx.ErrNoRows) {
		return Revision{}, drip.ErrNotFound
	}
	if err != nil {
		return Revision{}, fmt.Errorf("load revision %d of lesson %d: %w", number, n, err)
	}
	return rev, nil
}

// ErrRevisionConflict means the lesson's current revision is no longer the
// one the edit started from: someone else saved, or a file was imported.
var ErrRevisionConflict = errors.New("the lesson was changed since it was opened")

// LessonEdit is a new text for a lesson from the admin.
type LessonEdit struct {
	Lesson int
	Source []byte
	Origin string // "admin" or "restore"
	Author string
	// Base is the revision the edit started from; the save is refused with
	// ErrRevisionConflict when another revision has become current since.
	Base int64
	// RestoredFrom is the number of the revision a restore copies, for
	// the audit log.
	RestoredFrom int
	IP           string
	At           time.Time // when it is saved
}

// SaveLessonRevision stores the edit as a new revision and makes it current,
// as a file import does, but leaves lessons.file_sha256 alone: the next
// file sync then keeps the edit unless the file itself changed. Saving the
// current text again adds nothing and reports changed false.
func (db *DB) SaveLessonRevision(ctx context.Context, e LessonEdit) (rev Revision, changed bool, err error) {
	now := e.At
	sum := sha256.Sum256(e.Source)
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		// The same lock SyncLessons takes, so an import and an edit take turns.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lessonsLock); err != nil {
			return err
		}
		var current int64
		var currentNumber int
		var currentSum []byte
		err := tx.QueryRow(ctx, `
			SELECT l.revision_id, r.number, r.sha256 FROM lessons l JOIN lesson_revisions r ON r.id = l.revision_id
			WHERE l.number = $1`, e.Lesson).Scan(&current, &currentNumber, &currentSum)
		if errors.Is(err, pgx.ErrNoRows) {
			return drip.ErrNotFound
		}
		if err != nil {
			return err
		}
		if e.Base != 0 && e.Base != current {
			return ErrRevisionConflict
		}
		if bytes.Equal(currentSum, sum[:]) {
			rev, err = db.revisionTx(ctx, tx, current)
			return err
		}
		rev = Revision{Lesson: e.Lesson, Source: e.Source, Origin: e.Origin, Author: e.Author, CreatedAt: now}
		if err := insertRevision(ctx, tx, &rev, sum[:]); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE lessons SET revision_id = $2, updated_at = $3 WHERE number = $1`,
			e.Lesson, rev.ID, now); err != nil {
			return err
		}
		changed = true
		lesson := int64(e.Lesson)
		// The audit log names revisions by their number within the lesson,
		// as the history page does.
		after := map[string]any{"revision": rev.Number}
		action := "lesson.save"
		if e.Origin == "restore" {
			action = "lesson.restore"
			after["restored_from"] = e.RestoredFrom
		}
		return addAudit(ctx, tx, AuditEntry{At: now, Actor: e.Author, Action: action, SubjectType: "lesson",
			SubjectID: &lesson, Before: map[string]any{"revision": currentNumber}, After: after, IP: e.IP})
	})
	if err != nil {
		if errors.Is(err, drip.ErrNotFound) || errors.Is(err, ErrRevisionConflict) {
			return Revision{}, false, err
		}
		return Revision{}, false, fmt.Errorf("save lesson %d: %w", e.Lesson, err)
	}
	return rev, changed, nil
}

func (db *DB) revisionTx(ctx context.Context, tx pgx.Tx, id int64) (Revision, error) {
	rows, err := tx.Query(ctx, `SELECT `+revisionColumns+` FROM lesson_revisions WHERE id = $1`, id)
	if err != nil {
		return Revision{}, err
	}
	return pgx.CollectExactlyOneRow(rows, scanRevision)
}
