package admin_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/admin"
	"github.com/twostep/twostep/internal/drip"
)

// fingerprint sums up every subscriber and event, to show that nothing
// changed.
func (h *harness) fingerprint() string {
	h.t.Helper()
	var s string
	err := h.db.Pool.QueryRow(context.Background(), `
		SELECT coalesce(md5(string_agg(x::text, ',' ORDER BY x.id)), '') || '/' ||
		       (SELECT coalesce(md5(string_agg(e::text, ',' ORDER BY e.id)), '') FROM events e)
		FROM subscribers x`).Scan(&s)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func TestImportReportsBrokenRowsByLineAndImportsEverythingElse(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	file := strings.Join([]string{
		"email,name,tz,next_lesson,confirmed_at",                                          // 1
		"ann@example.com,Ann Lee,Europe/Berlin,3,2026-01-07",                              // 2 valid (a Wednesday)
		"not-an-address,Bob,UTC,1,",                                                       // 3 bad email
		"cy@example.com,Cy,,,2026-02-01",                                                  // 4 valid, default zone and lesson
		"dee@example.com,Dee,Mars/Olympus,1,",                                             // 5 bad tz
		"eve@example.com,Eve,UTC,99,",                                                     // 6 lesson out of range
		"fay@example.com,Fay,UTC",                                                         // 7 too few fields
		"gus@example.com,Gus,UTC,1,yesterday",                                             // 8 bad date
		`"hal@example.com","Hal ""the"" Second",America/New_York,52,2026-02-01T10:00:00Z`, // 9 valid, quoted
		"ida@example.com,Ida,UTC,1,2030-01-01",                                            // 10 in the future
		`"multi@example.com","two`,                                                        // 11 a quoted field over two lines…
		`lines",UTC,2,2026-02-01`,                                                         // 12 …valid
		"'=cmd@example.com,'=1+1,UTC,1,2026-02-01",                                        // 13 formula-escaped cells
		"",
	}, "\n")
	got := h.upload("subscribers.csv", file)
	for _, want := range []string{
		`<strong id="added">4</strong>`, `<strong id="invalid">7</strong>`,
		"line 3: email &#34;not-an-address&#34;", "line 5: tz &#34;Mars/Olympus&#34;", "line 6: next_lesson &#34;99&#34;",
		"line 7: has 3 fields; the header names 5", "line 8: confirmed_at &#34;yesterday&#34;", "line 10: confirmed_at",
		"line 11: name: The name contains characters that are not allowed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the import report lacks %q in\n%s", want, between(got, `<ul class="invalid">`, "</ul>"))
		}
	}
	if n := h.count(`SELECT count(*) FROM subscribers WHERE status = 'active' AND consent_method = 'import'`); n != 4 {
		t.Fatalf("%d imported subscribers, want 4", n)
	}
	ann, err := h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	berlin := berlin(t)
	if ann.Name != "Ann Lee" || ann.TimeZone != "Europe/Berlin" || ann.NextLesson != 3 || ann.ConfirmedAt == nil ||
		!ann.ConfirmedAt.Equal(time.Date(2026, 1, 7, 0, 0, 0, 0, time.UTC)) || *ann.SendWeekday != time.Wednesday ||
		*ann.SendHour != h.course.SendHour || ann.NextDueAt == nil || ann.NextDueAt.Before(h.clock()) ||
		ann.NextDueAt.In(berlin).Weekday() != time.Wednesday || ann.NextDueAt.In(berlin).Hour() != h.course.SendHour {
		t.Fatalf("ann imported as %+v", ann)
	}
	hal, err := h.db.SubscriberByEmail(context.Background(), "hal@example.com")
	if err != nil || hal.Name != `Hal "the" Second` || hal.NextLesson != 52 {
		t.Fatalf("hal imported as %+v (%v)", hal, err)
	}
	cmd, err := h.db.SubscriberByEmail(context.Background(), "=cmd@example.com")
	if err != nil || cmd.Name != "=1+1" {
		t.Fatalf("the defused row imported as %+v (%v), want the apostrophes removed", cmd, err)
	}
	if n := h.count(`SELECT count(*) FROM events WHERE kind = 'imported' AND actor = $1`, adminEmail); n != 4 {
		t.Fatalf("%d imported events, want 4", n)
	}
	if n := h.count(`SELECT count(*) FROM admin_audit WHERE action = 'subscribers.import' AND (after->>'added')::int = 4`); n != 1 {
		t.Fatal("the import is not in the audit log")
	}
}

func TestImportKeepsTheFirstOfRepeatedRowsAndLeavesKnownAddressesAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	known := h.addSubscriber("known@example.com", "Known", 9, h.clock())
	h.exec(`UPDATE subscribers SET status = 'unsubscribed' WHERE id = $1`, known)
	file := "email,name,confirmed_at\nann@example.com,First,2026-01-05\nANN@example.com,Second,2026-01-05\nknown@EXAMPLE.com,Changed,2026-01-05\nann@example.com,Third,2026-01-05\n"
	got := h.upload("dups.csv", file)
	if !strings.Contains(got, `<strong id="added">1</strong>`) || !strings.Contains(got, "2 repeated in the file") || !strings.Contains(got, "1 already subscribed") {
		t.Fatalf("report:\n%s", between(got, `<section class="card" id="result">`, "</section>"))
	}
	ann, _ := h.db.SubscriberByEmail(context.Background(), "ann@example.com")
	if ann == nil || ann.Name != "First" {
		t.Fatalf("ann = %+v, want the first row's name", ann)
	}
	k, _ := h.db.SubscriberByID(context.Background(), known)
	if k.Status != drip.StatusUnsubscribed || k.Name != "Known" || k.NextLesson != 9 {
		t.Fatalf("a known address changed: %+v", k)
	}
}

func TestImportingTheSameFileTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	file := "email,name,tz,next_lesson,confirmed_at\nann@example.com,Ann,Europe/Berlin,2,2026-01-05\nbob@example.com,Bob,,,2026-01-05\n"
	h.upload("a.csv", file)
	before := h.fingerprint()
	h.advance(time.Hour)
	got := h.upload("a.csv", file)
	if !strings.Contains(got, `<strong id="added">0</strong>`) || !strings.Contains(got, "2 already subscribed") {
		t.Fatal("the second import reports additions")
	}
	if after := h.fingerprint(); after != before {
		t.Fatal("importing the same file again changed subscribers or events")
	}
}

func TestAFileWithoutAHeaderImportsNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	var buf strings.Builder
	buf.WriteString("ann@example.com,Ann\n")
	resp := h.uploadResp("noheader.csv", buf.String())
	got := body(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, "name the columns") {
		t.Fatalf("no header = %d", resp.StatusCode)
	}
	if n := h.count(`SELECT count(*) FROM subscribers`); n != 0 {
		t.Fatal("rows were imported from a file without a header")
	}
}

func TestImportingA100000RowFileCompletes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("100,000 rows: skipped with -short")
	}
	h := newHarness(t)
	h.login()
	var b strings.Builder
	b.WriteString("email,name,tz,next_lesson,confirmed_at\n")
	zones := []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"}
	for i := range 100_000 {
		fmt.Fprintf(&b, "reader%06d@example.com,Reader %d,%s,%d,2026-0%d-0%dT08:00:00Z\n", i, i, zones[i%4], 1+i%52, 1+i%2, 1+i%7)
	}
	start := time.Now()
	got := h.upload("big.csv", b.String())
	took := time.Since(start)
	if !strings.Contains(got, `<strong id="added">100000</strong>`) || !strings.Contains(got, `<strong id="invalid">0</strong>`) {
		t.Fatalf("report:\n%s", between(got, `<section class="card" id="result">`, "</section>"))
	}
	if n := h.count(`SELECT count(*) FROM subscribers WHERE status = 'active'`); n != 100_000 {
		t.Fatalf("%d active subscribers, want 100000", n)
	}
	t.Logf("imported 100,000 rows (%.1f MB) through the browser upload in %s", float64(b.Len())/1e6, took.Round(time.Millisecond))
}

func TestExportStreamsCSVThatImportsBackAsTheSameSubscribers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	h.addSubscriber("ann@example.com", "=HYPERLINK(\"x\")", 4, h.clock())
	paused := h.addSubscriber("bob@example.com", "Bob, Jr.", 7, h.clock())
	h.exec(`UPDATE subscribers SET status = 'paused' WHERE id = $1`, paused)

	resp := h.get("/admin/subscribers/export.csv")
	got := body(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(admin.ImportColumns, ",") {
		t.Fatalf("export:\n%s", got)
	}
	if recs[1][1] != `'=HYPERLINK("x")` {
		t.Errorf("a formula-like name is exported as %q, want it defused with an apostrophe", recs[1][1])
	}
	if n := h.count(`SELECT count(*) FROM admin_audit WHERE action = 'subscribers.export' AND (after->>'rows')::int = 2`); n != 1 {
		t.Error("the export is not in the audit log")
	}
	// The filter of the list applies.
	if only := body(t, h.get("/admin/subscribers/export.csv?status=paused")); strings.Count(only, "\n") != 2 || !strings.Contains(only, "bob@example.com") {
		t.Errorf("export of paused subscribers:\n%s", only)
	}

	// The file imports into another database as the same subscribers.
	other := newHarness(t)
	other.login()
	report := other.upload("export.csv", got)
	if !strings.Contains(report, `<strong id="added">2</strong>`) || strings.Contains(report, "Columns ignored") {
		t.Fatalf("re-import report:\n%s", between(report, `<section class="card" id="result">`, "</section>"))
	}
	a, _ := other.db.SubscriberByEmail(context.Background(), "ann@example.com")
	b, _ := other.db.SubscriberByEmail(context.Background(), "bob@example.com")
	if a == nil || b == nil || a.Name != `=HYPERLINK("x")` || a.NextLesson != 4 || b.Name != "Bob, Jr." || b.NextLesson != 7 || b.TimeZone != "Europe/Berlin" ||
		a.Status != drip.StatusActive || b.Status != drip.StatusPaused {
		t.Fatalf("re-imported as %+v and %+v", a, b)
	}
}

func (h *harness) uploadResp(name, content string) *http.Response {
	h.t.Helper()
	var buf strings.Builder
	boundary := "xYzBoundary"
	fmt.Fprintf(&buf, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=%q\r\nContent-Type: text/csv\r\n\r\n%s\r\n--%s--\r\n",
		boundary, name, content, boundary)
	return h.do(h.client, "POST", "/admin/subscribers/import", strings.NewReader(buf.String()), "multipart/form-data; boundary="+boundary)
}
