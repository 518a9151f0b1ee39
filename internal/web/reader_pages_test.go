package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTheTriedLinkForALessonNotYetReceivedIsA404LikeTheArchive(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, m := h.reader("ann@example.com", "UTC")
	tried := link(t, m, "tried")
	ahead := strings.TrimSuffix(tried, "/1") + "/2"
	for _, resp := range []*http.Response{h.get(ahead), h.post(ahead, nil), h.get(prefs + "/lessons/2")} {
		page := body(t, resp)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, "in your inbox yet") {
			t.Fatalf("%s %s answered %d:\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, page)
		}
		if strings.Contains(page, "Yes, I tried it") {
			t.Fatalf("%s shows a button for a lesson not received", resp.Request.URL.Path)
		}
	}
	if n := h.count(`SELECT count(*) FROM tried`); n != 0 {
		t.Fatalf("%d tries recorded for a lesson not received", n)
	}
}

func TestEveryReaderPostRedirectsSoAReloadCannotResubmit(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, m := h.reader("ann@example.com", "UTC")
	h.advance(25 * time.Hour) // "next lesson now" is once a day
	steps := []struct {
		path string
		form url.Values
		want string // on the page the redirect leads to
	}{
		{prefs + "/next", nil, "Your next lesson goes out"},
		{prefs + "/schedule", url.Values{"weekday": {"3"}, "hour": {"9"}, "tz": {"UTC"}}, "Your lessons will now come"},
		{prefs + "/name", url.Values{"name": {"Ann"}}, "Your name is updated"},
		{prefs + "/pause", url.Values{"weeks": {"1"}}, "Your lessons are paused"},
		{prefs + "/resume", nil, "your lessons are on again"},
		{prefs + "/back", url.Values{"lesson": {"1"}}, "picks up from the lesson you chose"},
		{link(t, m, "tried"), nil, "Thank you for trying it"},
		{link(t, m, "unsubscribe"), url.Values{"List-Unsubscribe": {"One-Click"}, "from": {"page"}}, "unsubscribed"},
		{prefs + "/resubscribe", nil, "back in: your lessons are on again"},
		{prefs + "/unsubscribe", nil, "unsubscribed and will get no more lessons"},
		{prefs + "/erase", url.Values{"sure": {"yes"}}, "Everything is erased"},
	}
	for _, s := range steps {
		resp := h.postRedirectGet(s.path, s.form)
		if page := body(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(page, s.want) {
			t.Fatalf("after POST %s the page is %d:\n%s", s.path, resp.StatusCode, page)
		}
	}
}

func TestTheConfirmButtonRedirectsToTheWelcomePageAndAReloadChangesNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.post("/subscribe", signup("ann@example.com", "Ann", "UTC"))
	h.flush()
	confirm := link(t, h.smtp.Messages()[0], "confirm")
	page := body(t, h.postRedirectGet(confirm, nil))
	if !regexp.MustCompile(`href="/preferences/[A-Za-z0-9_-]+"`).MatchString(page) {
		t.Fatalf("the welcome page after the redirect has no preferences link:\n%s", page)
	}
	// Before confirming, ?done=1 shows the button, never a false welcome.
	h.post("/subscribe", signup("bo@example.com", "Bo", "UTC"))
	h.flush()
	msgs := h.smtp.Messages()
	if page := body(t, h.get(link(t, msgs[len(msgs)-1], "confirm")+"?done=1")); strings.Contains(page, "/preferences/") {
		t.Fatalf("an unconfirmed reader's ?done=1 shows the welcome page:\n%s", page)
	}
	if n := h.count(`SELECT count(*) FROM events WHERE kind = 'confirmed'`); n != 1 {
		t.Fatalf("%d confirmations recorded, want 1", n)
	}
}

func TestAMailClientsOneClickUnsubscribeStillGets200WithoutARedirect(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	_, m := h.reader("ann@example.com", "UTC")
	resp := h.post(link(t, m, "unsubscribe"), url.Values{"List-Unsubscribe": {"One-Click"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click answered %d, want 200 (RFC 8058)", resp.StatusCode)
	}
	if s := h.sub("ann@example.com"); s.Status != "unsubscribed" {
		t.Fatalf("status %s after one-click", s.Status)
	}
}

func TestThePausedPageSaysWhenTheNextLessonWillCome(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC") // lesson 1: Tuesday 3 March 2026, 15:00; slot Tuesday 08:00
	page := body(t, h.postRedirectGet(prefs+"/pause", url.Values{"weeks": {"2"}}))
	// The pause ends Tuesday 17 March at 15:00, after that day's 08:00.
	if !strings.Contains(page, "It arrives Tuesday 24 March at 08:00 (UTC).") {
		t.Fatalf("the paused page does not say when the next lesson comes:\n%s", page)
	}
	page = body(t, h.postRedirectGet(prefs+"/pause", url.Values{"weeks": {"0"}}))
	if !strings.Contains(page, "once you resume") {
		t.Fatalf("a pause without an end does not say the lesson waits for resuming:\n%s", page)
	}
}

func TestTheArchiveIsNotNumberedTwice(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	page := body(t, h.get(prefs+"/lessons"))
	if strings.Contains(page, "<ol") || !strings.Contains(page, `<ul class="lessons">`) || !strings.Contains(page, "Lesson 1: ") {
		t.Fatalf("the archive numbers its list and its titles:\n%s", page)
	}
}

func TestTheThankYouPageLinksBackToTheReadersLessons(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	_, m := h.reader("ann@example.com", "UTC")
	page := body(t, h.postRedirectGet(link(t, m, "tried"), nil))
	back := regexp.MustCompile(`<a href="(/preferences/[A-Za-z0-9_-]+)/lessons" id="my-lessons">`).FindStringSubmatch(page)
	if back == nil {
		t.Fatalf("the thank-you page has no link to the reader's lessons:\n%s", page)
	}
	if resp := h.get(back[1] + "/lessons"); resp.StatusCode != http.StatusOK || !strings.Contains(body(t, resp), "Your lessons so far") {
		t.Fatalf("the link back answered %d", resp.StatusCode)
	}
}

func TestTheLessonPageLinksToTheNeighboursReceivedAndHasAnITriedThisButtonAfterTryThisWeek(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	prefs, _ := h.reader("ann@example.com", "UTC")
	h.advance(25 * time.Hour)
	h.postRedirectGet(prefs+"/next", nil)
	if s := h.pass(); s.Sent != 1 {
		t.Fatalf("lesson 2 pass: %v", s)
	}
	one := body(t, h.get(prefs+"/lessons/1"))
	if !strings.Contains(one, `href="`+prefs+`/lessons/2" rel="next"`) || strings.Contains(one, `rel="prev"`) {
		t.Fatalf("lesson 1 links to lesson 2 and nothing before it? \n%s", one)
	}
	two := body(t, h.get(prefs+"/lessons/2"))
	if !strings.Contains(two, `href="`+prefs+`/lessons/1" rel="prev"`) || strings.Contains(two, `rel="next"`) {
		t.Fatalf("lesson 2 links back to lesson 1 and not ahead to lesson 3 (not received)?\n%s", two)
	}
	// The button comes right after the "Try this week" section, before the
	// next heading.
	try, button := strings.Index(one, ">Try this week</h2>"), strings.Index(one, ">I tried this</button>")
	if try < 0 || button < try || strings.Contains(one[try:button], "<h2") {
		t.Fatalf("the I tried this button is not right after Try this week (at %d, %d):\n%s", try, button, one)
	}
	action := regexp.MustCompile(`<form method="post" action="(/tried/[A-Za-z0-9_-]+/1)" id="tried">`).FindStringSubmatch(one)
	if action == nil {
		t.Fatalf("no I tried this form for lesson 1:\n%s", one)
	}
	if page := body(t, h.postRedirectGet(action[1], nil)); !strings.Contains(page, "Thank you for trying it") {
		t.Fatalf("the button's thank-you page:\n%s", page)
	}
	if n := h.count(`SELECT count(*) FROM tried WHERE lesson = 1`); n != 1 {
		t.Fatalf("%d tries recorded for lesson 1, want 1", n)
	}
}
