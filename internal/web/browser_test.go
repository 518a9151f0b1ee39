package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/twostep/twostep/internal/browsertest"
	"github.com/twostep/twostep/internal/drip"
)

// browserTimeout bounds each browser test, from starting Chromium to the
// last assertion.
const browserTimeout = 20 * time.Second

func TestSignupInABrowserStoresTheBrowsersTimeZone(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := browsertest.New(t, browserTimeout)

	// The override must be in place before the page's script runs.
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"}); err != nil {
		t.Fatalf("start the browser and set its time zone: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/")); err != nil {
		t.Fatalf("load the signup page: %v", err)
	}
	tz, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("tz")))
	if err != nil {
		t.Fatalf("read the tz field: %v", err)
	}
	if tz != "America/New_York" {
		t.Fatalf("the page filled tz with %q, want America/New_York", tz)
	}
	// The day and hour are on the reader's own clock, and the page says which.
	zoneNote, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("slot-zone")))
	if err != nil {
		t.Fatalf("read the slot note: %v", err)
	}
	if !strings.Contains(zoneNote, "America/New York") {
		t.Fatalf("the slot note %q does not name the browser's zone", zoneNote)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("weekday"), "4"), chromedp.SetValue(chromedp.ID("hour"), "7")); err != nil {
		t.Fatalf("choose Thursday at 07:00: %v", err)
	}

	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("email"), "ann@example.com"),
		chromedp.SendKeys(chromedp.ID("name"), "Ann"),
	); err != nil {
		t.Fatalf("type into the form: %v", err)
	}
	// Enter in a text field submits the form, as a keyboard user would.
	resp, err := chromedp.RunResponse(ctx, chromedp.SendKeys(chromedp.ID("name"), kb.Enter))
	if err != nil {
		t.Fatalf("submit the form: %v", err)
	}
	if resp.Status != 200 || !strings.HasSuffix(resp.URL, "/subscribed") {
		t.Fatalf("after submitting: %d %s, want 200 at /subscribed", resp.Status, resp.URL)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil {
		t.Fatalf("read the heading: %v", err)
	}
	if strings.TrimSpace(heading) != "Check your inbox" {
		t.Fatalf("heading = %q, want Check your inbox", heading)
	}
	typed, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("typed-email")))
	if err != nil || typed != "ann@example.com" {
		t.Fatalf("the check-your-inbox page shows %q (%v), want the address typed", typed, err)
	}

	sub, err := h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	if err != nil {
		t.Fatalf("the signup was not stored: %v", err)
	}
	if sub.Status != drip.StatusPending || sub.TimeZone != "America/New_York" || sub.Name != "Ann" {
		t.Fatalf("stored %+v, want pending, Ann, America/New_York", sub)
	}
	if sub.SendWeekday == nil || *sub.SendWeekday != time.Thursday || sub.SendHour == nil || *sub.SendHour != 7 {
		t.Fatalf("stored slot %v at %v, want Thursday at 7", sub.SendWeekday, sub.SendHour)
	}
	// The consent record keeps the page the form was on.
	if sub.ConsentFormURL != h.srv.URL+"/" || sub.ConsentUserAgent == "" {
		t.Fatalf("consent record: form URL %q, user agent %q", sub.ConsentFormURL, sub.ConsentUserAgent)
	}
}

func TestSignupPageCanBeUsedWithTheKeyboardAlone(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := browsertest.New(t, browserTimeout)
	if err := chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/")); err != nil {
		t.Fatalf("load the signup page: %v", err)
	}

	// Tab from the top of the page: the honeypot (tabindex -1) and the
	// hidden tz field must not take focus.
	want := []string{"input#email", "input#name", "select#weekday", "select#hour", "button"}
	var got []string
	for range want {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatalf("press Tab: %v", err)
		}
		el, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
			const e = document.activeElement;
			return e ? e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") : "";
		})()`))
		if err != nil {
			t.Fatalf("read the focused element: %v", err)
		}
		got = append(got, el)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Tab order = %v, want %v", got, want)
	}
	button, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.type + ":" + document.activeElement.textContent.trim()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(button, "submit:") || button == "submit:" {
		t.Fatalf("the last stop is %q, want the labelled submit button", button)
	}

	// Every input a person can see or reach has a label naming it.
	unlabelled, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`
		Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
			.filter(e => !Array.from(e.labels || []).some(l => l.textContent.trim() !== ""))
			.map(e => e.outerHTML)`))
	if err != nil {
		t.Fatalf("look for unlabelled inputs: %v", err)
	}
	if len(unlabelled) > 0 {
		t.Fatalf("inputs without a <label>: %v", unlabelled)
	}
}
