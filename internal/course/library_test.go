package course_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestImportEditImportMakesExactlyOneNewRevision(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	files := fstest.MapFS{}
	for _, name := range []string{"course.yaml", "01-two-jobs-one-person.md", "07-purpose-over-rules.md"} {
		b, err := twostep.Lessons.(interface{ ReadFile(string) ([]byte, error) }).ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = &fstest.MapFile{Data: b}
	}
	load := func() *course.Library {
		c, _ := course.Load(files) // the lesson count is off; sync does not care
		return &course.Library{DB: db, Base: c}
	}
	revisions := func() int {
		var n int
		db.Pool.QueryRow(ctx, `SELECT count(*) FROM lesson_revisions`).Scan(&n)
		return n
	}
	if n, err := load().Sync(ctx, time.Now()); err != nil || n != 2 {
		t.Fatalf("first import added %d (%v), want 2", n, err)
	}
	if n, _ := load().Sync(ctx, time.Now()); n != 0 || revisions() != 2 {
		t.Fatalf("unchanged files added %d", n)
	}
	seven := files["07-purpose-over-rules.md"]
	seven.Data = []byte(strings.Replace(string(seven.Data), "\n## Try this week", "\nA sentence added by the test.\n\n## Try this week", 1))
	if n, _ := load().Sync(ctx, time.Now()); n != 1 || revisions() != 3 {
		t.Fatalf("an edited file added %d revisions, want 1", n)
	}
	cur, err := load().Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cur.Course.Lesson(7).Body, "added by the test") {
		t.Fatal("the new revision is not current")
	}
	// An admin's edit becomes current; the unchanged file must not undo it.
	var adminRev int64
	edited := strings.Replace(string(seven.Data), "A sentence added by the test.", "A sentence the admin changed.", 1)
	db.Pool.QueryRow(ctx, `
		INSERT INTO lesson_revisions (lesson, number, source, sha256, origin)
		SELECT 7, max(number) + 1, $1, '\x00', 'admin' FROM lesson_revisions WHERE lesson = 7 RETURNING id`, edited).Scan(&adminRev)
	db.Pool.Exec(ctx, `UPDATE lessons SET revision_id = $1 WHERE number = 7`, adminRev)
	if n, _ := load().Sync(ctx, time.Now()); n != 0 {
		t.Fatalf("an unchanged file overrode the admin's edit (%d new)", n)
	}
	cur, _ = load().Current(ctx)
	if cur.Revisions[7] != adminRev {
		t.Fatalf("current revision %d, want the admin's %d", cur.Revisions[7], adminRev)
	}
}

func TestCurrentIsTheSameCourseUntilALessonChanges(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	c0, problems := course.Load(twostep.Lessons)
	if len(problems) > 0 {
		t.Fatalf("shipped course: %v", problems)
	}
	lib := &course.Library{DB: db, Base: c0}
	if _, err := lib.Sync(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	a, err := lib.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := lib.Current(ctx)
	if err != nil || a.Course != b.Course {
		t.Fatalf("two calls with no change gave different courses (%v)", err)
	}
	src := bytes.Replace(a.Course.Lesson(3).Source, []byte("\n\n"), []byte("\n\nA new first paragraph for this test.\n\n"), 1)
	if _, _, err := db.SaveLessonRevision(ctx, store.LessonEdit{Lesson: 3, Source: src, Origin: "admin",
		Author: "admin@example.com", Base: a.Revisions[3], At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c, err := lib.Current(ctx)
	if err != nil || c.Course == a.Course || c.Course.Lesson(3) == a.Course.Lesson(3) || c.Course.Lesson(4) != a.Course.Lesson(4) {
		t.Fatalf("after an edit of lesson 3: a new course with a new lesson 3 and the same lesson 4 expected (%v)", err)
	}
}
