package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/browsertest"
)

func TestPreferencesPageChangesDayAndHourInABrowser(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "Europe/Berlin")
	ctx := browsertest.New(t, browserTimeout)

	if err := chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+prefs), chromedp.WaitVisible(chromedp.ID("weekday"))); err != nil {
		t.Fatalf("open the preferences page: %v", err)
	}
	tz, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("tz")))
	if err != nil || tz != "Europe/Berlin" {
		t.Fatalf("the zone list preselected %q (%v), want the reader's Europe/Berlin", tz, err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("weekday"), "0"), // Sunday
		chromedp.SetValue(chromedp.ID("hour"), "7"),
	); err != nil {
		t.Fatalf("choose Sunday 07:00: %v", err)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[action$="/schedule"] button`)))
	if err != nil || resp.Status != 200 {
		t.Fatalf("save: %v %v", resp, err)
	}
	done, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("p.done")))
	if err != nil || !strings.Contains(done, "time below") {
		t.Fatalf("confirmation %q (%v)", done, err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main > p:nth-of-type(2)")))
	if err != nil || !strings.Contains(shown, "Sunday") || !strings.Contains(shown, "07:00") {
		t.Fatalf("the page does not show the new time: %q (%v)", shown, err)
	}

	s := h.sub("ann@example.com")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	local := s.NextDueAt.In(berlin)
	if *s.SendWeekday != time.Sunday || *s.SendHour != 7 || local.Weekday() != time.Sunday || local.Hour() != 7 {
		t.Fatalf("after saving: slot %v %d, next lesson %v", *s.SendWeekday, *s.SendHour, local)
	}
}
