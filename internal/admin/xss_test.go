package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/store"
)

const (
	scriptPayload = `<script>alert(1)</script>`
	imgPayload    = `"><img src=x onerror=alert(1)>`
)

// live reports the payload fragments that would run if the page were
// opened: an unescaped script or img tag.
func live(page string) []string {
	var found []string
	for _, frag := range []string{"<script>alert(1)", "<img src=x onerror", "<img src=\"x\" onerror"} {
		if strings.Contains(page, frag) {
			found = append(found, frag)
		}
	}
	return found
}

func TestMarkupInLessonTextAndSubscriberNamesIsInertOnEveryAdminPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	ctx := context.Background()

	// A valid lesson 3 whose title is the img payload and whose body
	// quotes both payloads in code spans.
	src, base := h.lessonSource(3)
	src = strings.Replace(src, `title: "Your mood walks in first"`, `title: "\"><img src=x onerror=alert(1)>"`, 1)
	src = strings.Replace(src, "Nobody said why.", "Nobody said why. Never paste `"+scriptPayload+"` or `"+imgPayload+"` into a page.", 1)
	resp := h.post("/admin/lessons/3", url.Values{"source": {src}, "base": {itoa(base)}})
	if got := body(t, resp); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the lesson with markup in code spans = %d:\n%s", resp.StatusCode, got)
	}

	a := h.addSubscriber("script@example.com", scriptPayload, 3, h.clock())
	b := h.addSubscriber("img@example.com", imgPayload, 3, h.clock())
	// An SMTP reply quoting the payloads, on the dashboard and the timeline.
	h.exec(`INSERT INTO deliveries (subscriber_id, round, lesson, status, attempts, due_at, smtp_reply)
		VALUES ($1, 1, 3, 'failed', 3, $2, $3)`, b, h.clock(), "550 "+scriptPayload+imgPayload)
	h.exec(`INSERT INTO events (subscriber_id, kind, actor, detail) VALUES ($1, 'note', $2, $3)`,
		a, imgPayload, map[string]any{"reply": scriptPayload})
	if err := h.db.Audit(ctx, store.AuditEntry{At: h.clock(), Actor: scriptPayload, Action: imgPayload, SubjectType: "subscriber",
		SubjectID: &a, Before: map[string]any{"x": imgPayload}, After: map[string]any{"y": scriptPayload}}); err != nil {
		t.Fatal(err)
	}

	pages := map[string]string{}
	for _, path := range []string{
		"/admin/", "/admin/lessons", "/admin/lessons/3", "/admin/lessons/3/history",
		"/admin/subscribers", "/admin/subscribers?q=" + url.QueryEscape(imgPayload),
		"/admin/subscribers/" + itoa(a), "/admin/subscribers/" + itoa(b),
		"/admin/audit", "/admin/subscribers/import",
		"/admin/login?next=" + url.QueryEscape("/admin/"+imgPayload),
	} {
		pages["GET "+path] = h.page(path)
	}
	// Pages that show what was just posted.
	raw := strings.Replace(src, "Nobody said why.", "Nobody said why. "+scriptPayload+" "+imgPayload, 1)
	resp = h.post("/admin/lessons/3/preview", url.Values{"source": {raw}})
	pages["POST preview"] = body(t, resp)
	resp = h.post("/admin/lessons/3", url.Values{"source": {raw}})
	pages["POST an invalid save"] = body(t, resp)
	resp = h.post("/admin/lessons/3/test", url.Values{"to": {"me@example.com"}, "as": {imgPayload}})
	pages["POST a test as an unknown subscriber"] = body(t, resp)
	resp = h.post("/admin/lessons/3/preview", url.Values{"source": {raw}}, "Accept", "application/json")
	pages["POST preview as JSON"] = body(t, resp)
	pages["POST an import"] = h.upload("payload.csv", "email,name\n"+`"`+strings.ReplaceAll(imgPayload, `"`, `""`)+`",x`+"\nok@example.com,"+scriptPayload+"\n")
	pages["GET the imported subscriber"] = h.page("/admin/subscribers?q=ok%40")

	for name, got := range pages {
		if f := live(got); len(f) > 0 {
			t.Errorf("%s has live markup %q", name, f)
		}
	}
	// The payloads are shown, escaped, where they belong.
	if !strings.Contains(pages["GET /admin/subscribers/"+itoa(a)], "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the subscriber's name is not shown escaped")
	}
	if !strings.Contains(pages["GET /admin/lessons"], "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;") {
		t.Error("the lesson title is not shown escaped in the list")
	}
}

// upload posts a CSV file to the import form and returns the page.
func (h *harness) upload(name, content string) string {
	h.t.Helper()
	return h.uploadAsking(name, content, false)
}
