package admin_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/store"
)

// edited is lesson 3 with its first sentence's city changed.
func (h *harness) edited() (src string, base int64) {
	h.t.Helper()
	src, base = h.lessonSource(3)
	if !strings.Contains(src, "at Yale") {
		h.t.Fatal("lesson 3 no longer mentions Yale; update the test")
	}
	return strings.Replace(src, "at Yale", "at Bergen", 1), base
}

func TestTheLessonListShowsEveryLessonWithItsRevisionAndWhoIsDueThisWeek(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	for i := range 3 {
		h.addSubscriber("due"+itoa(int64(i))+"@example.com", "", 4, h.clock().Add(48*hour))
	}
	h.addSubscriber("later@example.com", "", 4, h.clock().Add(10*24*hour))
	got := h.page("/admin/lessons")
	for _, want := range []string{"Your mood walks in first", `href="/admin/lessons/52"`, "Export all"} {
		if !strings.Contains(got, want) {
			t.Errorf("lesson list lacks %q", want)
		}
	}
	// Lesson 4's row ends with its due count: 3 within 7 days, not 4.
	row := between(got, `href="/admin/lessons/4"`, "</tr>")
	if !strings.HasSuffix(strings.TrimSpace(row), `<td class="num">3</td>`) {
		t.Errorf("lesson 4 row = %s, want 3 due in the next 7 days", row)
	}
}

func TestTheEditorShowsTheSourceAndTheRealEmail(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	got := h.page("/admin/lessons/3")
	c, _ := course.Load(twostep.Lessons)
	opening := html.EscapeString(strings.Join(strings.Fields(c.Lesson(3).Body)[:3], " "))
	for _, want := range []string{`<textarea id="source"`, opening, "Lesson 3 of 52: Your mood walks in first",
		`sandbox srcdoc="`, "lessons check</code> would accept"} {
		if !strings.Contains(got, want) {
			t.Errorf("editor lacks %q", want)
		}
	}
	for _, path := range []string{"/admin/lessons/0", "/admin/lessons/53", "/admin/lessons/x"} {
		resp := h.get(path)
		drain(resp)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
}

type previewJSON struct {
	Subject, HTML, Text string
	Problems            []course.Problem
}

func (h *harness) preview(n int, src string) previewJSON {
	h.t.Helper()
	resp := h.post("/admin/lessons/"+itoa(int64(n))+"/preview", url.Values{"source": {src}}, "Accept", "application/json")
	b := body(h.t, resp)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		h.t.Fatalf("preview = %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var p previewJSON
	if err := json.Unmarshal([]byte(b), &p); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func TestThePreviewRendersTheTypedTextAndTheValidatorsProblems(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	src, _ := h.edited()
	p := h.preview(3, src)
	if !strings.Contains(p.HTML, "at Bergen") || !strings.Contains(p.Text, "at Bergen") || len(p.Problems) != 0 {
		t.Fatalf("preview of a valid edit: problems %v, HTML has Bergen %v, text has Bergen %v",
			p.Problems, strings.Contains(p.HTML, "Bergen"), strings.Contains(p.Text, "Bergen"))
	}
	// The same rendering as `lessons preview`: the sample reader's name.
	if !strings.Contains(p.Text, "Alex") && !strings.Contains(p.HTML, "Alex") {
		t.Error("the preview is not rendered for the sample reader Alex")
	}

	// A sentence from lesson 10 is a whole-course problem, caught before saving.
	ten, _ := h.lessonSource(10)
	sentence := firstLongSentence(t, ten)
	p = h.preview(3, strings.Replace(src, "Nobody said why.", "Nobody said why. "+sentence, 1))
	if !hasProblem(p.Problems, "also appears in") {
		t.Errorf("a sentence copied from lesson 10: problems %v, want the repeated-sentence check", p.Problems)
	}
	// The single-file checks, with the file's name and line.
	p = h.preview(3, strings.Replace(src, "## Reflect", "## Think", 1))
	if !hasProblem(p.Problems, "03-your-mood-walks-in-first.md:") || !hasProblem(p.Problems, "Reflect") {
		t.Errorf("a missing Reflect section: problems %v", p.Problems)
	}
	p = h.preview(3, strings.Replace(src, "number: 3", "number: 4", 1))
	if !hasProblem(p.Problems, "number must stay 3") {
		t.Errorf("a changed number: problems %v", p.Problems)
	}
	// Without script the button re-renders the page with the typed text.
	resp := h.post("/admin/lessons/3/preview", url.Values{"source": {src}})
	if got := body(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(got, "at Bergen") || !strings.Contains(got, "<textarea") {
		t.Fatalf("preview without script = %d", resp.StatusCode)
	}
}

func firstLongSentence(t *testing.T, src string) string {
	t.Helper()
	_, body, _ := strings.Cut(strings.SplitN(src, "---", 3)[2], "\n\n")
	for _, s := range strings.SplitAfter(body, ". ") {
		s = strings.TrimSpace(s)
		if len(strings.Fields(s)) >= 8 && !strings.ContainsAny(s, "#\n\"") && strings.HasSuffix(s, ".") {
			return s
		}
	}
	t.Fatal("no long sentence found")
	return ""
}

func hasProblem(ps []course.Problem, substr string) bool {
	for _, p := range ps {
		if strings.Contains(p.String(), substr) {
			return true
		}
	}
	return false
}

func TestSavingCreatesAnAdminRevisionThatTheNextFileSyncKeeps(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	src, base := h.edited()
	var fileSum []byte
	h.db.Pool.QueryRow(context.Background(), `SELECT file_sha256 FROM lessons WHERE number = 3`).Scan(&fileSum)

	// As a browser sends a textarea: CRLF line ends.
	resp := h.post("/admin/lessons/3", url.Values{"source": {strings.ReplaceAll(src, "\n", "\r\n")}, "base": {itoa(base)}})
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/lessons/3?done=saved" {
		t.Fatalf("save = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	revs, err := h.db.LessonRevisions(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0].Origin != "admin" || revs[0].Author != adminEmail || string(revs[0].Source) != src {
		t.Fatalf("revisions after the save: %+v", revs)
	}
	cur, err := h.library.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cur.Revisions[3] != revs[0].ID || !strings.Contains(cur.Course.Lesson(3).Body, "at Bergen") {
		t.Fatal("the saved revision is not what the sender sends")
	}
	var after []byte
	h.db.Pool.QueryRow(context.Background(), `SELECT file_sha256 FROM lessons WHERE number = 3`).Scan(&after)
	if !bytes.Equal(after, fileSum) {
		t.Fatal("saving changed lessons.file_sha256")
	}
	// The unchanged file does not clobber the edit.
	if n, err := h.library.Sync(context.Background(), h.clock()); err != nil || n != 0 {
		t.Fatalf("sync after the edit: %d, %v; want 0 revisions", n, err)
	}
	if _, id := h.lessonSource(3); id != revs[0].ID {
		t.Fatal("the file sync replaced the admin's edit")
	}
	// Saving the same text again adds nothing.
	resp = h.post("/admin/lessons/3", url.Values{"source": {src}, "base": {itoa(revs[0].ID)}})
	drain(resp)
	if loc := resp.Header.Get("Location"); loc != "/admin/lessons/3?done=unchanged" {
		t.Fatalf("saving the same text: %q", loc)
	}
	if n := h.count(`SELECT count(*) FROM admin_audit WHERE action = 'lesson.save' AND subject_id = 3`); n != 1 {
		t.Fatalf("%d lesson.save audit entries, want 1", n)
	}
}

func TestAnInvalidLessonIsNotSavedAndTheProblemsAreShown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	src, base := h.edited()
	ten, _ := h.lessonSource(10)
	cases := []struct{ name, src, want string }{
		{"a missing section", strings.Replace(src, "## Try this week", "## Try this", 1), "is not allowed"},
		{"a sentence from another lesson", strings.Replace(src, "Nobody said why.", "Nobody said why. "+firstLongSentence(t, ten), 1), "also appears in"},
		{"raw HTML", strings.Replace(src, "Nobody said why.", "Nobody <b>said</b> why.", 1), "raw HTML"},
		{"the title of another lesson", strings.Replace(src, `title: "Your mood walks in first"`, `title: "Two jobs, one person"`, 1), "also used by"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := h.post("/admin/lessons/3", url.Values{"source": {c.src}, "base": {itoa(base)}})
			got := body(t, resp)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, "Not saved") || !strings.Contains(got, c.want) {
				t.Fatalf("status %d; page has %q: %v", resp.StatusCode, c.want, strings.Contains(got, c.want))
			}
			// Without script too: the problems come first, above the text,
			// in a summary that takes the focus, and the text is the one posted.
			summary, textarea := strings.Index(got, `<div id="save-problems"`), strings.Index(got, `<textarea id="source"`)
			if summary < 0 || summary > textarea {
				t.Fatalf("the problem summary is at %d, the text at %d: want the summary above the text", summary, textarea)
			}
			tag := got[summary : strings.Index(got[summary:], ">")+summary]
			if !strings.Contains(tag, `role="alert"`) || !strings.Contains(tag, "autofocus") {
				t.Errorf("the summary is %s, want an alert that takes the focus", tag)
			}
			if list := between(got, `<div id="save-problems"`, "</div>"); !strings.Contains(list, c.want) || !strings.Contains(list, `href="#source"`) {
				t.Errorf("the summary does not link the problem %q to the text:\n%s", c.want, list)
			}
			if !strings.Contains(between(got, `<textarea id="source"`, "</textarea>"), html.EscapeString(c.src)) {
				t.Error("the refused save did not keep the posted text")
			}
		})
	}
	if n := h.count(`SELECT count(*) FROM lesson_revisions WHERE lesson = 3`); n != 1 {
		t.Fatalf("%d revisions of lesson 3, want only the file's", n)
	}
}

func TestSavingOverSomeoneElsesNewerRevisionIsRefusedAndKeepsTheText(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	src, base := h.edited()
	if _, _, err := h.db.SaveLessonRevision(context.Background(), store.LessonEdit{Lesson: 3,
		Source: []byte(strings.Replace(src, "at Bergen", "in Trondheim", 1)), Origin: "admin", Author: "other@example.com", At: h.clock()}); err != nil {
		t.Fatal(err)
	}
	resp := h.post("/admin/lessons/3", url.Values{"source": {src}, "base": {itoa(base)}})
	got := body(t, resp)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(got, "at Bergen") || !strings.Contains(got, "someone else saved") {
		t.Fatalf("stale save = %d", resp.StatusCode)
	}
	if s, _ := h.lessonSource(3); !strings.Contains(s, "Trondheim") {
		t.Fatal("the stale save replaced the newer revision")
	}
}

func TestHistoryShowsADiffAndRestoreMakesAnOldRevisionCurrent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	src, base := h.edited()
	drain(h.post("/admin/lessons/3", url.Values{"source": {src}, "base": {itoa(base)}}))
	got := h.page("/admin/lessons/3/history")
	for _, want := range []string{`data-origin="admin"`, `data-origin="file"`, `class="d del"`, "at Yale", `class="d add"`, "at Bergen", "by " + adminEmail} {
		if !strings.Contains(got, want) {
			t.Errorf("history lacks %q", want)
		}
	}
	resp := h.post("/admin/lessons/3/restore", url.Values{"revision": {"1"}}) // the file's, lesson 3's first
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("restore = %d", resp.StatusCode)
	}
	s, id := h.lessonSource(3)
	if !strings.Contains(s, "at Yale") || id == base {
		t.Fatalf("after restore the current revision is %d (base %d)", id, base)
	}
	if n := h.count(`SELECT count(*) FROM lesson_revisions WHERE lesson = 3 AND origin = 'restore' AND author = $1`, adminEmail); n != 1 {
		t.Fatalf("%d restore revisions, want 1", n)
	}
	if n := h.count(`SELECT count(*) FROM admin_audit WHERE action = 'lesson.restore' AND after->>'restored_from' = '1'`); n != 1 {
		t.Fatal("the restore is not in the audit log")
	}
}

func TestRevisionsAreNumberedWithinTheirLessonEverywhereTheAdminReadsThem(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	// 52 files imported: lesson 3's first revision has a global id near 3,
	// its second one past 52. Lesson 4 gets an edit in between.
	src, base := h.edited()
	drain(h.post("/admin/lessons/3", url.Values{"source": {src}, "base": {itoa(base)}}))
	four, base4 := h.lessonSource(4)
	drain(h.post("/admin/lessons/4", url.Values{"source": {strings.Replace(four, "\n\n", "\n\nAn added line.\n\n", 1)}, "base": {itoa(base4)}}))
	src, base = h.lessonSource(3)
	drain(h.post("/admin/lessons/3", url.Values{"source": {strings.Replace(src, "at Bergen", "at Tromsø", 1)}, "base": {itoa(base)}}))
	if _, id := h.lessonSource(3); id <= 52 {
		t.Fatalf("lesson 3's newest revision has id %d; the test needs one past the imported files", id)
	}

	// The list: lesson 3 is at its third revision, lesson 4 at its second.
	list := h.page("/admin/lessons")
	for n, want := range map[string]string{"3": ">#3</a>", "4": ">#2</a>", "5": ">#1</a>"} {
		if row := between(list, `href="/admin/lessons/`+n+`"`, "</tr>"); !strings.Contains(row, want) {
			t.Errorf("lesson %s row = %s\nwant %s", n, row, want)
		}
	}
	// The history: #3, #2, #1, the newest against the one before it.
	hist := h.page("/admin/lessons/3/history")
	for _, want := range []string{`data-revision="3"`, `data-revision="2"`, `data-revision="1"`, "Revision #3 compared with #2",
		`href="/admin/lessons/3/history?rev=3&amp;against=1"`, `name="revision" value="1"`} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q", want)
		}
	}
	if strings.Contains(hist, `data-revision="4"`) {
		t.Error("the history of lesson 3 counts a revision of lesson 4")
	}
	// Any pair by number: the file's text against the first edit.
	diff := h.page("/admin/lessons/3/history?rev=2&against=1")
	if !strings.Contains(diff, "Revision #2 compared with #1") || !strings.Contains(diff, "at Yale") || !strings.Contains(diff, "at Bergen") {
		t.Error("history?rev=2&against=1 does not compare lesson 3's second revision with its first")
	}
	// Restoring #1 makes #4, and the audit log says so in the same numbers.
	resp := h.post("/admin/lessons/3/restore", url.Values{"revision": {"1"}})
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("restore #1 = %d", resp.StatusCode)
	}
	if s, _ := h.lessonSource(3); !strings.Contains(s, "at Yale") {
		t.Fatal("restoring #1 did not bring back the file's text")
	}
	if !strings.Contains(h.page("/admin/lessons/3/history"), `data-revision="4" data-origin="restore"`) {
		t.Error("the restore is not lesson 3's revision #4")
	}
	audit := h.page("/admin/audit")
	for _, want := range []string{"<code>revision: 3</code>", "<code>restored_from: 1; revision: 4</code>", "<code>revision: 2</code>"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
	// An unknown number is not found, not someone else's revision.
	resp = h.post("/admin/lessons/3/restore", url.Values{"revision": {"9"}})
	drain(resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("restore #9 of a lesson with 4 = %d, want 404", resp.StatusCode)
	}
}

func TestATestSendDeliversTheLessonAsTheChosenSubscriberWouldGetIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	id := h.addSubscriber("ann@example.com", "Annabel Lee", 3, h.clock())
	resp := h.post("/admin/lessons/3/test", url.Values{"to": {"me@example.com"}, "as": {"ann@example.com"}})
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/lessons/3?done=sent" {
		t.Fatalf("test send = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	msgs := h.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.To[0] != "me@example.com" || m.Header.Get("X-Twostep-Lesson") != "3" || !strings.HasPrefix(m.Header.Get("Subject"), "[Test] Lesson 3 of 52") {
		t.Fatalf("test message to %v, lesson %q, subject %q", m.To, m.Header.Get("X-Twostep-Lesson"), m.Header.Get("Subject"))
	}
	if !strings.Contains(m.Text(), "Annabel") {
		t.Error("the test is not greeted with the chosen subscriber's name")
	}
	if n := h.count(`SELECT count(*) FROM admin_audit WHERE action = 'lesson.test_send' AND (after->>'as_subscriber')::bigint = $1`, id); n != 1 {
		t.Fatal("the test send is not in the audit log")
	}
	// A bad address is refused with the editor shown again.
	resp = h.post("/admin/lessons/3/test", url.Values{"to": {"not an address"}})
	if got := body(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, "Test not sent") {
		t.Fatalf("bad address = %d", resp.StatusCode)
	}
}

func TestTheLessonExportIsAZipThatLessonsCheckAccepts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	src, base := h.edited()
	drain(h.post("/admin/lessons/3", url.Values{"source": {src}, "base": {itoa(base)}}))
	resp := h.get("/admin/lessons/export.zip")
	b := body(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	z, err := zip.NewReader(bytes.NewReader([]byte(b)), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	c, problems := course.Load(z)
	if len(problems) > 0 {
		t.Fatalf("lessons check on the export: %v", problems)
	}
	if len(c.Lessons) != 52 || !strings.Contains(c.Lesson(3).Body, "at Bergen") {
		t.Fatalf("export has %d lessons; lesson 3 edited: %v", len(c.Lessons), strings.Contains(c.Lesson(3).Body, "at Bergen"))
	}
}
