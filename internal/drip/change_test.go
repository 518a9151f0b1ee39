package drip

import (
	"testing"
	"time"
)

func TestRescheduleMovesToTheNextSlotButNeverWithinSixDaysOfTheLastLesson(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	sunday7 := Slot{Weekday: time.Sunday, Hour: 7, Location: berlin}
	// Wednesday 4 March 2026, 12:00 UTC.
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	longAgo := now.Add(-30 * 24 * time.Hour)
	monday := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC) // Monday 08:00 CET
	sunday := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC) // Sunday 07:00 CET
	cases := []struct {
		name     string
		lastSent *time.Time
		want     time.Time
	}{
		{"with no lesson yet it is the next Sunday", nil, time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)},
		{"long after the last lesson it is the next Sunday", &longAgo, time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)},
		{"a week after a Sunday lesson it is the next Sunday", &sunday, time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)},
		{"a Monday lesson pushes the first Sunday, 5 days 23 hours on, a week", &monday, time.Date(2026, 3, 15, 6, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Reschedule(sunday7, c.lastSent, now)
			if !got.Equal(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			if c.lastSent != nil && got.Sub(*c.lastSent) < MinGap {
				t.Fatalf("%v is within six days of %v", got, *c.lastSent)
			}
		})
	}
	// A lesson on Saturday: Sunday next day is too soon; the Sunday after.
	sat := time.Date(2026, 3, 7, 6, 0, 0, 0, time.UTC)
	if got, want := Reschedule(sunday7, &sat, sat.Add(time.Hour)), time.Date(2026, 3, 15, 6, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("after a Saturday lesson: %v, want %v", got, want)
	}
}

func TestNextLessonNowIsAllowedOnceADay(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	if !CanSendNow(nil, now) {
		t.Fatal("first request refused")
	}
	last := now.Add(-23 * time.Hour)
	if CanSendNow(&last, now) {
		t.Fatal("second request within a day allowed")
	}
	last = now.Add(-24 * time.Hour)
	if !CanSendNow(&last, now) {
		t.Fatal("request after a day refused")
	}
}
