package send

import (
	"context"
	"fmt"

	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/store"
)

// Library is the course as every copy of the service must send it: the
// settings from course.yaml and the current revision of each lesson from
// the database, where file imports and admin edits both land.
type Library struct {
	DB   *store.DB
	Base *course.Course // as loaded from the course folder
}

// Current is the course with its current revisions.
type Current struct {
	Course    *course.Course
	Revisions map[int]int64 // lesson number → revision id
}

// Sync imports lesson files that changed since their last import.
func (l *Library) Sync(ctx context.Context) (int, error) {
	files := make([]store.LessonFile, 0, len(l.Base.Lessons))
	for _, ls := range l.Base.Lessons {
		files = append(files, store.LessonFile{Number: ls.Number, Source: ls.Source})
	}
	return l.DB.SyncLessons(ctx, files)
}

// Current loads the current revision of every lesson.
func (l *Library) Current(ctx context.Context) (*Current, error) {
	revs, err := l.DB.CurrentRevisions(ctx)
	if err != nil {
		return nil, err
	}
	c := *l.Base
	c.Lessons = make([]*course.Lesson, 0, len(revs))
	cur := &Current{Course: &c, Revisions: make(map[int]int64, len(revs))}
	for _, r := range revs {
		ls, problems := course.ParseLesson("", r.Source)
		if len(problems) > 0 {
			return nil, fmt.Errorf("lesson %d revision %d is not valid: %w", r.Lesson, r.ID, problems)
		}
		ls.File = ls.FileName()
		c.Lessons = append(c.Lessons, ls)
		cur.Revisions[ls.Number] = r.ID
	}
	return cur, nil
}
