package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/store"
)

// pageSize is how many subscribers a list page shows.
const pageSize = 50

type subscribersData struct {
	Filter      store.SubscriberFilter
	LessonCount int
	Statuses    []drip.Status
	Page        store.SubscriberPage
	NextURL     string
	ExportURL   string
}

// filterFrom reads the list's filter from the query string.
func (h *handler) filterFrom(q url.Values) store.SubscriberFilter {
	f := store.SubscriberFilter{Email: strings.TrimSpace(q.Get("q"))}
	if len(f.Email) > drip.MaxEmailLen {
		f.Email = f.Email[:drip.MaxEmailLen]
	}
	for _, s := range drip.Statuses {
		if q.Get("status") == string(s) {
			f.Status = s
		}
	}
	if n, err := strconv.Atoi(q.Get("lesson")); err == nil && n >= 1 && n <= h.d.Library.Base.LessonCount {
		f.Lesson = n
	}
	return f
}

func filterQuery(f store.SubscriberFilter) url.Values {
	v := url.Values{}
	if f.Email != "" {
		v.Set("q", f.Email)
	}
	if f.Status != "" {
		v.Set("status", string(f.Status))
	}
	if f.Lesson > 0 {
		v.Set("lesson", strconv.Itoa(f.Lesson))
	}
	return v
}

func (h *handler) subscribers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := h.filterFrom(q)
	after := q.Get("after")
	if f.Email == "" {
		if _, err := strconv.ParseInt(after, 10, 64); err != nil {
			after = ""
		}
	}
	p, err := h.db.SearchSubscribers(r.Context(), store.SubscriberQuery{SubscriberFilter: f, After: after, Limit: pageSize})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data := subscribersData{Filter: f, LessonCount: h.d.Library.Base.LessonCount, Statuses: drip.Statuses, Page: p}
	v := filterQuery(f)
	data.ExportURL = "/admin/subscribers/export.csv"
	if len(v) > 0 {
		data.ExportURL += "?" + v.Encode()
	}
	data.NextURL = nextPage("/admin/subscribers", v, "after", p.Next)
	var flash string
	if q.Get("done") == "erased" {
		flash = "The subscriber's personal data was erased. Their delivery counts remain, without a name or address."
	}
	h.render(w, r, http.StatusOK, "subscribers", page{Title: "Subscribers", Nav: "subscribers", Flash: flash, Data: data})
}

type subscriberData struct {
	Sub         *drip.Subscriber
	Timeline    []store.TimelineEntry
	LessonCount int
	Received    []resendOption // the lessons that may be resent, newest first
}

// resendOption is one lesson the reader has received, as the resend list
// names it.
type resendOption struct {
	N      int
	Title  string
	SentAt time.Time
}

func (h *handler) subscriberID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	return id, err == nil && id > 0
}

func (h *handler) subscriber(w http.ResponseWriter, r *http.Request) {
	id, ok := h.subscriberID(r)
	if !ok {
		h.fail(w, r, errNotFound)
		return
	}
	flash := actionDone[r.URL.Query().Get("done")]
	h.renderSubscriber(w, r, http.StatusOK, id, flash, "")
}

// actionDone is what the detail page says after each action.
var actionDone = map[string]string{
	"pause":       "Paused: no lessons until resumed.",
	"resume":      "Resumed: the next lesson goes out at the subscriber's next weekly slot.",
	"move":        "Moved: the next lesson was changed.",
	"resend":      "The lesson was sent again.",
	"unsubscribe": "Unsubscribed: no more mail goes to this address.",
}

func (h *handler) renderSubscriber(w http.ResponseWriter, r *http.Request, status int, id int64, flash, errMsg string) {
	sub, err := h.db.SubscriberByID(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tl, err := h.db.Timeline(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rec, err := h.db.ReceivedLessons(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cur, err := h.d.Library.Current(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data := subscriberData{Sub: sub, Timeline: tl, LessonCount: h.d.Library.Base.LessonCount}
	for _, l := range rec {
		o := resendOption{N: l.Lesson, SentAt: l.SentAt}
		if ls := cur.Course.Lesson(l.Lesson); ls != nil {
			o.Title = ls.Title
		}
		data.Received = append(data.Received, o)
	}
	h.render(w, r, status, "subscriber", page{Title: "Subscriber " + strconv.FormatInt(id, 10), Nav: "subscribers",
		Flash: flash, Error: errMsg, Data: data})
}

// standingChanges are the detail page's buttons that change where the
// subscriber stands, each a transition of the state machine (drip.Apply).
var standingChanges = map[string]drip.Action{
	"pause": drip.ActPause, "resume": drip.ActResume, "move": drip.ActMove, "unsubscribe": drip.ActUnsubscribe,
}

// subscriberAction runs one of the detail page's buttons: pause, resume,
// move, resend, unsubscribe or erase. Each is recorded on the subscriber's
// timeline and in the audit log by the store, in the same transaction.
func (h *handler) subscriberAction(w http.ResponseWriter, r *http.Request) {
	id, ok := h.subscriberID(r)
	if !ok {
		h.fail(w, r, errNotFound)
		return
	}
	if err := httpx.ParseForm(r, maxForm); err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, a := r.Context(), h.action(r)
	name := chi.URLParam(r, "action")
	lesson, _ := strconv.Atoi(r.PostForm.Get("lesson"))
	var err error
	change, isChange := standingChanges[name]
	switch {
	case isChange:
		c := drip.Change{Action: change, Actor: drip.ActorAdmin, Now: a.At,
			DefaultHour: h.d.Library.Base.SendHour, Lesson: lesson, Lessons: h.d.Library.Base.LessonCount}
		_, err = h.db.Change(ctx, store.Ref{ID: id}, c, a)
	case name == "resend":
		err = h.resend(r, id, lesson, a)
	case name == "erase":
		if r.PostForm.Get("confirm") != "erase" {
			h.renderSubscriber(w, r, http.StatusUnprocessableEntity, id, "", `Not erased: type "erase" in the box to confirm.`)
			return
		}
		if err := h.db.EraseSubscriber(ctx, id, a); err != nil {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, "/admin/subscribers?done=erased")
		return
	default:
		h.fail(w, r, errNotFound)
		return
	}
	if status, msg, ok := h.explain(err); ok {
		h.renderSubscriber(w, r, status, id, "", msg)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, fmt.Sprintf("/admin/subscribers/%d?done=%s", id, name))
}

// resend mails lesson n to the subscriber again at once, as they would get
// it, and records the attempt whatever its outcome.
func (h *handler) resend(r *http.Request, id int64, n int, a store.AdminAction) error {
	ctx := r.Context()
	sub, err := h.db.SubscriberByID(ctx, id)
	if err != nil {
		return err
	}
	switch sub.Status {
	case drip.StatusActive, drip.StatusPaused, drip.StatusCompleted:
	default:
		return store.NotApplicableError("Lessons are only sent to active, paused or completed subscribers; this one is " + string(sub.Status) + ".")
	}
	if suppressed, err := h.db.Suppressed(ctx, sub.Email); err != nil {
		return err
	} else if suppressed {
		return store.NotApplicableError("This address is suppressed after a hard bounce or a complaint, so nothing is sent to it.")
	}
	cur, err := h.d.Library.Current(ctx)
	if err != nil {
		return err
	}
	ls := cur.Course.Lesson(n)
	if ls == nil {
		return httpx.Problem(chooseLesson(cur.Course.LessonCount))
	}
	// A resend repeats a lesson; it never sends one ahead of the course.
	rec, err := h.db.ReceivedLessons(ctx, id)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(rec, func(l store.Received) bool { return l.Lesson == n }) {
		return store.NotApplicableError(fmt.Sprintf("Lesson %d was never sent to this subscriber; only lessons they have received can be resent.", n))
	}
	num, err := h.revisionNumber(ctx, cur.Revisions[n])
	if err != nil {
		return err
	}
	msgID, reply, sendErr := h.sendLesson(ctx, cur.Course, ls, sub, "")
	if err := h.db.RecordResend(ctx, store.Resend{Subscriber: id, Lesson: n, Revision: num,
		MessageID: msgID, Reply: reply, SendErr: sendErr, By: a}); err != nil {
		return err
	}
	if sendErr != nil {
		return httpx.Problem("The mail server did not accept the lesson: " + sendErr.Error())
	}
	return nil
}
