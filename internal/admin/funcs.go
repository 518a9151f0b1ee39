package admin

import (
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strings"
	"time"
)

// funcs are the helpers admin templates use. None returns template.HTML:
// everything they produce is escaped like any other value.
var funcs = template.FuncMap{
	"when":    when,
	"whenp":   whenp,
	"detail":  detail,
	"minutes": minutes,
	"add":     func(a, b int) int { return a + b },
	"f1":      func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"mid":     func(x, w float64) float64 { return x + w/2 },
	"event":   eventWords,
}

// eventNames are the timeline's event kinds in plain words, so the admin
// reads "Asked for the next lesson early" and not next_now.
var eventNames = map[string]string{
	"signup":                 "Signed up",
	"confirmed":              "Confirmed the subscription",
	"paused":                 "Paused the lessons",
	"resumed":                "Resumed the lessons",
	"next_now":               "Asked for the next lesson early",
	"went_back":              "Went back to an earlier lesson",
	"resubscribed":           "Subscribed again",
	"unsubscribed":           "Unsubscribed",
	"completed":              "Finished the course",
	"schedule_changed":       "Changed the day, hour or time zone",
	"name_changed":           "Changed their name",
	"email_change_requested": "Asked to change their address",
	"email_changed":          "Changed their address",
	"bounced":                "Mail bounced",
	"complained":             "Marked a mail as spam",
	"address_bounced":        "The address bounced",
	"delivery":               "Lesson delivery",
	"delivery_failed":        "A lesson could not be delivered",
	"report":                 "Provider report",
	"imported":               "Imported",
	"tried":                  "Tried a lesson",
	"admin.pause":            "Paused by an admin",
	"admin.resume":           "Resumed by an admin",
	"admin.move":             "Moved to another lesson by an admin",
	"admin.resend":           "Lesson resent by an admin",
	"admin.unsubscribe":      "Unsubscribed by an admin",
	"admin.retry":            "Delivery retried by an admin",
	"admin.erase":            "Erased by an admin",
}

// eventWords is an event kind in plain words; a kind without an entry
// still reads as words ("some_thing" → "Some thing").
func eventWords(kind string) string {
	if w, ok := eventNames[kind]; ok {
		return w
	}
	w := strings.NewReplacer("_", " ", ".", ": ").Replace(kind)
	if w == "" {
		return "—"
	}
	return strings.ToUpper(w[:1]) + w[1:]
}

// when formats a time for the admin: UTC, to the minute.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func whenp(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return when(*t)
}

// minutes writes a reading time: "1 min 45 s".
func minutes(d time.Duration) string {
	d = d.Round(time.Second)
	m, s := int(d.Minutes()), int(d.Seconds())%60
	if m == 0 {
		return fmt.Sprintf("%d s", s)
	}
	return fmt.Sprintf("%d min %d s", m, s)
}

// detail writes an event's or audit entry's detail as "key: value" pairs,
// sorted by key; nested maps are written as JSON.
func detail(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		var v string
		switch x := m[k].(type) {
		case string:
			v = x
		default:
			b, err := json.Marshal(x)
			if err != nil {
				v = fmt.Sprint(x)
			} else {
				v = string(b)
			}
		}
		parts = append(parts, k+": "+v)
	}
	return strings.Join(parts, "; ")
}
