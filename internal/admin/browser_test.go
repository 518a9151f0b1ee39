package admin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/browsertest"
)

// browserTimeout bounds the browser test, from starting Chromium to the
// last assertion.
const browserTimeout = 45 * time.Second

func TestInABrowserTheAdminRewritesLesson3WhileWatchingTheEmailAndFindsTheRevisionInItsHistory(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := browsertest.New(t, browserTimeout)
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Sign in.
	step("open the admin", chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/admin/")))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	step("read the location", err)
	if !strings.Contains(loc, "/admin/login") {
		t.Fatalf("the admin without a session is at %s, want the sign-in page", loc)
	}
	step("type the credentials", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
	))
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("sign-in")))
	step("sign in", err)
	if resp.Status != 200 || !strings.HasSuffix(resp.URL, "/admin/") {
		t.Fatalf("after signing in: %d %s, want the dashboard", resp.Status, resp.URL)
	}

	// Open lesson 3 from the list.
	step("open the lesson list", chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/admin/lessons")))
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`a[href="/admin/lessons/3"]`)))
	step("open lesson 3", err)
	// TextContent, not Text: the Text tab is hidden behind the HTML tab.
	text, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("preview-text"), chromedp.NodeReady))
	step("read the text preview", err)
	if !strings.Contains(text, "at Yale") {
		t.Fatalf("the text preview does not show lesson 3:\n%s", text)
	}

	// Type over "Yale" as a person would: select it, then type.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const src = document.getElementById("source");
		const at = src.value.indexOf("at Yale") + 3;
		src.focus();
		src.setSelectionRange(at, at + 4);
		return true;
	})()`))
	step("select Yale", err)
	step("type Bergen", chromedp.Do(ctx, chromedp.KeyEvent("Bergen")))

	// The preview follows, without a page load.
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("preview-text").textContent.includes("at Bergen") &&
		document.getElementById("preview-html").srcdoc.includes("at Bergen") &&
		document.getElementById("preview-state").textContent === "Preview up to date"`, chromedp.WithPollingTimeout(15*time.Second)))
	step("wait for the preview to show Bergen", err)
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById("problems").children.length`))
	step("count the problems", err)
	if problems != 0 {
		t.Fatalf("the edit shows %d problems, want none", problems)
	}

	// The Text tab shows the text part; the HTML tab the frame.
	step("open the Text tab", chromedp.Do(ctx, chromedp.Click(chromedp.ID("tab-text"))))
	visible, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("pane-text").hidden && document.getElementById("pane-html").hidden`))
	step("read the tabs", err)
	if !visible {
		t.Fatal("the Text tab does not show the text part alone")
	}

	// Save, and see it confirmed.
	resp, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("save")))
	step("save", err)
	if resp.Status != 200 || !strings.Contains(resp.URL, "/admin/lessons/3?done=saved") {
		t.Fatalf("after saving: %d %s", resp.Status, resp.URL)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".flash")))
	step("read the confirmation", err)
	if !strings.Contains(flash, "Saved as a new revision") {
		t.Fatalf("after saving the page says %q", flash)
	}

	// The history lists the admin's revision, with the change in its diff.
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`a[href="/admin/lessons/3/history"]`)))
	step("open the history", err)
	origin, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("tr.revision").dataset.origin`))
	step("read the newest revision", err)
	added, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll(".diff .add")).map(e => e.textContent).join("\n")`))
	step("read the diff", err)
	if origin != "admin" || !strings.Contains(added, "at Bergen") {
		t.Fatalf("newest revision origin %q, added lines:\n%s\nwant an admin revision adding Bergen", origin, added)
	}
	if src, _ := h.lessonSource(3); !strings.Contains(src, "at Bergen") {
		t.Fatal("the saved revision is not current in the database")
	}
}
