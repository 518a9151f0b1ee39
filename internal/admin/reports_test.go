package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/link"
	"github.com/twostep/twostep/internal/token"
)

// report records reports as a provider's webhook would, through the
// store's one path for them, as of the harness clock.
func (h *harness) report(p drip.Provider, rs ...drip.Report) {
	h.t.Helper()
	for i := range rs {
		rs[i].Provider = p
	}
	if _, err := h.db.RecordReports(context.Background(), h.clock(), drip.ReportBatch{Provider: p, Reports: rs}); err != nil {
		h.t.Fatalf("record %s reports: %v", p, err)
	}
}

// lessonMessageID is the Message-ID lesson n went out with to subscriber id.
func (h *harness) lessonMessageID(id int64, n int) string {
	h.t.Helper()
	return h.text(`SELECT message_id FROM deliveries WHERE subscriber_id = $1 AND lesson = $2`, id, n)
}

// walk follows a list's "Next page" links from path, at most maxPages,
// and returns the ids ids finds on the pages, failing on any seen twice.
func (h *harness) walk(t *testing.T, path string, ids func(page string) []string, maxPages int) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for pages := 0; path != ""; pages++ {
		if pages >= maxPages {
			t.Fatalf("more than %d pages", maxPages)
		}
		got := h.page(path)
		for _, id := range ids(got) {
			if seen[id] {
				t.Fatalf("%s listed twice", id)
			}
			seen[id] = true
		}
		path = strings.ReplaceAll(between(got, `id="next-page" href="`, `"`), "&amp;", "&")
	}
	return seen
}

var reportRow = regexp.MustCompile(`<tr id="report-(\d+)">`)

// reportIDs is the report ids a list page shows, in order.
func reportIDs(page string) []string { return groups(reportRow, page) }

// groups is the first group of each match of re in s, in order.
func groups(re *regexp.Regexp, s string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestTheReportsPageShowsEachReportsFieldsNewestFirstAndEscapesAHostileDiagnostic(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	ann := h.addSubscriber("ann@example.com", "Ann", 1, h.clock())
	if s := h.pass(); s.Sent != 1 {
		t.Fatalf("pass = %+v, want lesson 1 sent", s)
	}
	h.report(drip.ProviderGeneric, drip.Report{ID: "evt-1", Kind: drip.ReportHard, MessageID: h.lessonMessageID(ann, 1),
		Reason: `550 5.1.1 <script>alert("x")</script> user unknown`})
	h.advance(hour)
	h.report(drip.ProviderPostmark, drip.Report{ID: "evt-2", Kind: drip.ReportComplaint, Email: "stranger@example.net", Reason: "abuse"})

	got := h.page("/admin/reports")
	ids := reportIDs(got)
	if len(ids) != 2 || ids[0] <= ids[1] {
		t.Fatalf("report rows %v, want two, newest first", ids)
	}
	first, second := between(got, `<tr id="report-`+ids[0]+`">`, "</tr>"), between(got, `<tr id="report-`+ids[1]+`">`, "</tr>")
	for _, want := range []string{"postmark", ">complaint<", "stranger@example.net", "(no reader)", ">unmatched<", "abuse", "2026-03-02 10:00 UTC"} {
		if !strings.Contains(first, want) {
			t.Errorf("the complaint's row lacks %q:\n%s", want, first)
		}
	}
	for _, want := range []string{"generic", ">hard<", `<a href="/admin/subscribers/` + itoa(ann) + `">ann@example.com</a>`,
		`<td class="num">1</td>`, ">bounced<", "550 5.1.1 &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; user unknown", "2026-03-02 09:00 UTC"} {
		if !strings.Contains(second, want) {
			t.Errorf("the bounce's row lacks %q:\n%s", want, second)
		}
	}
	if strings.Contains(got, "<script>") {
		t.Error("the hostile diagnostic reached the page unescaped")
	}
	if strings.Contains(first, "/admin/subscribers/") {
		t.Error("an unmatched report links to a reader")
	}
}

func TestTheReportsPageFiltersByTypeAndProviderAndPagesWithoutGapsOrRepeats(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	var rs []drip.Report
	for i := range 70 {
		k := drip.ReportKinds[i%3] // hard, soft, complaint
		rs = append(rs, drip.Report{ID: fmt.Sprint("e", i), Kind: k, Email: fmt.Sprintf("r%02d@example.org", i)})
	}
	h.report(drip.ProviderMailgun, rs[:40]...)
	h.report(drip.ProviderSES, rs[40:]...)

	cases := []struct {
		name, query string
		want        int
	}{
		{"everything", "", 70},
		{"a type", "type=complaint", 23},
		{"a provider", "provider=ses", 30},
		{"a type and a provider", "type=hard&provider=mailgun", 14},
		{"an unknown type is ignored", "type=bogus", 70},
		{"a provider with no reports", "provider=imap", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen := h.walk(t, "/admin/reports?"+c.query, reportIDs, 5)
			if len(seen) != c.want {
				t.Fatalf("%d reports listed, want %d", len(seen), c.want)
			}
			if c.want == 0 {
				return
			}
			var where []string
			for _, kv := range strings.Split(c.query, "&") {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "type":
					if drip.ReportKind(v).Valid() {
						where = append(where, "kind = '"+v+"'")
					}
				case "provider":
					where = append(where, "provider = '"+v+"'")
				}
			}
			if len(where) > 0 {
				ids := make([]string, 0, len(seen))
				for id := range seen {
					ids = append(ids, id)
				}
				if n := h.count(`SELECT count(*) FROM reports WHERE id::text = ANY($1) AND NOT (`+strings.Join(where, " AND ")+`)`, ids); n != 0 {
					t.Errorf("%d listed reports do not match the filter", n)
				}
			}
		})
	}
}

func TestLiftingASuppressionRemovesItAndIsAuditedButReactivatesNoOneAndACrossOriginLiftChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	ann := h.addSubscriber("ann@example.com", "Ann", 1, h.clock())
	h.pass()
	h.report(drip.ProviderSendGrid, drip.Report{ID: "sg-1", Kind: drip.ReportHard, MessageID: h.lessonMessageID(ann, 1), Reason: "mailbox gone"})
	h.report(drip.ProviderGeneric, drip.Report{ID: "g-1", Kind: drip.ReportComplaint, Email: "Other_1@Example.net"})

	list := h.page("/admin/suppressions")
	for _, want := range []string{"ann@example.com", "other_1@example.net", "sendgrid report", "mailbox gone", ">hard<", ">complaint<"} {
		if !strings.Contains(list, want) {
			t.Errorf("the suppression list lacks %q", want)
		}
	}
	// A prefix search in another letter case; its _ is no wildcard.
	if got := h.page("/admin/suppressions?q=OTHER_"); !strings.Contains(got, "other_1@example.net") || strings.Contains(got, "ann@example.com") {
		t.Error("searching OTHER_ does not list exactly other_1@example.net")
	}
	if got := h.page("/admin/suppressions?q=other%25"); strings.Contains(got, "other_1@example.net") {
		t.Error("a % in the search is taken as a wildcard")
	}

	lift := url.Values{"email": {"ann@example.com"}}
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		resp := h.post("/admin/suppressions/lift", lift, hdr...)
		drain(resp)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a lift with %s: %s answered %d, want 403", hdr[0], hdr[1], resp.StatusCode)
		}
	}
	if n := h.count(`SELECT count(*) FROM suppressions WHERE email = 'ann@example.com'`); n != 1 {
		t.Fatal("a cross-origin lift removed the suppression")
	}

	resp := h.post("/admin/suppressions/lift", lift, "Origin", h.srv.URL)
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/suppressions?done=lifted" {
		t.Fatalf("lift answered %d %q, want 303 to the list", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := h.count(`SELECT count(*) FROM suppressions WHERE email = 'ann@example.com'`); n != 0 {
		t.Fatal("the lift left the suppression")
	}
	if n := h.count(`SELECT count(*) FROM suppressions`); n != 1 {
		t.Fatalf("%d suppressions left, want the other address's", n)
	}
	if st := h.text(`SELECT status FROM subscribers WHERE id = $1`, ann); st != string(drip.StatusBounced) {
		t.Errorf("after the lift the reader is %s, want still bounced", st)
	}
	reportID := h.count(`SELECT id FROM reports WHERE event_id = 'sg-1'`)
	if n := h.count(`SELECT count(*) FROM admin_audit WHERE action = 'suppression.lift' AND actor = $1 AND ip = '127.0.0.1'
		AND subject_type = 'report' AND subject_id = $2
		AND before @> '{"suppressed": true, "reason": "hard"}' AND after = '{"suppressed": false}'`, adminEmail, reportID); n != 1 {
		t.Errorf("%d audit entries for the lift with before and after, want 1", n)
	}
	if got := h.page("/admin/suppressions?done=lifted"); strings.Contains(got, "ann@example.com") || !strings.Contains(got, "No reader was reactivated") {
		t.Error("the list after the lift still shows the address or does not say what lifting did")
	}
	if audit := h.page("/admin/audit"); !strings.Contains(audit, "suppression.lift") {
		t.Error("the audit page lacks the lift")
	}

	// Lifting what is not suppressed is a clear 404 and writes nothing.
	resp = h.post("/admin/suppressions/lift", lift, "Origin", h.srv.URL)
	drain(resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("lifting again answered %d, want 404", resp.StatusCode)
	}
	if n := h.count(`SELECT count(*) FROM admin_audit WHERE action = 'suppression.lift'`); n != 1 {
		t.Errorf("%d lift audit entries after a second lift, want 1", n)
	}
}

func TestALiftedAddressCanSignUpAndGetsItsConfirmationWhileAStillSuppressedOneGetsNoMail(t *testing.T) {
	t.Parallel()
	h := behindProxy(t) // the public signup form and the admin, as serve mounts them
	h.login()
	h.report(drip.ProviderPostmark,
		drip.Report{ID: "p-1", Kind: drip.ReportComplaint, Email: "lifted@example.org"},
		drip.Report{ID: "p-2", Kind: drip.ReportHard, Email: "kept@example.org"})
	signup := func(email string) {
		t.Helper()
		resp := h.do(newClient(), "POST", "/subscribe", strings.NewReader(url.Values{"email": {email}, "tz": {"UTC"}}.Encode()),
			"application/x-www-form-urlencoded")
		drain(resp)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("signup of %s answered %d, want 303", email, resp.StatusCode)
		}
		if _, err := h.outbox().Flush(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	signup("lifted@example.org")
	signup("kept@example.org")
	if n := len(h.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails to suppressed addresses, want none", n)
	}

	resp := h.post("/admin/suppressions/lift", url.Values{"email": {"LIFTED@example.org"}}, "Origin", h.srv.URL)
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("lift answered %d, want 303", resp.StatusCode)
	}
	h.advance(hour)
	signup("lifted@example.org")
	signup("kept@example.org")
	msgs := h.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails after the lift, want lifted@example.org's confirmation only", len(msgs))
	}
	if to := msgs[0].To; len(to) != 1 || to[0] != "lifted@example.org" {
		t.Fatalf("the mail went to %v, want lifted@example.org", to)
	}
	if !strings.Contains(string(msgs[0].Raw), "http://twostep.test"+link.Prefix(token.Confirm)) {
		t.Error("the mail to the lifted address is not its confirmation")
	}
}

func TestTheDashboardCountsBouncesAndComplaintsPerLesson(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	if got := h.page("/admin/"); !strings.Contains(got, "No bounce or complaint has been reported") && !strings.Contains(got, "no bounce or complaint has been reported") {
		t.Error("the dashboard does not say that nothing was reported")
	}
	ann := h.addSubscriber("ann@example.com", "Ann", 3, h.clock())
	bob := h.addSubscriber("bob@example.com", "Bob", 3, h.clock())
	cat := h.addSubscriber("cat@example.com", "Cat", 7, h.clock())
	if s := h.pass(); s.Sent != 3 {
		t.Fatalf("pass = %+v, want 3 sent", s)
	}
	h.report(drip.ProviderSES,
		drip.Report{ID: "1", Kind: drip.ReportHard, MessageID: h.lessonMessageID(ann, 3)},
		drip.Report{ID: "2", Kind: drip.ReportComplaint, MessageID: h.lessonMessageID(bob, 3)},
		drip.Report{ID: "3", Kind: drip.ReportSoft, MessageID: h.lessonMessageID(cat, 7)},
		drip.Report{ID: "4", Kind: drip.ReportHard, Email: "nobody@example.net"})
	got := h.page("/admin/")
	table := between(got, `<table id="reports-by-lesson">`, "</table>")
	row := func(lesson string) string {
		return strings.Join(strings.Fields(between(table, `<tr data-lesson="`+lesson+`">`, "</tr>")), " ")
	}
	cases := []struct{ lesson, want string }{
		{"3", `<td>Lesson 3</td> <td class="num">1</td> <td class="num">0</td> <td class="num">1</td>`},
		{"7", `<td>Lesson 7</td> <td class="num">0</td> <td class="num">1</td> <td class="num">0</td>`},
		{"0", `<td class="num">1</td> <td class="num">0</td> <td class="num">0</td>`},
	}
	for _, c := range cases {
		if r := row(c.lesson); !strings.Contains(r, c.want) {
			t.Errorf("lesson %s's row is %q, want %q", c.lesson, r, c.want)
		}
	}
	if strings.Contains(table, `data-lesson="1"`) {
		t.Error("a lesson without reports has a row")
	}
}
