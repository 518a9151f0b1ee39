package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/drip"
)

var (
	tzSelectRe = regexp.MustCompile(`(?s)<select id="tz"[^>]*>(.*?)</select>`)
	optionRe   = regexp.MustCompile(`<option value="([^"]*)"( selected)?>([^<]*)</option>`)
)

// pickerZones reads the preferences page's zone picker: the zones it
// offers, in order, with their labels, and the one preselected.
func pickerZones(t *testing.T, page string) (names, labels []string, selected []string) {
	t.Helper()
	m := tzSelectRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no zone picker on the page:\n%s", page)
	}
	for _, o := range optionRe.FindAllStringSubmatch(m[1], -1) {
		name := html.UnescapeString(o[1])
		names = append(names, name)
		labels = append(labels, html.UnescapeString(o[3]))
		if o[2] != "" {
			selected = append(selected, name)
		}
	}
	return names, labels, selected
}

// preselected is the one zone the page's picker preselects.
func (h *harness) preselected(prefs string) string {
	h.t.Helper()
	resp := h.get(prefs)
	page := body(h.t, resp)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET preferences = %d", resp.StatusCode)
	}
	_, _, sel := pickerZones(h.t, page)
	if len(sel) != 1 {
		h.t.Fatalf("the picker preselects %v, want exactly one zone", sel)
	}
	return sel[0]
}

func TestThePreferencesPagePreselectsTheReadersOwnZone(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for i, tz := range []string{"Europe/Amsterdam", "Europe/Oslo", "Asia/Kolkata", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC"} {
		prefs, _ := h.reader("r"+strconv.Itoa(i)+"@example.com", tz)
		if got := h.preselected(prefs); got != tz {
			t.Errorf("a reader in %s sees %s preselected", tz, got)
		}
	}
}

func TestLegacyZoneNamesBecomeTheirCanonicalZoneAtSignupAndOnThePreferencesPage(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for i, c := range []struct{ legacy, canonical string }{
		{"Asia/Calcutta", "Asia/Kolkata"},
		{"Europe/Kiev", "Europe/Kyiv"},
		{"Asia/Saigon", "Asia/Ho_Chi_Minh"},
		{"US/Eastern", "America/New_York"},
	} {
		email := "l" + strconv.Itoa(i) + "@example.com"
		prefs, _ := h.reader(email, c.legacy)
		if got := h.sub(email).TimeZone; got != c.canonical {
			t.Errorf("a signup from %s stored %q, want %s", c.legacy, got, c.canonical)
		}
		if got := h.preselected(prefs); got != c.canonical {
			t.Errorf("a reader who signed up from %s sees %s preselected, want %s", c.legacy, got, c.canonical)
		}
		// The preferences form takes the legacy name too.
		expectRedirect(t, h.post(prefs+"/schedule", url.Values{"weekday": {"2"}, "hour": {"9"}, "tz": {c.legacy}}), "schedule")
		if got := h.sub(email).TimeZone; got != c.canonical {
			t.Errorf("saving %s on the preferences page stored %q, want %s", c.legacy, got, c.canonical)
		}
	}

	// A reader stored under a legacy name before names were made canonical
	// sees the canonical zone preselected, and saving the hour keeps it.
	prefs, _ := h.reader("old@example.com", "Asia/Kolkata")
	h.exec(`UPDATE subscribers SET time_zone = 'Asia/Calcutta' WHERE email = 'old@example.com'`)
	if got := h.preselected(prefs); got != "Asia/Kolkata" {
		t.Fatalf("a reader stored as Asia/Calcutta sees %s preselected", got)
	}
	expectRedirect(t, h.post(prefs+"/schedule", url.Values{"weekday": {"2"}, "hour": {"6"}, "tz": {h.preselected(prefs)}}), "schedule")
	if got := h.sub("old@example.com").TimeZone; got != "Asia/Kolkata" {
		t.Fatalf("saving the hour stored %q, want Asia/Kolkata", got)
	}
}

func TestEveryZoneRoundTripsThroughThePreferencesForm(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	names, _, _ := pickerZones(t, body(t, h.get(prefs)))
	if len(names) != len(drip.Zones()) {
		t.Fatalf("the picker offers %d zones, want all %d", len(names), len(drip.Zones()))
	}
	for i, tz := range names {
		wd, hour := i%7, i%24
		expectRedirect(t, h.post(prefs+"/schedule", url.Values{"weekday": {strconv.Itoa(wd)}, "hour": {strconv.Itoa(hour)}, "tz": {tz}}), "schedule")
		s := h.sub("ann@example.com")
		if s.TimeZone != tz || int(*s.SendWeekday) != wd || *s.SendHour != hour {
			t.Fatalf("saved %s %d %02d:00, stored %s %v %02d:00", tz, wd, hour, s.TimeZone, *s.SendWeekday, *s.SendHour)
		}
		loc, _ := time.LoadLocation(tz)
		if local := s.NextDueAt.In(loc); local.Hour() != hour && !dstGap(loc, *s.NextDueAt) {
			t.Fatalf("in %s the next lesson is at %v, want %02d:00 local", tz, local, hour)
		}
		if got := h.preselected(prefs); got != tz {
			t.Fatalf("after saving %s the page preselects %s", tz, got)
		}
	}
}

// dstGap reports whether the local hour of t was skipped by a clock change
// (the lesson then comes an hour later).
func dstGap(loc *time.Location, t time.Time) bool {
	_, a := t.Add(-time.Hour).In(loc).Zone()
	_, b := t.In(loc).Zone()
	return a != b
}

func TestTheZonePickerShowsEachZonesCityCountryAndCurrentOffset(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "Europe/Amsterdam")
	label := func() map[string]string {
		names, labels, _ := pickerZones(t, body(t, h.get(prefs)))
		m := map[string]string{}
		for i := range names {
			m[names[i]] = labels[i]
		}
		return m
	}
	winter := label() // 3 March 2026
	h.set(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))
	summer := label()
	for _, c := range []struct{ zone, winter, summer string }{
		{"Europe/Amsterdam", "Amsterdam, Netherlands (UTC+01:00)", "Amsterdam, Netherlands (UTC+02:00)"},
		{"Asia/Kolkata", "Kolkata, India (UTC+05:30)", "Kolkata, India (UTC+05:30)"},
		{"America/St_Johns", "St Johns, Canada (UTC-03:30)", "St Johns, Canada (UTC-02:30)"},
		{"America/Argentina/Buenos_Aires", "Buenos Aires, Argentina (UTC-03:00)", "Buenos Aires, Argentina (UTC-03:00)"},
		{"UTC", "UTC (UTC+00:00)", "UTC (UTC+00:00)"},
	} {
		if winter[c.zone] != c.winter || summer[c.zone] != c.summer {
			t.Errorf("%s is labelled %q in March and %q in July, want %q and %q", c.zone, winter[c.zone], summer[c.zone], c.winter, c.summer)
		}
	}
	page := body(t, h.get(prefs))
	for _, region := range []string{"Africa", "America", "Asia", "Europe", "Pacific", "Other"} {
		if !strings.Contains(page, `<optgroup label="`+region+`">`) {
			t.Errorf("the picker has no %s group", region)
		}
	}
}

func TestAScheduleFormWithoutAZoneKeepsTheReadersZone(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "Europe/Amsterdam")
	expectRedirect(t, h.post(prefs+"/schedule", url.Values{"weekday": {"3"}, "hour": {"6"}}), "schedule")
	if s := h.sub("ann@example.com"); s.TimeZone != "Europe/Amsterdam" || *s.SendHour != 6 {
		t.Fatalf("a form without tz stored %s %d:00, want Europe/Amsterdam 6:00", s.TimeZone, *s.SendHour)
	}
	// An empty or unknown zone is a mistake to show, not a move to UTC.
	for _, tz := range []string{"", "Europe/Atlantis", "Factory", "europe/amsterdam"} {
		resp := h.post(prefs+"/schedule", url.Values{"weekday": {"3"}, "hour": {"7"}, "tz": {tz}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("tz=%q answered %d, want 422", tz, resp.StatusCode)
		}
		resp.Body.Close()
	}
	if s := h.sub("ann@example.com"); s.TimeZone != "Europe/Amsterdam" || *s.SendHour != 6 {
		t.Fatalf("refused forms changed the schedule to %s %d:00", s.TimeZone, *s.SendHour)
	}
}

func (h *harness) exec(sql string, args ...any) {
	h.t.Helper()
	if _, err := h.db.Pool.Exec(context.Background(), sql, args...); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
}
