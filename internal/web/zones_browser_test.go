package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/twostep/twostep/internal/browsertest"
)

// The reader who found the bug: signed up from Amsterdam, saved only a new
// hour, and was moved to UTC.
func TestAReaderFromAmsterdamWhoChangesOnlyTheHourKeepsTheirZone(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	// Twice the usual: this one signs up, confirms and sends lesson 1 too.
	ctx := browsertest.New(t, 2*browserTimeout)
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Amsterdam"}); err != nil {
		t.Fatalf("start the browser in Europe/Amsterdam: %v", err)
	}

	// Sign up on the front page; its script reports the browser's zone.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(h.srv.URL+"/"),
		chromedp.SendKeys(chromedp.ID("email"), "anne@example.nl"),
	); err != nil {
		t.Fatalf("fill the signup form: %v", err)
	}
	if resp, err := chromedp.RunResponse(ctx, chromedp.SendKeys(chromedp.ID("email"), kb.Enter)); err != nil || !strings.HasSuffix(resp.URL, "/subscribed") {
		t.Fatalf("sign up: %v %v", resp, err)
	}
	if tz := h.sub("anne@example.nl").TimeZone; tz != "Europe/Amsterdam" {
		t.Fatalf("the signup stored %q, want Europe/Amsterdam", tz)
	}

	// Confirm with the link from the mail, receive lesson 1, then follow
	// the welcome page's link to the preferences.
	h.flush()
	if err := chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+link(t, h.smtp.Messages()[0], "confirm"))); err != nil {
		t.Fatalf("open the confirmation link: %v", err)
	}
	if resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("form button"))); err != nil || resp.Status != 200 {
		t.Fatalf("confirm: %v %v", resp, err)
	}
	if s := h.pass(); s.Sent != 1 {
		t.Fatalf("lesson 1 pass: %v", s)
	}
	if resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`a[href^="/preferences/"]`))); err != nil || resp.Status != 200 {
		t.Fatalf("open the preferences: %v %v", resp, err)
	}
	before := h.sub("anne@example.nl")
	tz, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("tz")))
	if err != nil || tz != "Europe/Amsterdam" {
		t.Fatalf("the picker preselected %q (%v), want Europe/Amsterdam", tz, err)
	}

	// Change only the hour, and save.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("hour"), "6")); err != nil {
		t.Fatalf("choose 06:00: %v", err)
	}
	if resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[action$="/schedule"] button`))); err != nil || resp.Status != 200 {
		t.Fatalf("save: %v %v", resp, err)
	}
	after := h.sub("anne@example.nl")
	if after.TimeZone != "Europe/Amsterdam" || *after.SendHour != 6 {
		t.Fatalf("after saving the hour the database has %s %d:00, want Europe/Amsterdam 6:00", after.TimeZone, *after.SendHour)
	}
	if before.SendWeekday != nil && *after.SendWeekday != *before.SendWeekday {
		t.Fatalf("the weekday changed from %v to %v", *before.SendWeekday, *after.SendWeekday)
	}
	tz, err = chromedp.Run(ctx, chromedp.Value(chromedp.ID("tz")))
	if err != nil || tz != "Europe/Amsterdam" {
		t.Fatalf("after saving, the picker shows %q (%v), want Europe/Amsterdam", tz, err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main > p:nth-of-type(2)")))
	if err != nil || !strings.Contains(shown, "06:00") || !strings.Contains(shown, "Europe/Amsterdam") {
		t.Fatalf("the page says %q (%v), want the next lesson at 06:00 Europe/Amsterdam", shown, err)
	}
}

func TestTypingInTheZoneSearchNarrowsThePicker(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "Europe/Amsterdam")
	ctx := browsertest.New(t, browserTimeout)
	if err := chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+prefs), chromedp.WaitVisible(chromedp.ID("tz-search"))); err != nil {
		t.Fatalf("open the preferences page: the search field should show once its script runs: %v", err)
	}
	options := func() []string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#tz option")).map(o => o.value)`))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	all := len(options())
	search := func(text string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("tz-search").value = "") === ""`)); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("tz-search"), text)); err != nil {
			t.Fatal(err)
		}
	}

	search("kolkata")
	if got := options(); len(got) != 1 || got[0] != "Asia/Kolkata" {
		t.Fatalf("searching kolkata left %v, want Asia/Kolkata alone", got)
	}
	if tz, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("tz"))); tz != "Asia/Kolkata" {
		t.Fatalf("the picker shows %q, want the one match", tz)
	}

	search("netherlands")
	if got := options(); len(got) != 1 || got[0] != "Europe/Amsterdam" {
		t.Fatalf("searching netherlands left %v, want Europe/Amsterdam alone", got)
	}

	search("buenos aires")
	if got := options(); len(got) != 1 || got[0] != "America/Argentina/Buenos_Aires" {
		t.Fatalf("searching buenos aires left %v", got)
	}

	search("zzzz")
	if got := options(); len(got) != all {
		t.Fatalf("a search with no match left %d zones, want all %d back", len(got), all)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("tz-none"))); !strings.Contains(msg, "No zone matches") {
		t.Fatalf("no-match message %q", msg)
	}

	// The search field sends nothing: the form posts the picker's zone.
	search("tokyo")
	if resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[action$="/schedule"] button`))); err != nil || resp.Status != 200 {
		t.Fatalf("save: %v %v", resp, err)
	}
	if tz := h.sub("ann@example.com").TimeZone; tz != "Asia/Tokyo" {
		t.Fatalf("saving after searching tokyo stored %q", tz)
	}
}
