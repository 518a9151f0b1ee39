package admin

import (
	"context"

	"github.com/twostep/twostep/internal/store"
)

// lessonReports is one row of the dashboard's bounces and complaints per
// lesson; Lesson 0 is mail that was no lesson (a confirmation, say) or
// that no delivery matched.
type lessonReports struct {
	Lesson int
	store.LessonReports
}

// reportsByLesson is the dashboard's table of bounces and complaints per
// lesson, lessons in course order and only those with a report, so that a
// lesson that draws complaints stands out.
func (h *handler) reportsByLesson(ctx context.Context) ([]lessonReports, error) {
	counts, err := h.db.ReportsByLesson(ctx)
	if err != nil {
		return nil, err
	}
	var out []lessonReports
	for n := 1; n <= h.d.Library.Base.LessonCount; n++ {
		if c, ok := counts[n]; ok {
			out = append(out, lessonReports{n, c})
			delete(counts, n)
		}
	}
	// Lessons the course no longer has, then mail that was no lesson.
	var other store.LessonReports
	for _, c := range counts {
		other.Hard += c.Hard
		other.Soft += c.Soft
		other.Complaint += c.Complaint
	}
	if other != (store.LessonReports{}) {
		out = append(out, lessonReports{0, other})
	}
	return out, nil
}
