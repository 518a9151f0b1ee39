package course

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/store"
)

// Revisions is what the Library needs of the database: import changed
// lesson files, and read which revisions are current and their text.
type Revisions interface {
	SyncLessons(ctx context.Context, files []store.LessonFile, now time.Time) (int, error)
	CurrentRevisionIDs(ctx context.Context) (map[int]int64, error)
	Revisions(ctx context.Context, ids []int64) ([]store.Revision, error)
}

// Library is the course as every copy of the service must send it: the
// settings from yaml and the current revision of each lesson from
// the database, where file imports and admin edits both land.
type Library struct {
	DB   Revisions
	Base *Course // as loaded from the course folder

	mu     sync.Mutex
	parsed map[int64]*Lesson // by revision id; revisions never change
	last   *Current          // returned again while no lesson changes
}

// Current is the course with its current revisions.
type Current struct {
	Course    *Course
	Revisions map[int]int64 // lesson number → revision id
}

// Sync imports lesson files that changed since their last import, as new
// revisions made at now.
func (l *Library) Sync(ctx context.Context, now time.Time) (int, error) {
	files := make([]store.LessonFile, 0, len(l.Base.Lessons))
	for _, ls := range l.Base.Lessons {
		files = append(files, store.LessonFile{Number: ls.Number, Source: ls.Source})
	}
	return l.DB.SyncLessons(ctx, files, now)
}

// Current loads the current revision of every lesson. It asks the database
// which revisions are current every time, so an edit made through any copy
// is used at once, but parses each revision only once, and returns the same
// Current (the same *Course) until a lesson changes, so what is
// cached per course stays cached. Callers must not modify it.
func (l *Library) Current(ctx context.Context) (*Current, error) {
	ids, err := l.DB.CurrentRevisionIDs(ctx)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last != nil && maps.Equal(l.last.Revisions, ids) {
		return l.last, nil
	}
	if l.parsed == nil {
		l.parsed = map[int64]*Lesson{}
	}
	var missing []int64
	for _, id := range ids {
		if l.parsed[id] == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		revs, err := l.DB.Revisions(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, r := range revs {
			ls, problems := ParseLesson("", r.Source)
			if len(problems) > 0 {
				return nil, fmt.Errorf("lesson %d revision %d is not valid: %w", r.Lesson, r.ID, problems)
			}
			ls.File = ls.FileName()
			l.parsed[r.ID] = ls
		}
	}
	c := *l.Base
	c.Lessons = make([]*Lesson, 0, len(ids))
	cur := &Current{Course: &c, Revisions: make(map[int]int64, len(ids))}
	for n, id := range ids {
		ls := l.parsed[id]
		if ls == nil {
			return nil, fmt.Errorf("lesson %d: revision %d not found", n, id)
		}
		c.Lessons = append(c.Lessons, ls)
		cur.Revisions[n] = id
	}
	slices.SortFunc(c.Lessons, func(a, b *Lesson) int { return a.Number - b.Number })
	l.last = cur
	return cur, nil
}
