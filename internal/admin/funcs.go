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
