package admin

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

// chartWeeks is how many weeks of sending the dashboard charts.
const chartWeeks = 12

type statusCount struct {
	Status drip.Status
	Count  int
}

type dashboardData struct {
	ByStatus []statusCount
	Total    int
	Funnel   chart
	Weekly   chart
	Tried    chart
	Due24h   int
	Due7d    int
	Open     []store.OpenDelivery
	OpenN    int
	Reports  []lessonReports // dashboard_reports.go
}

func (h *handler) dashboard(w http.ResponseWriter, r *http.Request) {
	now := h.now()
	d, err := h.db.LoadDashboard(r.Context(), now, chartWeeks)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	lessons := h.d.Library.Base.LessonCount
	data := dashboardData{Due24h: d.Due24h, Due7d: d.Due7d, Open: d.OpenDeliveries, OpenN: d.OpenDeliveriesN}
	for _, s := range drip.Statuses {
		data.ByStatus = append(data.ByStatus, statusCount{s, d.ByStatus[s]})
		data.Total += d.ByStatus[s]
	}

	funnel := make([]bar, 0, lessons)
	for n := 1; n <= lessons; n++ {
		funnel = append(funnel, bar{Label: strconv.Itoa(n), Value: d.Funnel[n],
			Tip: fmt.Sprintf("Lesson %d next: %d active", n, d.Funnel[n])})
	}
	data.Funnel = newChart("Active subscribers by their next lesson", "lesson", funnel)

	weekly := make([]bar, 0, chartWeeks)
	first := store.WeekStart(now).AddDate(0, 0, -7*(chartWeeks-1))
	for i := range chartWeeks {
		wk := first.AddDate(0, 0, 7*i)
		weekly = append(weekly, bar{Label: wk.Format("Jan 2"), Value: d.SentByWeek[wk],
			Tip: fmt.Sprintf("Week of %s: %d lessons sent", wk.Format("2 Jan 2006"), d.SentByWeek[wk])})
	}
	data.Weekly = newChart("Lessons sent per week, last 12 weeks", "week starting", weekly)

	tried := d.Tried
	triedBars := make([]bar, 0, lessons)
	for n := 1; n <= lessons; n++ {
		triedBars = append(triedBars, bar{Label: strconv.Itoa(n), Value: tried[n],
			Tip: fmt.Sprintf("Lesson %d: %d readers tried it", n, tried[n])})
	}
	data.Tried = newChart(`Readers who said "I tried it", by lesson`, "lesson", triedBars)
	if data.Reports, err = h.reportsByLesson(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}

	flash := ""
	if r.URL.Query().Get("done") == "retry" {
		flash = "The delivery will be retried on the next delivery pass."
	}
	h.render(w, r, http.StatusOK, "dashboard", page{Title: "Dashboard", Nav: "dashboard", Flash: flash, Data: data})
}

func (h *handler) retryDelivery(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		h.fail(w, r, errNotFound)
		return
	}
	if err := h.db.RetryDelivery(r.Context(), id, h.action(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/admin/?done=retry")
}

// errNotFound answers a malformed id in a path as the page not existing.
var errNotFound = drip.ErrNotFound

// chart is a bar chart drawn as SVG by the server, so it reads without
// JavaScript; each bar carries its exact number as a tooltip and the page
// repeats the numbers in a table.
type chart struct {
	Title, Axis   string
	Width, Height float64
	Bars          []bar
	Max           int
	PlotTop       float64
	PlotBottom    float64
	LabelEvery    int
}

type bar struct {
	Label string
	Value int
	Tip   string
	// Computed by newChart, in SVG user units.
	X, Y, W, H float64
	ShowLabel  bool
}

func newChart(title, axis string, bars []bar) chart {
	c := chart{Title: title, Axis: axis, Width: 640, Height: 220, PlotTop: 16, PlotBottom: 190, Bars: bars, LabelEvery: 1}
	for _, b := range bars {
		c.Max = max(c.Max, b.Value)
	}
	if len(bars) == 0 {
		return c
	}
	// Label every bar only when there is room for the text.
	for len(bars)/c.LabelEvery > 16 {
		c.LabelEvery++
	}
	slot := (c.Width - 40) / float64(len(bars))
	scale := 0.0
	if c.Max > 0 {
		scale = (c.PlotBottom - c.PlotTop) / float64(c.Max)
	}
	for i := range c.Bars {
		b := &c.Bars[i]
		b.W = slot * 0.75
		b.X = 36 + float64(i)*slot + (slot-b.W)/2
		b.H = float64(b.Value) * scale
		if b.Value > 0 && b.H < 1 {
			b.H = 1 // a non-zero count is always visible
		}
		b.Y = c.PlotBottom - b.H
		b.ShowLabel = i%c.LabelEvery == 0
	}
	return c
}
