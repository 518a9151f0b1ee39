package admin

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/twostep/twostep/internal/store"
)

// transferTime is how long an import upload or an export download may
// take, past the server's usual read and write timeouts.
const transferTime = 30 * time.Minute

type importData struct {
	Columns []string
	Result  *ImportResult
	File    string
	Confirm bool // the "ask them to confirm" box was ticked
	Rate    int  // confirmations sent per second
}

// confirmRate is how many confirmations an import's are sent a second.
var confirmRate = int(time.Second / store.ImportConfirmInterval)

func (h *handler) importPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "import", page{Title: "Import subscribers", Nav: "subscribers", Data: importData{Columns: ImportColumns, Rate: confirmRate}})
}

// importSubscribers streams the uploaded file straight into ImportCSV:
// nothing is buffered in memory or written to a temporary file. The form
// puts its "confirm" box before the file, so it is read first.
func (h *handler) importSubscribers(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(transferTime)) // not every server supports it
	_ = rc.SetWriteDeadline(time.Now().Add(transferTime))
	data := importData{Columns: ImportColumns, Rate: confirmRate}
	fail := func(status int, msg string) {
		h.render(w, r, status, "import", page{Title: "Import subscribers", Nav: "subscribers", Error: msg, Data: data})
	}
	mr, err := r.MultipartReader()
	if err != nil {
		fail(http.StatusBadRequest, "Choose a CSV file to upload.")
		return
	}
	var file io.Reader
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(http.StatusRequestEntityTooLarge, "The file is too large to upload; use `twostep subscribers import` on the server.")
			return
		}
		if err != nil {
			fail(http.StatusBadRequest, "The upload could not be read.")
			return
		}
		if part.FormName() == "confirm" {
			v, _ := io.ReadAll(io.LimitReader(part, 16))
			data.Confirm = string(v) == "1"
			continue
		}
		if part.FormName() == "file" {
			file, data.File = part, part.FileName()
			break
		}
	}
	if file == nil || data.File == "" {
		fail(http.StatusBadRequest, "Choose a CSV file to upload.")
		return
	}
	a := h.action(r)
	c := h.d.Library.Base
	res, err := ImportCSV(r.Context(), h.db, file, ImportOptions{Lessons: c.LessonCount, SendHour: c.SendHour,
		Actor: a.Actor, IP: a.IP, Now: h.now(), Confirm: data.Confirm})
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(http.StatusRequestEntityTooLarge, "The file is too large to upload; use `twostep subscribers import` on the server. Nothing was imported.")
		return
	case errors.Is(err, ErrNoHeader):
		fail(http.StatusUnprocessableEntity, err.Error()+". Nothing was imported.")
		return
	case err != nil:
		h.log.Error("import subscribers", "err", err)
		fail(http.StatusUnprocessableEntity, "The import failed and nothing was imported: "+err.Error())
		return
	}
	data.Result = &res
	h.render(w, r, http.StatusOK, "import", page{Title: "Import subscribers", Nav: "subscribers", Data: data})
}

// exportSubscribers streams the subscribers the list's filter selects as
// CSV, at any size, and records the export in the audit log.
func (h *handler) exportSubscribers(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(transferTime))
	f := h.filterFrom(r.URL.Query())
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="subscribers-`+h.now().UTC().Format("20060102")+`.csv"`)
	n, err := ExportCSV(r.Context(), h.db, w, f, func(int) { _ = rc.Flush() })
	if err != nil {
		// The status line is gone; a cut-short download shows it failed.
		h.log.Error("export subscribers", "rows", n, "err", err)
		return
	}
	a := h.action(r)
	if err := h.db.Audit(r.Context(), store.AuditEntry{At: h.now(), Actor: a.Actor, Action: "subscribers.export",
		SubjectType: "export", After: map[string]any{"rows": n, "filter": filterQuery(f).Encode()}, IP: a.IP}); err != nil {
		h.log.Error("audit export", "err", err)
	}
}

func (h *handler) audit(w http.ResponseWriter, r *http.Request) {
	entries, more, err := h.db.AuditLog(r.Context(), store.AuditQuery{Before: idCursor(r.URL.Query(), "before"), Limit: 100})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data := auditData{Entries: entries}
	if more {
		data.Next = entries[len(entries)-1].ID
	}
	h.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Nav: "audit", Data: data})
}

type auditData struct {
	Entries []store.AuditEntry
	Next    int64
}
