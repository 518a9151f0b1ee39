package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/httpx"
	"github.com/twostep/twostep/internal/link"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// Lessons is what the reader's pages need from the course: the title and
// rendered body of each lesson, and its reflection question.
type Lessons interface {
	// Title is lesson n's title, "" when there is no lesson n.
	Title(ctx context.Context, n int) (string, error)
	// Titles maps every lesson number to its title.
	Titles(ctx context.Context) (map[int]string, error)
	// Page renders lesson n as the reader gets it.
	Page(ctx context.Context, n int, sub *drip.Subscriber) (template.HTML, error)
	// Reflection is lesson n's reflection question.
	Reflection(ctx context.Context, n int) (string, error)
}

// prefs is the data of the preferences pages.
type prefs struct {
	Sub      *drip.Subscriber
	Base     string // /preferences/TOKEN
	Done     string // what the last change did, shown once
	Problem  string
	Lessons  int
	Weekdays []time.Weekday
	Hours    []int
	Zones    []zoneGroup
	TimeZone string // the zone the reader's lessons keep, preselected in the picker
	Weekday  time.Weekday
	Hour     int
	Next     string // the next lesson's local time, "" when none
	Received []receivedLesson
	Lesson   receivedLesson
	Question string
	Action   string
	// The lesson page: its body cut after "Try this week", and the
	// received lessons either side of it (nil when not received).
	BodyToTry, BodyAfterTry template.HTML
	Prev, NextLesson        *receivedLesson
}

type receivedLesson struct {
	N      int
	Title  string
	SentAt string
}

// doneMessages are the confirmations shown after a change (?done=key).
var doneMessages = map[string]string{
	"schedule":      "Your lessons will now come at the time below.",
	"paused":        "Your lessons are paused.",
	"resumed":       "Welcome back: your lessons are on again.",
	"next":          "Your next lesson goes out on the next delivery run, within minutes; the weekly rhythm counts from it.",
	"back":          "Done: your course picks up from the lesson you chose.",
	"name":          "Your name is updated.",
	"email":         "We sent a confirmation link to the new address. Nothing changes until you follow it.",
	"email_changed": "Your address is changed. Links in older emails no longer work; this page has fresh ones.",
	"unsubscribed":  "You're unsubscribed and will get no more lessons.",
	"resubscribed":  "You're back in: your lessons are on again.",
}

func (s *Server) prefsPage(w http.ResponseWriter, r *http.Request) {
	sub, err := s.tokenSubscriber(r, token.Preferences)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderPrefs(w, r, http.StatusOK, sub, doneMessages[r.URL.Query().Get("done")], "")
}

func (s *Server) renderPrefs(w http.ResponseWriter, r *http.Request, status int, sub *drip.Subscriber, done, problem string) {
	var err error
	slot := sub.SlotOf(s.opts.Site.SendHour, s.opts.Clock.Now())
	p := prefs{
		Sub: sub, Base: link.To(token.Preferences, chiToken(r)), Done: done, Problem: problem, Lessons: s.opts.Site.Lessons,
		Weekdays: weekdays, Hours: hours,
		Weekday: slot.Weekday, Hour: slot.Hour,
		// The zone the lessons are actually scheduled in, by its canonical
		// name: the picker lists only canonical names, and a reader whose
		// zone was missing from it (Europe/Amsterdam once was) saw the first
		// entry, UTC, preselected and was moved there by saving the hour.
		TimeZone: slot.Location.String(),
	}
	p.Zones = zonePicker(p.TimeZone, s.opts.Clock.Now())
	switch {
	case sub.NextDueAt != nil && sub.Status == drip.StatusActive:
		p.Next = sub.NextDueAt.In(slot.Location).Format("Monday 2 January at 15:04")
	case sub.Status == drip.StatusPaused && sub.PausedUntil != nil:
		// A timed pause ends by itself at PausedUntil, and the lesson then
		// comes at the reader's slot by the same rule as resuming.
		p.Next = drip.Reschedule(slot, sub.LastSentAt, *sub.PausedUntil).In(slot.Location).Format("Monday 2 January at 15:04")
	}
	if p.Received, err = s.received(r.Context(), sub, slot.Location); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "preferences", page{NoIndex: true, Prefs: p})
}

// prefsAction wraps a POST on the preferences page: check the token, run
// the change, and redirect back with a confirmation, or show the page with
// the problem.
func (s *Server) prefsAction(done string, act func(r *http.Request, sub *drip.Subscriber) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.ParseForm(r, MaxBody); err != nil {
			s.fail(w, r, err)
			return
		}
		sub, err := s.tokenSubscriber(r, token.Preferences)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := act(r, sub); err != nil {
			if status, msg, ok := prefsProblem(err, done, sub); ok {
				s.renderPrefs(w, r, status, sub, "", msg)
			} else {
				s.fail(w, r, err)
			}
			return
		}
		http.Redirect(w, r, link.To(token.Preferences, chiToken(r))+"?done="+done, http.StatusSeeOther)
	}
}

// zoneGroup is one region of the time zone picker.
type zoneGroup struct {
	Region string
	Zones  []zoneOption
}

type zoneOption struct {
	Name     string // the IANA name, the value posted
	Label    string // "Amsterdam, Netherlands (UTC+01:00)"
	Selected bool
}

// zonePicker groups every zone by region, Other last, each region sorted by
// city; the label starts with the city, so typing a city's first letters on
// the list finds it even without the page's search script. The offsets are
// the ones in force at now.
func zonePicker(current string, now time.Time) []zoneGroup {
	byRegion := map[string][]zoneOption{}
	for _, z := range drip.Zones() {
		label := z.City
		if z.Country != "" && z.Country != z.City {
			label += ", " + z.Country
		}
		label += " (" + utcOffset(now.In(z.Location)) + ")"
		byRegion[z.Region] = append(byRegion[z.Region], zoneOption{Name: z.Name, Label: label, Selected: z.Name == current})
	}
	regions := slices.Sorted(maps.Keys(byRegion))
	if i := slices.Index(regions, "Other"); i >= 0 {
		regions = append(slices.Delete(regions, i, i+1), "Other")
	}
	groups := make([]zoneGroup, 0, len(regions))
	for _, r := range regions {
		opts := byRegion[r]
		slices.SortFunc(opts, func(a, b zoneOption) int { return strings.Compare(a.Label, b.Label) })
		groups = append(groups, zoneGroup{Region: r, Zones: opts})
	}
	return groups
}

// utcOffset formats t's offset from UTC as UTC+05:30 or UTC-03:00.
func utcOffset(t time.Time) string {
	_, off := t.Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("UTC%c%02d:%02d", sign, off/3600, off%3600/60)
}

func statusText(st drip.Status) string {
	switch st {
	case drip.StatusPaused:
		return "your lessons are paused"
	case drip.StatusUnsubscribed:
		return "you are unsubscribed"
	case drip.StatusCompleted:
		return "you have finished the course"
	case drip.StatusBounced:
		return "mail to your address bounced"
	case drip.StatusPending:
		return "your subscription is not confirmed yet"
	}
	return "your lessons are on"
}

func (s *Server) setSchedule(r *http.Request, sub *drip.Subscriber) error {
	wd, ok1 := drip.ParseWeekday(r.PostFormValue("weekday"))
	hour, ok2 := drip.ParseHour(r.PostFormValue("hour"))
	tz := r.PostFormValue("tz")
	if _, sent := r.PostForm["tz"]; !sent {
		tz = sub.TimeZone // a form without the field keeps the zone
	}
	loc, ok := drip.LoadLocation(tz) // a legacy name becomes its canonical zone
	slot := drip.Slot{Weekday: wd, Hour: hour, Location: loc}
	if !ok1 || !ok2 || !ok || slot.Valid() != nil {
		return httpx.Problem("Please choose a day, an hour and a time zone from the lists.")
	}
	_, err := s.db.SetSchedule(r.Context(), sub.ID, sub.TokenGen, slot, s.opts.Clock.Now())
	return err
}

func (s *Server) pause(r *http.Request, sub *drip.Subscriber) error {
	var until *time.Time
	switch w := r.PostFormValue("weeks"); w {
	case "1", "2", "4":
		n, _ := strconv.Atoi(w)
		t := s.opts.Clock.Now().Add(time.Duration(n) * 7 * 24 * time.Hour)
		until = &t
	case "0":
	default:
		return httpx.Problem("Please choose how long to pause: 1, 2 or 4 weeks, or until you resume.")
	}
	return s.change(r, ref(sub), drip.Change{Action: drip.ActPause, Until: until})
}

func (s *Server) resume(r *http.Request, sub *drip.Subscriber) error {
	return s.change(r, ref(sub), drip.Change{Action: drip.ActResume})
}

func (s *Server) nextNow(r *http.Request, sub *drip.Subscriber) error {
	return s.change(r, ref(sub), drip.Change{Action: drip.ActNextNow})
}

// change asks the store for the reader's change c, at the server's clock.
func (s *Server) change(r *http.Request, to store.Ref, c drip.Change) error {
	c.Actor, c.Now, c.DefaultHour = drip.ActorSubscriber, s.opts.Clock.Now(), s.opts.Site.SendHour
	_, err := s.db.Change(r.Context(), to, c, store.AdminAction{})
	return err
}

// ref is how the reader's own links pick them.
func ref(sub *drip.Subscriber) store.Ref { return store.Ref{ID: sub.ID, Gen: sub.TokenGen} }

func (s *Server) goBack(r *http.Request, sub *drip.Subscriber) error {
	n, err := strconv.Atoi(r.PostFormValue("lesson"))
	if err != nil || n < 1 || n > s.opts.Site.Lessons {
		return httpx.Problem("Please choose a lesson from the list.")
	}
	return s.change(r, ref(sub), drip.Change{Action: drip.ActGoBack, Lesson: n})
}

func (s *Server) setName(r *http.Request, sub *drip.Subscriber) error {
	name, err := drip.CleanName(r.PostFormValue("name"))
	if err != nil {
		return httpx.Problem(err.Error())
	}
	_, err = s.db.SetName(r.Context(), sub.ID, sub.TokenGen, name, s.opts.Clock.Now())
	return err
}

func (s *Server) changeEmail(r *http.Request, sub *drip.Subscriber) error {
	email, err := drip.ParseEmail(r.PostFormValue("email"))
	if err != nil {
		return httpx.Problem(err.Error())
	}
	if _, err = s.db.RequestEmailChange(r.Context(), sub.ID, sub.TokenGen, email, s.opts.Clock.Now()); err == nil && s.opts.Nudge != nil {
		s.opts.Nudge()
	}
	return err
}

func (s *Server) prefsUnsubscribe(r *http.Request, sub *drip.Subscriber) error {
	return s.change(r, ref(sub), drip.Change{Action: drip.ActUnsubscribe})
}

func (s *Server) resubscribe(r *http.Request, sub *drip.Subscriber) error {
	return s.change(r, ref(sub), drip.Change{Action: drip.ActResubscribe})
}

// erase removes the reader's data at once; it asks for a tick first, so a
// stray click cannot do it.
func (s *Server) erase(w http.ResponseWriter, r *http.Request) {
	if err := httpx.ParseForm(r, MaxBody); err != nil {
		s.fail(w, r, err)
		return
	}
	sub, err := s.tokenSubscriber(r, token.Preferences)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.PostFormValue("sure") != "yes" {
		s.renderPrefs(w, r, http.StatusUnprocessableEntity, sub, "", "Tick the box to confirm that you want everything erased.")
		return
	}
	if err := s.db.Erase(r.Context(), sub.ID, sub.TokenGen, "subscriber"); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/erased", http.StatusSeeOther)
}

// erased is where erase leaves the reader: a page that names no one, so a
// reload neither resubmits nor meets a dead link.
func (s *Server) erased(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "error", page{NoIndex: true, Heading: "Everything is erased",
		Message: "Your address, your name and your history are gone from " + s.opts.Site.Title + ", and no more email will come. Thank you for reading."})
}

// myData is the reader's data as a JSON download.
func (s *Server) myData(w http.ResponseWriter, r *http.Request) {
	sub, err := s.tokenSubscriber(r, token.Preferences)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	x, err := s.db.Export(r.Context(), sub)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="twostep-my-data.json"`)
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(x)
}

// myLessons lists the lessons the reader has received, newest first.
func (s *Server) myLessons(w http.ResponseWriter, r *http.Request) {
	sub, err := s.tokenSubscriber(r, token.Preferences)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderList(w, r, sub)
}

func (s *Server) renderList(w http.ResponseWriter, r *http.Request, sub *drip.Subscriber) {
	loc, _ := drip.LoadLocation(sub.TimeZone)
	p := prefs{Sub: sub, Base: link.To(token.Preferences, chiToken(r)), Lessons: s.opts.Site.Lessons}
	var err error
	if p.Received, err = s.received(r.Context(), sub, loc); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "my_lessons", page{NoIndex: true, Prefs: p})
}

// received lists the lessons sub has received, newest first, with their
// titles and the date in the reader's zone.
func (s *Server) received(ctx context.Context, sub *drip.Subscriber, loc *time.Location) ([]receivedLesson, error) {
	rec, err := s.db.ReceivedLessons(ctx, sub.ID)
	if err != nil || len(rec) == 0 {
		return nil, err
	}
	titles, err := s.opts.Lessons.Titles(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]receivedLesson, 0, len(rec))
	for _, l := range rec {
		out = append(out, receivedLesson{N: l.Lesson, Title: titles[l.Lesson], SentAt: l.SentAt.In(loc).Format("2 Jan 2006")})
	}
	return out, nil
}

// splitAfterTry cuts a lesson's web body where its "Try this week" section
// ends (at the next heading of the same level), so the page can put the
// "I tried this" button right there, as the email does
// (course.Renderer's BodyToTry and BodyAfterTry). With no such section the
// button goes at the end.
func splitAfterTry(body template.HTML) (toTry, afterTry template.HTML) {
	b := string(body)
	head := strings.Index(b, ">Try this week</h2>")
	if head < 0 {
		return body, ""
	}
	cut := len(b)
	if next := strings.Index(b[head:], "<h2"); next >= 0 {
		cut = head + next
	}
	return template.HTML(b[:cut]), template.HTML(b[cut:])
}

// notReceived is the 404 for a lesson the reader has not received yet.
func (s *Server) notReceived(w http.ResponseWriter, r *http.Request, n int) {
	s.render(w, r, http.StatusNotFound, "error", page{NoIndex: true, Heading: "Not yet",
		Message: fmt.Sprintf("Lesson %d isn't in your inbox yet. Only lessons you have received can be read here.", n)})
}

// lessonPage shows a lesson the reader has received, as in the email;
// any other lesson is 404.
func (s *Server) lessonPage(w http.ResponseWriter, r *http.Request) {
	sub, err := s.tokenSubscriber(r, token.Preferences)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := strconv.Atoi(chi.URLParam(r, "n"))
	if err != nil {
		s.fail(w, r, drip.ErrNotFound)
		return
	}
	// The lessons received, once: whether this one was, and its received
	// neighbours for previous and next, so every link leads to a page that
	// opens.
	rec, err := s.db.ReceivedLessons(r.Context(), sub.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !slices.ContainsFunc(rec, func(l store.Received) bool { return l.Lesson == n }) {
		s.notReceived(w, r, n)
		return
	}
	body, err := s.opts.Lessons.Page(r.Context(), n, sub)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	titles, err := s.opts.Lessons.Titles(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := prefs{Sub: sub, Base: link.To(token.Preferences, chiToken(r)), Lessons: s.opts.Site.Lessons,
		Lesson: receivedLesson{N: n, Title: titles[n]},
		Action: link.To(token.Tried, s.signer.Sign(token.Claims{Purpose: token.Tried, Subscriber: sub.ID, Gen: sub.TokenGen})) + link.TriedLesson(n)}
	p.BodyToTry, p.BodyAfterTry = splitAfterTry(body)
	for _, l := range rec {
		switch l.Lesson {
		case n - 1:
			p.Prev = &receivedLesson{N: l.Lesson, Title: titles[l.Lesson]}
		case n + 1:
			p.NextLesson = &receivedLesson{N: l.Lesson, Title: titles[l.Lesson]}
		}
	}
	s.render(w, r, http.StatusOK, "lesson", page{NoIndex: true, Prefs: p})
}
