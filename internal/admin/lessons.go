package admin

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/store"
)

type lessonRow struct {
	Number      int
	Title       string
	Words       int
	ReadingTime time.Duration
	Revision    store.Revision
	UpdatedAt   time.Time
	DueWeek     int
	Problems    int
}

func (h *handler) lessons(w http.ResponseWriter, r *http.Request) {
	states, err := h.db.LessonStates(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	due, err := h.db.DueByLesson(r.Context(), h.now().Add(7*24*time.Hour))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The current course is parsed once per revision (Library); only a
	// revision it does not hold (saved a moment ago, or one that no longer
	// passes the checks) is parsed here.
	cur, curErr := h.d.Library.Current(r.Context())
	rows := make([]lessonRow, 0, len(states))
	for _, s := range states {
		var ls *course.Lesson
		problems := 0
		if curErr == nil && cur.Revisions[s.Number] == s.Revision.ID {
			ls = cur.Course.Lesson(s.Number)
		}
		if ls == nil {
			var ps course.Problems
			ls, ps = course.ParseLesson("", s.Revision.Source)
			problems = len(ps)
		}
		rows = append(rows, lessonRow{Number: s.Number, Title: ls.Title, Words: ls.Words, ReadingTime: ls.ReadingTime(),
			Revision: s.Revision, UpdatedAt: s.UpdatedAt, DueWeek: due[s.Number], Problems: problems})
	}
	h.render(w, r, http.StatusOK, "lessons", page{Title: "Lessons", Nav: "lessons", Data: rows})
}

// lessonNumber reads {n} from the path; ok is false when the course has
// no such lesson.
func (h *handler) lessonNumber(r *http.Request) (int, bool) {
	n, err := strconv.Atoi(chi.URLParam(r, "n"))
	return n, err == nil && n >= 1 && n <= h.d.Library.Base.LessonCount
}

// preview is the real email for the editor's two tabs, and what the
// validator says about the text.
type preview struct {
	Subject   string           `json:"subject"`
	Preheader string           `json:"preheader"`
	HTML      string           `json:"html"`
	Text      string           `json:"text"`
	Problems  []course.Problem `json:"problems"`
	Error     string           `json:"error,omitempty"`
}

type editorData struct {
	Number      int
	Title       string
	Source      string
	Base        int64
	Preview     preview
	LessonCount int
	TestTo      string
	TestAs      string
	editorView
}

// editorView is how the editor page is shown besides the text in it.
type editorView struct {
	Flash, Error string
	To, As       string // the test-send form as posted
	// Unsaved means the textarea holds text that is not the saved
	// revision (a refused save, a preview without script): leaving the
	// page warns even before the author types.
	Unsaved bool
	// Refused means a save was refused for the problems of the text: they
	// are listed at the top of the editor, which takes the focus.
	Refused bool
}

// checked is a lesson text as the validator and renderer see it.
type checked struct {
	course   *course.Course // the current course with the text in place of lesson n
	lesson   *course.Lesson
	problems course.Problems
	base     int64 // the current revision of lesson n
}

// checkCurrent is check against the course as it is now.
func (h *handler) checkCurrent(ctx context.Context, n int, src []byte) (*checked, error) {
	cur, err := h.d.Library.Current(ctx)
	if err != nil {
		return nil, err
	}
	return h.check(cur, n, src), nil
}

// check parses src as lesson n with the same checks as `lessons check`:
// the file on its own (course.ParseLesson), then the whole course with
// this text in place of the current lesson n (course.Validate), so a
// sentence repeated from another lesson or a duplicate title is caught
// before saving. cur is the course as the caller loaded it.
func (h *handler) check(cur *course.Current, n int, src []byte) *checked {
	old := cur.Course.Lesson(n)
	ls, ps := course.ParseLesson("", src)
	name := fmt.Sprintf("%02d-%s.md", n, ls.Slug)
	if ls.Slug == "" && old != nil {
		name = old.File
	}
	ls.File = name
	for i := range ps {
		if ps[i].File == "" {
			ps[i].File = name
		}
	}
	c := *cur.Course
	if ls.Number != n {
		ps = append(ps, course.Problem{File: name, Line: 1,
			Msg: fmt.Sprintf("number must stay %d: this page edits lesson %d only", n, n)})
	} else {
		c.Lessons = make([]*course.Lesson, 0, len(cur.Course.Lessons))
		for _, l := range cur.Course.Lessons {
			if l.Number == n {
				l = ls
			}
			c.Lessons = append(c.Lessons, l)
		}
		ps = append(ps, course.Validate(&c)...)
	}
	return &checked{course: &c, lesson: ls, problems: ps, base: cur.Revisions[n]}
}

// sample is the reader previews are rendered for, as `lessons preview`
// does. Generation 0 makes its links look real and open nothing.
func sample(c *course.Course, n int) *drip.Subscriber {
	weekday, hour := time.Monday, c.SendHour
	return &drip.Subscriber{Name: "Alex", Email: "reader@example.com", TokenGen: 0, SendWeekday: &weekday, SendHour: &hour, NextLesson: n}
}

func (h *handler) render1(ck *checked, n int) preview {
	p := preview{Problems: ck.problems}
	if p.Problems == nil {
		p.Problems = []course.Problem{}
	}
	e, err := h.d.Letters.Renderer.Lesson(ck.course, ck.lesson, h.d.Letters.LessonRecipient(sample(ck.course, n), n))
	if err != nil {
		p.Error = "The email could not be rendered: " + err.Error()
		return p
	}
	p.Subject, p.Preheader, p.HTML, p.Text = e.Subject, e.Preheader, e.HTML, e.Text
	return p
}

func (h *handler) lessonEditor(w http.ResponseWriter, r *http.Request) {
	n, ok := h.lessonNumber(r)
	if !ok {
		h.fail(w, r, errNotFound)
		return
	}
	cur, err := h.d.Library.Current(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ls := cur.Course.Lesson(n)
	if ls == nil {
		h.fail(w, r, errNotFound)
		return
	}
	ck := h.check(cur, n, ls.Source)
	var flash string
	switch r.URL.Query().Get("done") {
	case "saved":
		flash = "Saved as a new revision. It is what subscribers get from now on."
	case "unchanged":
		flash = "Nothing changed since the current revision, so no revision was added."
	case "sent":
		flash = "Test email sent."
	}
	h.renderEditor(w, r, http.StatusOK, n, ck, string(ls.Source), ck.base, editorView{Flash: flash})
}

func (h *handler) renderEditor(w http.ResponseWriter, r *http.Request, status, n int, ck *checked, src string, base int64, v editorView) {
	data := editorData{Number: n, Title: ck.lesson.Title, Source: src, Base: base, Preview: h.render1(ck, n),
		LessonCount: ck.course.LessonCount, TestTo: v.To, TestAs: v.As, editorView: v}
	if v.To == "" {
		data.TestTo = sessionFrom(r.Context()).Email
	}
	h.render(w, r, status, "lesson", page{Title: fmt.Sprintf("Lesson %d", n), Nav: "lessons", Flash: v.Flash, Error: v.Error, Data: data})
}

// formSource is the lesson text from a form. Browsers send a textarea's
// line ends as CRLF; files and revisions use LF.
func formSource(r *http.Request) []byte {
	return []byte(strings.ReplaceAll(r.PostForm.Get("source"), "\r\n", "\n"))
}

// previewLesson renders the posted text: JSON for the editor's script,
// or the whole editor page for a browser without script.
func (h *handler) previewLesson(w http.ResponseWriter, r *http.Request) {
	n, ok := h.lessonNumber(r)
	if !ok {
		h.fail(w, r, errNotFound)
		return
	}
	if err := httpx.ParseForm(r, maxForm); err != nil {
		h.fail(w, r, err)
		return
	}
	src := formSource(r)
	ck, err := h.checkCurrent(r.Context(), n, src)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if httpx.WantsJSON(r) {
		httpx.WriteJSON(w, http.StatusOK, h.render1(ck, n))
		return
	}
	base, _ := strconv.ParseInt(r.PostForm.Get("base"), 10, 64)
	h.renderEditor(w, r, http.StatusOK, n, ck, string(src), base, editorView{Unsaved: true})
}

func (h *handler) saveLesson(w http.ResponseWriter, r *http.Request) {
	n, ok := h.lessonNumber(r)
	if !ok {
		h.fail(w, r, errNotFound)
		return
	}
	if err := httpx.ParseForm(r, maxForm); err != nil {
		h.fail(w, r, err)
		return
	}
	src := formSource(r)
	base, _ := strconv.ParseInt(r.PostForm.Get("base"), 10, 64)
	ck, err := h.checkCurrent(r.Context(), n, src)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(ck.problems) > 0 {
		// The problems are listed at the top of the editor, above the
		// author's text, which is kept as typed.
		h.renderEditor(w, r, http.StatusUnprocessableEntity, n, ck, string(src), base, editorView{Unsaved: true, Refused: true})
		return
	}
	a := h.action(r)
	_, changed, err := h.db.SaveLessonRevision(r.Context(), store.LessonEdit{Lesson: n, Source: src, Origin: "admin",
		Author: a.Actor, Base: base, IP: a.IP, At: a.At})
	if errors.Is(err, store.ErrRevisionConflict) {
		// Keep the admin's text; saving again deliberately replaces the
		// newer revision, which the history page shows.
		h.renderEditor(w, r, http.StatusConflict, n, ck, string(src), ck.base, editorView{Unsaved: true,
			Error: "Not saved: someone else saved this lesson (or its file was imported) since you opened it. " +
				"Your text is still below; compare with the history, then save again to replace theirs."})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	done := "saved"
	if !changed {
		done = "unchanged"
	}
	redirect(w, r, fmt.Sprintf("/admin/lessons/%d?done=%s", n, done))
}

type historyData struct {
	Number    int
	Title     string
	Revisions []store.Revision
	Current   int // the current revision's number within the lesson
	Selected  store.Revision
	Against   *store.Revision
	Diff      []diffLine
	Audit     []store.AuditEntry
}

func (h *handler) lessonHistory(w http.ResponseWriter, r *http.Request) {
	n, ok := h.lessonNumber(r)
	if !ok {
		h.fail(w, r, errNotFound)
		return
	}
	flash := ""
	if r.URL.Query().Get("done") == "restored" {
		flash = "Restored as a new revision. It is what subscribers get from now on."
	}
	h.renderHistory(w, r, http.StatusOK, n, flash, "")
}

func (h *handler) renderHistory(w http.ResponseWriter, r *http.Request, status, n int, flash, errMsg string) {
	ctx := r.Context()
	revs, err := h.db.LessonRevisions(ctx, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(revs) == 0 {
		h.fail(w, r, errNotFound)
		return
	}
	cur, err := h.d.Library.Current(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data := historyData{Number: n, Revisions: revs, Selected: revs[0]}
	for _, rev := range revs {
		if rev.ID == cur.Revisions[n] {
			data.Current = rev.Number
		}
	}
	if ls := cur.Course.Lesson(n); ls != nil {
		data.Title = ls.Title
	}
	// Show the chosen revision (default: the newest) against the one
	// before it, or against ?against=N; both are numbers within the lesson.
	q := r.URL.Query()
	idx := 0
	if num, err := strconv.Atoi(q.Get("rev")); err == nil {
		for i, rev := range revs {
			if rev.Number == num {
				idx = i
			}
		}
	}
	data.Selected = revs[idx]
	if num, err := strconv.Atoi(q.Get("against")); err == nil {
		for i := range revs {
			if revs[i].Number == num {
				data.Against = &revs[i]
			}
		}
	} else if idx+1 < len(revs) {
		data.Against = &revs[idx+1]
	}
	if data.Against != nil {
		data.Diff = diffLines(string(data.Against.Source), string(data.Selected.Source))
	} else {
		data.Diff = diffLines("", string(data.Selected.Source))
	}
	data.Audit, _, err = h.db.AuditLog(ctx, store.AuditQuery{SubjectType: "lesson", SubjectID: int64(n), Limit: 50})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, status, "history", page{Title: fmt.Sprintf("History of lesson %d", n), Nav: "lessons",
		Flash: flash, Error: errMsg, Data: data})
}

func (h *handler) restoreLesson(w http.ResponseWriter, r *http.Request) {
	n, ok := h.lessonNumber(r)
	if !ok {
		h.fail(w, r, errNotFound)
		return
	}
	if err := httpx.ParseForm(r, maxForm); err != nil {
		h.fail(w, r, err)
		return
	}
	num, err := strconv.Atoi(r.PostForm.Get("revision"))
	if err != nil {
		h.fail(w, r, errNotFound)
		return
	}
	rev, err := h.db.LessonRevision(r.Context(), n, num)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ck, err := h.checkCurrent(r.Context(), n, rev.Source)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(ck.problems) > 0 {
		msg := fmt.Sprintf("Revision %d cannot be restored as it is: %s", num, ck.problems.Error())
		h.renderHistory(w, r, http.StatusUnprocessableEntity, n, "", msg)
		return
	}
	a := h.action(r)
	if _, _, err := h.db.SaveLessonRevision(r.Context(), store.LessonEdit{Lesson: n, Source: rev.Source, Origin: "restore",
		Author: a.Actor, RestoredFrom: num, IP: a.IP, At: a.At}); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, fmt.Sprintf("/admin/lessons/%d/history?done=restored", n))
}

// testSend mails the current revision of lesson n to any address, as the
// chosen subscriber (or the sample reader) would get it, with "[Test]"
// before the subject. Its links are made for generation 0, so they look
// real but cannot unsubscribe anyone.
func (h *handler) testSend(w http.ResponseWriter, r *http.Request) {
	n, ok := h.lessonNumber(r)
	if !ok {
		h.fail(w, r, errNotFound)
		return
	}
	if err := httpx.ParseForm(r, maxForm); err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := r.Context()
	cur, err := h.d.Library.Current(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ls := cur.Course.Lesson(n)
	if ls == nil {
		h.fail(w, r, errNotFound)
		return
	}
	to, as := strings.TrimSpace(r.PostForm.Get("to")), strings.TrimSpace(r.PostForm.Get("as"))
	fail := func(msg string) {
		ck := h.check(cur, n, ls.Source)
		h.renderEditor(w, r, http.StatusUnprocessableEntity, n, ck, string(ls.Source), ck.base, editorView{Error: msg, To: to, As: as})
	}
	addr, err := drip.ParseEmail(to)
	if err != nil {
		fail("Test not sent: " + err.Error())
		return
	}
	reader := sample(cur.Course, n)
	var asID *int64
	if as != "" {
		sub, err := h.db.SubscriberByEmail(ctx, as)
		if errors.Is(err, drip.ErrNotFound) {
			fail("Test not sent: there is no subscriber " + as + ".")
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		copy := *sub
		reader, asID = &copy, &sub.ID
	}
	reader.Email, reader.TokenGen = addr, 0
	num, err := h.revisionNumber(ctx, cur.Revisions[n])
	if err != nil {
		h.fail(w, r, err)
		return
	}
	msgID, reply, err := h.sendLesson(ctx, cur.Course, ls, reader, "[Test] ")
	after := map[string]any{"to": addr, "revision": num, "message_id": msgID, "reply": reply}
	if asID != nil {
		after["as_subscriber"] = *asID
	}
	if err != nil {
		after["error"] = err.Error()
	}
	lesson := int64(n)
	a := h.action(r)
	if aerr := h.db.Audit(ctx, store.AuditEntry{At: h.now(), Actor: a.Actor, Action: "lesson.test_send",
		SubjectType: "lesson", SubjectID: &lesson, After: after, IP: a.IP}); aerr != nil {
		h.log.Error("audit test send", "err", aerr)
	}
	if err != nil {
		h.log.Warn("test send failed", "lesson", n, "err", err)
		fail("Test not sent: the mail server said: " + err.Error())
		return
	}
	redirect(w, r, fmt.Sprintf("/admin/lessons/%d?done=sent", n))
}

// revisionNumber is revision id's number within its lesson, which is how
// the admin's pages and its audit log name a revision.
func (h *handler) revisionNumber(ctx context.Context, id int64) (int, error) {
	revs, err := h.db.Revisions(ctx, []int64{id})
	if err != nil {
		return 0, err
	}
	if len(revs) != 1 {
		return 0, fmt.Errorf("revision %d: %w", id, errNotFound)
	}
	return revs[0].Number, nil
}

// sendLesson renders lesson ls for sub as letter.Letters.Lesson does, with
// subjectPrefix before the subject, and sends it at once over a new
// connection, outside the schedule and the ledger.
func (h *handler) sendLesson(ctx context.Context, c *course.Course, ls *course.Lesson, sub *drip.Subscriber, subjectPrefix string) (msgID, reply string, err error) {
	m, msgID, err := h.d.Letters.LessonWithPrefix(c, ls, sub, h.now(), subjectPrefix)
	if err != nil {
		return "", "", err
	}
	t := h.d.Open()
	defer t.Close()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	reply, err = t.Send(sctx, m)
	return msgID, reply, err
}

// exportLessons writes course.yaml and the current revision of every
// lesson as a zip that `lessons check` accepts once unpacked.
func (h *handler) exportLessons(w http.ResponseWriter, r *http.Request) {
	cur, err := h.d.Library.Current(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	yamlSrc, err := fs.ReadFile(h.d.Lessons, "course.yaml")
	if err != nil {
		h.fail(w, r, fmt.Errorf("read course.yaml: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="lessons-`+h.now().UTC().Format("20060102")+`.zip"`)
	if err := writeLessonZip(w, yamlSrc, cur, h.now()); err != nil {
		// Headers are gone; the broken zip tells the browser it failed.
		h.log.Error("export lessons", "err", err)
	}
}

func writeLessonZip(w http.ResponseWriter, yamlSrc []byte, cur *course.Current, now time.Time) error {
	z := zip.NewWriter(w)
	add := func(name string, b []byte) error {
		f, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return err
		}
		_, err = f.Write(b)
		return err
	}
	if err := add("course.yaml", yamlSrc); err != nil {
		return err
	}
	for _, ls := range cur.Course.Lessons {
		if err := add(ls.FileName(), ls.Markdown()); err != nil {
			return err
		}
	}
	if cl := cur.Course.Closing; cl != nil {
		if err := add(course.ClosingFile, cl.Source); err != nil {
			return err
		}
	}
	return z.Close()
}
