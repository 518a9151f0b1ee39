package admin_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/browsertest"
)

// browserTimeout bounds the browser test, from starting Chromium to the
// last assertion.
const browserTimeout = 45 * time.Second

// browserSignedIn starts a harness and a browser signed in to its admin through
// the sign-in page. step fails the test when a browser step failed.
func browserSignedIn(t *testing.T) (h *harness, ctx context.Context, step func(what string, err error)) {
	t.Helper()
	h = newHarness(t)
	ctx = browsertest.New(t, browserTimeout)
	step = func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
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
	return h, ctx, step
}

func TestInABrowserTheAdminRewritesLesson3WhileWatchingTheEmailAndFindsTheRevisionInItsHistory(t *testing.T) {
	t.Parallel()
	h, ctx, step := browserSignedIn(t)

	// Open lesson 3 from the list.
	step("open the lesson list", chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/admin/lessons")))
	_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`a[href="/admin/lessons/3"]`)))
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
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("save")))
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

func TestInABrowserARefusedSaveShowsItsProblemsAtTheTopKeepsTheTextAndLeavingUnsavedWorkAsksFirst(t *testing.T) {
	t.Parallel()
	h, ctx, step := browserSignedIn(t)

	// Every dialog is recorded and dismissed: a beforeunload dialog kept
	// open would hold the page; dismissed, the page stays where it is.
	dialogs := make(chan page.DialogType, 8)
	go func() {
		for ev, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			dialogs <- ev.Type
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		step("read the location", err)
		return strings.TrimPrefix(loc, h.srv.URL)
	}
	// leave clicks "All lessons" and reports whether the page asked first:
	// either a dialog opens (and is dismissed, so the page stays) or the
	// list loads.
	leave := func(what string) (asked bool) {
		t.Helper()
		step(what, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`main a[href="/admin/lessons"]`))))
		for {
			select {
			case typ := <-dialogs:
				if typ != page.DialogTypeBeforeunload {
					t.Fatalf("%s: a %s dialog, want beforeunload", what, typ)
				}
				return true
			case <-ctx.Done():
				t.Fatalf("%s: neither a dialog nor the lesson list", what)
			case <-time.After(50 * time.Millisecond):
			}
			// Errors are expected while the next page replaces this one.
			if loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
				`location.pathname === "/admin/lessons" && document.readyState === "complete"`)); err == nil && loaded {
				return false
			}
		}
	}
	open3 := func() {
		t.Helper()
		step("open lesson 3", chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/admin/lessons/3")))
	}
	// typeOver selects the first old in the text and types new, as a person would.
	typeOver := func(old, new string) {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`((old) => {
			const src = document.getElementById("source");
			const at = src.value.indexOf(old);
			src.focus();
			src.setSelectionRange(at, at + old.length);
			return at >= 0;
		})(`+strconv.Quote(old)+`)`))
		step("select "+old, err)
		step("type "+new, chromedp.Do(ctx, chromedp.KeyEvent(new)))
	}

	// Nothing changed: leaving does not ask.
	open3()
	if leave("leave the untouched editor") {
		t.Fatal("leaving an editor with no changes asked for confirmation")
	}

	// An edit not saved yet: leaving asks, and staying keeps the text.
	open3()
	typeOver("## Reflect", "## Think")
	if !leave("leave with the edit unsaved") {
		t.Fatal("leaving with unsaved changes did not warn")
	}
	if loc := location(); loc != "/admin/lessons/3" {
		t.Fatalf("after staying the page is %s", loc)
	}

	// Saving it is refused: the problems are at the top, focused, above
	// the text, which is the author's own.
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("save")))
	step("save the broken text", err)
	if resp.Status != 422 {
		t.Fatalf("saving a broken lesson answered %d, want 422", resp.Status)
	}
	select {
	case typ := <-dialogs:
		t.Fatalf("saving asked first (%s dialog)", typ)
	default:
	}
	type refused struct {
		Focused, Role, Summary, Source string
		Top, Bottom, TextareaTop       float64
		Viewport                       float64
		Links                          int
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[refused](`(() => {
		const s = document.getElementById("save-problems"), src = document.getElementById("source");
		if (!s) { return {Focused: document.activeElement.id, Source: src.value}; }
		const r = s.getBoundingClientRect();
		return {Focused: document.activeElement.id, Role: s.getAttribute("role"), Summary: s.textContent, Source: src.value,
			Top: r.top, Bottom: r.bottom, TextareaTop: src.getBoundingClientRect().top, Viewport: innerHeight,
			Links: s.querySelectorAll('a[href="#source"]').length};
	})()`))
	step("read the refused page", err)
	if got.Focused != "save-problems" || got.Role != "alert" {
		t.Errorf("after the refused save the focus is on %q (summary role %q), want the problem summary, an alert", got.Focused, got.Role)
	}
	if got.Top < 0 || got.Bottom > got.Viewport || got.Bottom > got.TextareaTop {
		t.Errorf("the summary is at %.0f–%.0f of a %.0f px window, the text at %.0f: want it in view, above the text",
			got.Top, got.Bottom, got.Viewport, got.TextareaTop)
	}
	if !strings.Contains(got.Summary, "Not saved") || !strings.Contains(got.Summary, "Reflect") || got.Links == 0 {
		t.Errorf("the summary reads %q with %d links, want the Reflect problem linked to the text", got.Summary, got.Links)
	}
	if !strings.Contains(got.Source, "## Think") {
		t.Fatal("the refused save lost the author's text")
	}
	// The problem's link takes the author to the text.
	step("follow the problem's link", chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#save-problems a`))))
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
	step("read the focus", err)
	if focused != "source" {
		t.Errorf("after the problem's link the focus is on %q, want the text", focused)
	}
	// The text on the page is still not saved: leaving asks even untouched.
	if !leave("leave the refused page") {
		t.Fatal("leaving the page of a refused save did not warn")
	}

	// Fixed and saved: leaving no longer asks.
	typeOver("## Think", "## Reflect")
	typeOver("at Yale", "at Bergen")
	resp, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("save")))
	step("save the fixed text", err)
	if resp.Status != 200 || !strings.Contains(resp.URL, "done=saved") {
		t.Fatalf("saving the fixed text: %d %s", resp.Status, resp.URL)
	}
	if leave("leave after saving") {
		t.Fatal("leaving after saving asked for confirmation")
	}
}
