package admin_test

import (
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/drip"
)

// Files from other tools carry both dates and no status: the one who left
// must stay gone.
func TestAnImportedRowWithAnUnsubscribeDateIsNeverActive(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login()
	file := "email,confirmed_at,unsubscribed_at\n" +
		"ann@example.com,2026-01-02,2026-02-03\n" + // left after confirming
		"bob@example.com,2026-01-02,\n"
	report := h.uploadAsking("other-tool.csv", file, false)
	if !strings.Contains(report, `<strong id="added">2</strong>`) {
		t.Fatalf("import report:\n%s", between(report, `<section class="card" id="result">`, "</section>"))
	}
	got := h.statuses()
	if got["ann@example.com"] != drip.StatusUnsubscribed || got["bob@example.com"] != drip.StatusActive {
		t.Errorf("statuses after import: %v; want ann unsubscribed, bob active", got)
	}
	// An explicit active next to a later unsubscribe date is refused.
	report = h.uploadAsking("contradiction.csv", "email,status,confirmed_at,unsubscribed_at\ncara@example.com,active,2026-01-02,2026-02-03\n", false)
	if !strings.Contains(report, "this person left") || h.statuses()["cara@example.com"] != "" {
		t.Errorf("an active row with a later unsubscribe date was not refused:\n%s", between(report, `<section class="card" id="result">`, "</section>"))
	}
}
