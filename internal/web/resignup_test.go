package web_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

// answer is everything a visitor sees of a signup's answer.
func answer(t *testing.T, r *http.Response) string {
	t.Helper()
	return r.Status + " " + r.Header.Get("Location") + " " + body(t, r)
}

func TestSigningUpAgainSendsWhatThePagesPromiseTheSameDay(t *testing.T) {
	tests := []struct {
		name   string
		status drip.Status // what the reader is when they sign up again
		want   string      // the mail they get: confirm, link or nothing
	}{
		{"a pending reader gets the confirmation again", drip.StatusPending, "confirm"},
		{"an unsubscribed reader gets a fresh confirmation", drip.StatusUnsubscribed, "confirm"},
		{"an active reader gets their preferences link", drip.StatusActive, "link"},
		{"a paused reader gets their preferences link", drip.StatusPaused, "link"},
		{"a reader who completed the course gets their preferences link", drip.StatusCompleted, "link"},
		{"a bounced address gets nothing", drip.StatusBounced, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			newcomer := answer(t, h.post("/subscribe", signup("ann@example.com", "Ann Lee", "Europe/Berlin")))
			h.flush()
			first := h.smtp.Messages()[0]
			switch tt.status {
			case drip.StatusUnsubscribed:
				h.post(link(t, first, "confirm"), nil)
				h.post(link(t, first, "unsubscribe"), nil)
			case drip.StatusActive, drip.StatusPaused, drip.StatusCompleted, drip.StatusBounced:
				h.post(link(t, first, "confirm"), nil)
				if _, err := h.db.Pool.Exec(context.Background(), `UPDATE subscribers SET status = $1 WHERE lower(email) = 'ann@example.com'`, tt.status); err != nil {
					t.Fatal(err)
				}
			}
			if got := h.sub("ann@example.com").Status; got != tt.status {
				t.Fatalf("set-up left the reader %s, want %s", got, tt.status)
			}
			h.advance(10 * time.Minute)

			again := answer(t, h.post("/subscribe", signup("ANN@example.com", "Ann Lee", "Europe/Berlin")))
			if again != newcomer {
				t.Fatalf("the answer to a %s address differs from a new one's:\n%s\nvs\n%s", tt.status, again, newcomer)
			}
			h.flush()
			msgs := h.smtp.Messages()
			if tt.want == "" {
				if len(msgs) != 1 {
					t.Fatalf("%d mails, want only the first confirmation", len(msgs))
				}
				return
			}
			if len(msgs) != 2 {
				t.Fatalf("%d mails, want the first confirmation and one more", len(msgs))
			}
			m := msgs[1]
			if m.To[0] != "ANN@example.com" && m.To[0] != "ann@example.com" {
				t.Fatalf("the second mail went to %v", m.To)
			}
			if !strings.HasPrefix(m.Header.Get("List-Unsubscribe"), "<http://twostep.test/unsubscribe/") {
				t.Errorf("the second mail has no List-Unsubscribe: %q", m.Header.Get("List-Unsubscribe"))
			}
			switch tt.want {
			case "confirm":
				if resp := h.postRedirectGet(link(t, m, "confirm"), nil); resp.StatusCode != http.StatusOK {
					t.Fatalf("the new confirmation link answered %d", resp.StatusCode)
				}
				if s := h.sub("ann@example.com"); s.Status != drip.StatusActive {
					t.Fatalf("after the new confirmation the reader is %s, want active", s.Status)
				}
			case "link":
				if !strings.HasPrefix(m.Header.Get("Subject"), "Your link to ") || strings.Contains(m.Text(), "/confirm/") {
					t.Fatalf("want the link mail, got %q:\n%s", m.Header.Get("Subject"), m.Text())
				}
				prefs := link(t, m, "preferences")
				if !strings.Contains(m.HTML(), "http://twostep.test"+prefs) {
					t.Error("the HTML part lacks the preferences link")
				}
				if resp := h.get(prefs); resp.StatusCode != http.StatusOK {
					t.Fatalf("the preferences link answered %d", resp.StatusCode)
				}
				if s := h.sub("ann@example.com"); s.Status != tt.status {
					t.Fatalf("signing up again changed the reader from %s to %s", tt.status, s.Status)
				}
			}
		})
	}
}

func TestOneAddressGetsAtMostThreeSignupMailsIn24Hours(t *testing.T) {
	tests := []struct {
		name    string
		confirm bool // the reader confirms after the first mail
	}{
		{"a pending address", false},
		{"an active reader", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			newcomer := answer(t, h.post("/subscribe", signup("ann@example.com", "", "UTC")))
			h.flush()
			if tt.confirm {
				h.post(link(t, h.smtp.Messages()[0], "confirm"), nil)
			}
			for i := range 5 {
				h.advance(time.Minute)
				if got := answer(t, h.post("/subscribe", signup("ann@example.com", "", "UTC"))); got != newcomer {
					t.Fatalf("signup %d answered differently from the first:\n%s", i+2, got)
				}
				h.flush()
			}
			if n := len(h.smtp.Messages()); n != store.SignupMailsPerDay {
				t.Fatalf("%d mails after six signups within minutes, want %d", n, store.SignupMailsPerDay)
			}
			if n := h.count(`SELECT count(*) FROM subscribers`); n != 1 {
				t.Fatalf("%d subscriber rows, want 1", n)
			}
			h.set(h.clock().Add(-5 * time.Minute).Add(store.SignupMailWindow)) // 24 h after the first signup
			h.post("/subscribe", signup("ann@example.com", "", "UTC"))
			h.flush()
			if n := len(h.smtp.Messages()); n != store.SignupMailsPerDay+1 {
				t.Fatalf("%d mails once the first left the window, want %d", n, store.SignupMailsPerDay+1)
			}
		})
	}
}

func TestALinkMailQueuedForAReaderWhoThenBouncedOrLeftIsNeverSent(t *testing.T) {
	for _, status := range []drip.Status{drip.StatusBounced, drip.StatusUnsubscribed, drip.StatusPending} {
		t.Run(string(status), func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.post("/subscribe", signup("ann@example.com", "", "UTC"))
			h.flush()
			h.post(link(t, h.smtp.Messages()[0], "confirm"), nil)
			h.post("/subscribe", signup("ann@example.com", "", "UTC"))
			if n := h.count(`SELECT count(*) FROM outbox WHERE kind = 'link' AND status = 'pending'`); n != 1 {
				t.Fatalf("%d link mails queued, want 1", n)
			}
			if _, err := h.db.Pool.Exec(context.Background(), `UPDATE subscribers SET status = $1`, status); err != nil {
				t.Fatal(err)
			}
			h.flush()
			if n := len(h.smtp.Messages()); n != 1 {
				t.Fatalf("%d mails, want only the first confirmation: a %s reader got the link mail", n, status)
			}
		})
	}
}

// consentOf is the part of a reader's row a signup may change: the
// consent record and the choices the form carried.
func consentOf(s *drip.Subscriber) string {
	slot := "default"
	if s.SendWeekday != nil && s.SendHour != nil {
		slot = s.SendWeekday.String() + " " + strconv.Itoa(*s.SendHour)
	}
	return strings.Join([]string{s.Name, s.TimeZone, slot, s.ConsentAt.UTC().Format(time.RFC3339), s.ConsentIP,
		s.ConsentUserAgent, s.ConsentFormURL}, " | ")
}

func TestSigningUpAgainLeavesTheConsentRecordAloneUntilTheAddressConfirms(t *testing.T) {
	// The test connects from 127.0.0.1, trusted as a proxy, so that each
	// signup can come "from" an address of its own.
	h := newHarness(t, harnessOpts{trusted: prefixes("127.0.0.1/32")})
	from := func(ip, agent string) []string {
		return []string{"X-Forwarded-For", ip, "User-Agent", agent, "Referer", "http://twostep.test/?from=" + ip}
	}
	h.post("/subscribe", signup("ann@example.com", "Ann Lee", "Europe/Berlin"), from("198.51.100.1", "Ann's browser")...)
	h.flush()
	h.post(link(t, h.smtp.Messages()[0], "confirm"), nil)
	h.post(link(t, h.smtp.Messages()[0], "unsubscribe"), nil)
	old := consentOf(h.sub("ann@example.com"))
	if !strings.Contains(old, "198.51.100.1") || !strings.Contains(old, "Europe/Berlin") {
		t.Fatalf("set-up: the first consent record is %s", old)
	}

	// Someone else types Ann's address, with a name, zone and slot of theirs.
	h.advance(time.Hour)
	again := signup("ann@example.com", "Mallory", "Asia/Tokyo")
	again.Set("weekday", "5")
	again.Set("hour", "6")
	resignedAt := h.clock()
	h.post("/subscribe", again, from("203.0.113.66", "another browser")...)
	if got := consentOf(h.sub("ann@example.com")); got != old {
		t.Fatalf("an unconfirmed signup rewrote the consent record:\nbefore %s\nafter  %s", old, got)
	}
	if s := h.sub("ann@example.com"); s.Status != drip.StatusUnsubscribed {
		t.Fatalf("an unconfirmed signup made the reader %s", s.Status)
	}
	h.flush()
	msgs := h.smtp.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d mails, want the first confirmation and a fresh one", len(msgs))
	}
	// Some time passes, the mail unread: still nothing of Ann's changed.
	h.advance(2 * time.Hour)
	if got := consentOf(h.sub("ann@example.com")); got != old {
		t.Fatalf("the consent record changed while the confirmation waited:\n%s", got)
	}

	// The owner of the mailbox confirms: the new signup becomes the record.
	if resp := h.postRedirectGet(link(t, msgs[1], "confirm"), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the new confirmation link answered %d", resp.StatusCode)
	}
	want := strings.Join([]string{"Mallory", "Asia/Tokyo", "Friday 6", resignedAt.UTC().Format(time.RFC3339), "203.0.113.66",
		"another browser", "http://twostep.test/?from=203.0.113.66"}, " | ")
	s := h.sub("ann@example.com")
	if got := consentOf(s); got != want || s.Status != drip.StatusActive {
		t.Fatalf("after confirming (%s) the consent record is\n%s\nwant\n%s", s.Status, got, want)
	}
}
